"""Reading files on an SSH host: SFTP, or one exec channel where SFTP is missing.

Hosts without the SFTP subsystem (OpenSSH with ``Subsystem sftp`` removed, dropbear
without sftp-server) get the same files through one fixed shell script run as
``sh -c SCRIPT whycant-read PATH...``: the script text never changes, the paths are
arguments (quoted by the transport) and must pass :func:`check_path`; no chat or
config text reaches it. Contents travel base64-encoded, one record per line, so a
file's bytes can never forge a record. Parsing is pure.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re

import asyncssh

SFTP_CHUNK = 65536
MAX_FILE = 16 * 1024 * 1024  # probes read small text files; refuse to slurp more
PROC_SYS = "/proc/sys/"
# /proc/sys handlers and sysfs attributes (at most a page) hand over their whole value in one read
ONE_SHOT = (PROC_SYS, "/sys/")
# SFTP errors that mean the session, not the file, is gone
SFTP_GONE = (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection, asyncssh.SFTPBadMessage)
_PATH_RE = re.compile(r"^/[A-Za-z0-9_.@:+/-]{1,4095}$")
MARK = "@@whycant"

READ_SCRIPT = (
    "for f do "
    'if [ ! -e "$f" ]; then printf "\\n@@whycant missing %s\\n" "$f"; '
    'elif [ -d "$f" ]; then printf "\\n@@whycant notfile %s\\n" "$f"; '
    'elif [ ! -r "$f" ]; then printf "\\n@@whycant unreadable %s\\n" "$f"; '
    'elif d=$(base64 -w0 < "$f" 2>/dev/null); then printf "\\n@@whycant file %s %s\\n" "$f" "$d"; '
    'else printf "\\n@@whycant unreadable %s\\n" "$f"; fi; done'
)
LIST_SCRIPT = (
    "for d do "
    'if [ ! -e "$d" ]; then printf "\\n@@whycant missing %s\\n" "$d"; '
    'elif [ ! -d "$d" ] || [ ! -r "$d" ] || [ ! -x "$d" ]; then printf "\\n@@whycant unreadable %s\\n" "$d"; '
    'else printf "\\n@@whycant dir %s" "$d"; '
    'for e in "$d"/* "$d"/.[!.]* "$d"/..?*; do { [ -e "$e" ] || [ -L "$e" ]; } || continue; '
    'printf " %s" "$(printf %s "${e##*/}" | base64 -w0)"; done; printf "\\n"; fi; done'
)


class BadPath(ValueError):
    pass


def check_path(path: str) -> str:
    """*path* when it is an absolute path of plain characters (no ``..``), else :class:`BadPath`."""
    if not isinstance(path, str) or not _PATH_RE.match(path) or "/../" in path + "/" or "//" in path:
        raise BadPath(f"refusing to read {path!r}: only absolute paths of letters, digits and _.@:+-/ are read")
    return path


def read_argv(paths: list[str]) -> list[str]:
    return ["sh", "-c", READ_SCRIPT, "whycant-read", *(check_path(p) for p in paths)]


def list_argv(paths: list[str]) -> list[str]:
    return ["sh", "-c", LIST_SCRIPT, "whycant-list", *(check_path(p) for p in paths)]


def _records(stdout: str, wanted: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    want = set(wanted)
    for line in stdout.splitlines():
        if not line.startswith(MARK + " "):
            continue
        parts = line.split(" ")
        if len(parts) >= 3 and parts[2] in want and parts[2] not in out:
            out[parts[2]] = [parts[1], *parts[3:]]
    return out


def parse_read_output(stdout: str, paths: list[str], user: str) -> tuple[dict[str, str | None], dict[str, str]]:
    """``({path: text or None}, {path: why unreadable})`` from READ_SCRIPT's output."""
    recs = _records(stdout, paths)
    files: dict[str, str | None] = {}
    unreadable: dict[str, str] = {}
    for p in paths:
        rec = recs.get(p)
        files[p] = None
        if rec is None:
            unreadable[p] = "not read: the file-reading command's output ended early"
        elif rec[0] == "file" and len(rec) == 2:
            try:
                files[p] = base64.b64decode(rec[1], validate=True).decode("utf-8", errors="replace")
            except (binascii.Error, ValueError):
                unreadable[p] = "not read: its contents arrived damaged"
        elif rec[0] == "unreadable":
            unreadable[p] = f"not readable by {user}"
        elif rec[0] == "notfile":
            unreadable[p] = "not read: a directory"
    return files, unreadable


def parse_list_output(stdout: str, paths: list[str], user: str) -> tuple[dict[str, list[str] | None], dict[str, str]]:
    """``({dir: sorted names or None}, {dir: why unreadable})`` from LIST_SCRIPT's output."""
    recs = _records(stdout, paths)
    dirs: dict[str, list[str] | None] = {}
    unreadable: dict[str, str] = {}
    for p in paths:
        rec = recs.get(p)
        dirs[p] = None
        if rec is None:
            unreadable[p] = "not listed: the listing command's output ended early"
        elif rec[0] == "dir":
            try:
                names = [base64.b64decode(n, validate=True).decode("utf-8", "replace") for n in rec[1:] if n]
            except (binascii.Error, ValueError):
                unreadable[p] = "not listed: the listing arrived damaged"
                continue
            dirs[p] = sorted(n for n in names if n not in (".", ".."))
        elif rec[0] == "unreadable":
            unreadable[p] = f"not readable by {user}"
    return dirs, unreadable


def _sftp_refusal(e: asyncssh.SFTPError, user: str, verb: str) -> tuple[None, str | None]:
    """An SFTP failure as ``(None, None)`` when absent, else ``(None, why)``."""
    if isinstance(e, asyncssh.SFTPNoSuchFile):
        return None, None
    if isinstance(e, asyncssh.SFTPPermissionDenied):
        return None, f"not readable by {user}"
    return None, f"not {verb}: {e.reason}"


async def sftp_read(sftp: asyncssh.SFTPClient, path: str, user: str) -> tuple[str | None, str | None]:
    """``(text, None)``, ``(None, None)`` when absent, ``(None, why)`` when it exists but cannot be read."""
    try:
        f = await sftp.open(path, "rb", block_size=0)
    except SFTP_GONE:
        raise
    except asyncssh.SFTPError as e:
        return _sftp_refusal(e, user, "read")
    try:
        chunks: list[bytes] = []
        offset = 0
        # A /proc/sys handler or a sysfs attribute returns its whole value in one read (reads
        # at an offset > 0 return nothing), so a short first read there is EOF: one request fewer.
        one_shot = path.startswith(ONE_SHOT)
        while True:  # /proc files report size 0: read until EOF
            data = await f.read(SFTP_CHUNK, offset)
            if not data:
                break
            chunks.append(data if isinstance(data, bytes) else data.encode())  # opened binary: always bytes
            offset += len(data)
            if offset > MAX_FILE:
                return None, f"not read: larger than {MAX_FILE} bytes"
            if one_shot and len(data) < SFTP_CHUNK:
                break
    except SFTP_GONE:
        raise
    except asyncssh.SFTPError as e:
        return _sftp_refusal(e, user, "read")
    finally:
        with contextlib.suppress(Exception):
            await f.close()
    return b"".join(chunks).decode("utf-8", errors="replace"), None


async def sftp_list(sftp: asyncssh.SFTPClient, path: str, user: str) -> tuple[list[str] | None, str | None]:
    """Sorted names (no . and ..), or ``(None, None)`` when absent, ``(None, why)`` when unreadable."""
    try:
        names = await sftp.listdir(path)
    except SFTP_GONE:
        raise
    except asyncssh.SFTPError as e:
        return _sftp_refusal(e, user, "listed")
    return sorted(
        n for n in (x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in names) if n not in (".", "..")
    ), None
