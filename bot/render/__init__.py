"""Rendering: one platform-neutral reply model, a renderer per front end.

- ``message.build_message(outcome)`` -> ``Message`` (head, ranked findings, tail)
- ``blockkit.render_outcome(outcome)`` -> ``{"text", "blocks"}`` within Block Kit limits
- ``text.render_text(outcome, color=...)`` -> console text (rich ANSI or plain)
- ``escape`` -> escaping for Slack mrkdwn and terminals
"""
from bot.render.blockkit import render_home, render_outcome, render_progress
from bot.render.message import build_message
from bot.render.text import render_text

__all__ = ["build_message", "render_home", "render_outcome", "render_progress", "render_text"]
