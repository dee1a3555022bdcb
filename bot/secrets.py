"""Secrets and service settings from the environment: ``NAME`` or ``NAME_FILE``.

A service manager (systemd ``LoadCredential=``, Kubernetes secrets, Docker
secrets) hands secrets over as files; ``NAME_FILE`` names such a file and its
content (one trailing newline stripped) is the value. Setting both ``NAME`` and
``NAME_FILE`` is an error, as is a ``NAME_FILE`` that cannot be read or is empty.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from probes.errors import BadInput

DATABASE_URL = "WHYCANT_DATABASE_URL"
SLACK_BOT_TOKEN = "SLACK_BOT_TOKEN"
SLACK_APP_TOKEN = "SLACK_APP_TOKEN"
SLACK_SIGNING_SECRET = "SLACK_SIGNING_SECRET"
ALERTMANAGER_TOKEN = "WHYCANT_ALERTMANAGER_TOKEN"
ALERTMANAGER_PASSWORD = "WHYCANT_ALERTMANAGER_PASSWORD"


class SecretError(BadInput):
    """A secret's environment variable or file is unusable."""


def read_secret_file(path: str | Path, what: str) -> str:
    """The content of a secret file, without its trailing newline; SecretError naming *what* otherwise."""
    try:
        value = Path(path).read_text().rstrip("\r\n")
    except OSError as e:
        raise SecretError(f"{what}: cannot read {path}: {e.strerror or e}") from None
    if not value.strip():
        raise SecretError(f"{what}: {path} is empty")
    return value


def env_or_file(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``$NAME``, or the content of the file named by ``$NAME_FILE``, or None when neither is set."""
    env = os.environ if environ is None else environ
    direct, file_ = env.get(name) or None, env.get(f"{name}_FILE") or None
    if direct and file_:
        raise SecretError(f"set {name} or {name}_FILE, not both")
    if file_:
        return read_secret_file(file_, f"{name}_FILE")
    return direct
