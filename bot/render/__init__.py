"""Rendering: one platform-neutral reply model, a renderer per front end.

- ``build.build_message(outcome)`` -> ``message.Message`` (head, ranked findings, tail), built by
  ``diagnosis``, ``incidents`` and ``drift``
- ``blockkit.render_outcome(outcome)`` -> ``{"text", "blocks"}`` within Block Kit limits
- ``text.render_text(outcome, color=...)`` -> console text (rich ANSI or plain)
- ``escape`` -> escaping for Slack mrkdwn and terminals
"""

from bot.render.blockkit import render_home, render_outcome, render_progress
from bot.render.build import build_message
from bot.render.text import render_text

__all__ = ["build_message", "render_home", "render_outcome", "render_progress", "render_text"]
