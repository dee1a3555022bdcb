"""Structured logs: one JSON object per line with WHYCANT_LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging

from bot.logs import JsonFormatter


def test_json_formatter_keeps_extra_fields_and_exceptions():
    rec = logging.LogRecord("whycant.slack", logging.WARNING, __file__, 1, "posting to %s failed", ("C1",), None)
    rec.channel, rec.error = "C1", "channel_not_found"
    doc = json.loads(JsonFormatter().format(rec))
    assert doc["msg"] == "posting to C1 failed" and doc["level"] == "warning" and doc["logger"] == "whycant.slack"
    assert doc["channel"] == "C1" and doc["error"] == "channel_not_found"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        rec.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(JsonFormatter().format(rec))["exc"]
