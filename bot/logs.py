"""Logging set-up: human-readable by default, one JSON object per line with
``WHYCANT_LOG_FORMAT=json`` (for log shippers); level from ``WHYCANT_LOG_LEVEL``."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone

_STD = set(vars(logging.LogRecord("x", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in vars(record).items():  # `extra=` fields
            if k not in _STD and not k.startswith("_"):
                doc[k] = v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(default_level: str = "WARNING") -> None:
    level = os.environ.get("WHYCANT_LOG_LEVEL", default_level).upper()
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("WHYCANT_LOG_FORMAT", "").lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level in logging._nameToLevel else "WARNING")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # it logs every channel at INFO
