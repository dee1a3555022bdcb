"""Secrets on disk: warn when the config, an SSH key or the database is open to other users, and create
the files whycant owns (database, spool) 0600 (issue 11 point 6; docs/failures.md).

``exposed(paths)`` is pure apart from ``stat``; ``warn_exposed(config)`` logs one line per file at start.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger("whycant.security")

OTHERS = 0o077  # group and world bits: any of them on a secret is a warning


def exposed(paths: Iterable[tuple[str, Path]]) -> list[str]:
    """One line per *(what, path)* whose mode lets other users read or write it; missing files are skipped."""
    out = []
    for what, path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        mode = stat.S_IMODE(st.st_mode)
        if mode & OTHERS:
            who = "everyone" if mode & 0o006 else "its group"
            out.append(f"{what} {path} is open to {who} (mode {mode:04o}): chmod 600 {path}")
    return out


def sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for other backends and in-memory databases)."""
    try:
        u = make_url(database_url)
    except Exception:  # noqa: BLE001 - the config validator reports bad URLs
        return None
    db = u.database or ""
    if u.get_backend_name() != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).expanduser()


def secret_files(config: Any) -> list[tuple[str, Path]]:
    """The files holding secrets: the config file, the SSH client keys, the SQLite database."""
    base = config.base_dir()
    out: list[tuple[str, Path]] = []
    if str(config.source).startswith("/"):
        out.append(("config", Path(config.source)))
    for key in config.ssh.client_keys:
        p = Path(key).expanduser()
        out.append(("SSH key", p if p.is_absolute() else base / p))
    db = sqlite_path(config.database)
    if db is not None:
        out.append(("database", db))
    return out


def warn_exposed(config: Any) -> list[str]:
    """Log a warning for every secret file other users can read or write; returns the lines."""
    lines = exposed(secret_files(config))
    for line in lines:
        log.warning("%s", line)
    return lines


def create_private(path: Path) -> None:
    """Create *path* empty with mode 0600 if it does not exist yet (never changes an existing file)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
