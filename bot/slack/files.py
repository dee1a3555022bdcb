"""Files people attach to `@whycant analyze` (scope ``files:read``): download them as text.

Slack puts the files in the message event (``files``: id, name, mimetype, size,
``url_private``); the content is fetched from ``url_private`` with the bot token
as a bearer token. The token is only ever sent to Slack's file host
(``files.slack.com``) or to the host of the configured Web API URL (a stand-in
in tests); anything else is refused. Only text files are read, each at most
``MAX_FILE_BYTES``; every refusal is a ``BadInput`` naming the file.
"""

from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import urlsplit

import aiohttp

from bot.permissions import command_of
from bot.request import MAX_PASTE
from probes.errors import BadInput

MAX_FILE_BYTES = MAX_PASTE  # the paste limit, in bytes
MAX_FILES = 3
SLACK_FILE_HOSTS = ("files.slack.com",)
TEXT_TYPES = ("text", "shell", "bash", "csv", "log", "diff", "json", "yaml", "markdown", "plain")


def is_text(f: dict[str, Any]) -> bool:
    mimetype = str(f.get("mimetype") or "")
    return (
        mimetype.startswith("text/") or str(f.get("filetype") or "") in TEXT_TYPES or f.get("mode") == "snippet"
    )  # a Slack text snippet, whatever language it is marked as


def _name(f: dict[str, Any]) -> str:
    return str(f.get("name") or f.get("title") or f.get("id") or "file")[:80]


def check_url(url: str, api_url: str) -> str:
    """``url`` when the bot token may be sent there (Slack's file host or the Web API's host)."""
    parts = urlsplit(url)
    allowed = {*SLACK_FILE_HOSTS, urlsplit(api_url).hostname}
    if parts.scheme not in ("https", "http") or parts.hostname not in allowed:
        raise BadInput(f"the file's address ({parts.hostname or url[:40]}) is not a Slack file host")
    if parts.scheme == "http" and parts.hostname in SLACK_FILE_HOSTS:
        raise BadInput("the file's address is not https")
    return url


async def read_shared_files(
    files: Sequence[dict[str, Any]], *, token: str | None, api_url: str, timeout: float = 20.0
) -> str:
    """The text of the attached files, joined; ``BadInput`` for binary, too large or unreadable files."""
    if len(files) > MAX_FILES:
        raise BadInput(f"{len(files)} files attached; analyze reads at most {MAX_FILES} at a time")
    texts: list[str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        for f in files:
            name = _name(f)
            if not is_text(f):
                raise BadInput(
                    f"{name} is not a text file ({f.get('mimetype') or f.get('filetype') or '?'}): "
                    "attach the command output as text"
                )
            size = int(f.get("size") or 0)
            if size > MAX_FILE_BYTES:
                raise BadInput(
                    f"{name} is too large ({size:,} bytes; at most {MAX_FILE_BYTES:,}): keep only the command outputs"
                )
            url = check_url(str(f.get("url_private_download") or f.get("url_private") or ""), api_url)
            texts.append(await _download(session, url, name, token))
    return "\n".join(texts)


async def _download(session: aiohttp.ClientSession, url: str, name: str, token: str | None) -> str:
    try:
        async with session.get(url, headers={"Authorization": f"Bearer {token or ''}"}, allow_redirects=False) as r:
            if r.status != 200:
                raise BadInput(f"could not download {name}: HTTP {r.status}")
            if r.content_type == "text/html":  # Slack's sign-in page: the token lacks files:read
                raise BadInput(
                    f"could not download {name}: Slack answered with a sign-in page "
                    "(does the app have the files:read scope?)"
                )
            data = await r.content.read(MAX_FILE_BYTES + 1)
    except aiohttp.ClientError as e:
        raise BadInput(f"could not download {name}: {type(e).__name__}") from None
    if len(data) > MAX_FILE_BYTES:
        raise BadInput(f"{name} is too large (more than {MAX_FILE_BYTES:,} bytes): keep only the command outputs")
    if b"\0" in data:
        raise BadInput(f"{name} is not a text file (it holds NUL bytes)")
    return data.decode("utf-8", errors="replace")


async def paste_with_files(text: str, files: list[dict[str, Any]], *, token: str | None, api_url: str) -> str:
    """`analyze` (or nothing) + attached text files: the files' text as the paste; other text as it is."""
    if not files or (text.strip() and command_of(text) != "analyze"):
        return text
    pasted = await read_shared_files(files, token=token, api_url=api_url)
    return f"{text.strip() or 'analyze'}\n```\n{pasted}\n```"
