"""Slack front end: Bolt app (``app``), Socket Mode runner (``socket``), HTTP mode (``http``), paced posting (``post``)."""
