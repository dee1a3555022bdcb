"""Chat text -> tokens: Slack's wrapping undone (mentions, ``<http://db01|db01>`` links, curly quotes,
zero-width characters), URLs and ``user@host`` reduced to the host, ``host:port`` / ``host:service`` split,
port numbers checked. Pure."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from probes.errors import BadInput

MAX_TEXT = 4000
EXAMPLE = 'e.g. "why can\'t I connect to db01:5432"'

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u02bc": "'",
        "\u00b4": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SLACK = re.compile(r"<([^<>]*)>")
_LEAD = "\"'([{<*~`"
_TRAIL = "?!.,;\"')]}>*~`"
SERVICE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,62}\Z")
PORT_RE = re.compile(r"(?:tcp/)?(\d+)(?:/tcp)?\Z", re.IGNORECASE)


def _unwrap_link(inner: str) -> str:
    """Slack's ``<...>`` markup to plain text: mentions vanish, links become their label."""
    if inner[:1] in ("@", "!", "#"):
        return " "
    if "|" in inner:
        return " " + inner.split("|", 1)[1] + " "
    return " " + inner + " "


def _url_to_hostport(tok: str) -> str:
    """``http://u@db01:5432/x`` -> ``db01:5432``; ``mailto:x@db01`` -> ``db01``."""
    low = tok.lower()
    if low.startswith("mailto:"):
        return tok[7:].rsplit("@", 1)[-1]
    if "://" in tok:
        try:
            netloc = urlsplit(tok).netloc
        except ValueError:
            netloc = tok.split("://", 1)[1].split("/", 1)[0]
        return netloc.rsplit("@", 1)[-1]
    return tok


def _clean(tok: str) -> str:
    tok = _url_to_hostport(tok)
    if "@" in tok:  # root@db01, x@db01 (mail-style)
        tok = tok.rsplit("@", 1)[-1]
    lead = _LEAD if "]" not in tok else _LEAD.replace("[", "")
    trail = _TRAIL if "[" not in tok else _TRAIL.replace("]", "")
    tok = tok.lstrip(lead).rstrip(trail)
    if tok.lower().endswith("'s"):
        tok = tok[:-2]
    if tok.endswith(":") and not tok.endswith("::"):
        tok = tok.rstrip(":").rstrip(trail)
    return tok


def tokenize(text: str) -> list[str]:
    """The words of a chat line, cleaned; raises BadInput for an over-long message."""
    if len(text) > MAX_TEXT:
        raise BadInput(f"the message is too long ({len(text)} characters; at most {MAX_TEXT})")
    t = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    t = _ZERO_WIDTH.sub("", t)
    t = _SLACK.sub(lambda m: _unwrap_link(m.group(1)), t)
    out = []
    for raw in re.split(r"[\s,]+", t):
        tok = _clean(raw)
        if tok and any(c.isalnum() for c in tok):
            out.append(tok)
    return out


def _port(s: str) -> int:
    if len(s) > 6:
        raise BadInput(f"port {s[:12]}… is not in 1..65535")
    p = int(s)
    if not 1 <= p <= 65535:
        raise BadInput(f"port {p} is not in 1..65535")
    return p


def as_port(tok: str) -> int | None:
    """``5432``, ``tcp/5432``, ``5432/tcp`` -> 5432; anything else -> None."""
    m = PORT_RE.match(tok)
    return _port(m.group(1)) if m else None


def split_hostport(tok: str) -> tuple[str, int | None, str | None]:
    """``db01:5432`` / ``db01:postgres`` / ``[2001:db8::1]:5432`` / bare IPv6."""
    rest: str | None = None
    m = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", tok)
    if m:
        host, rest = m.group(1), m.group(2)
    elif tok.count(":") == 1:
        host, rest = tok.split(":", 1)
    else:
        host = tok  # a name, or an IPv6 address without brackets (no port possible)
    if not host:
        raise BadInput(f"{show_token(tok)}: no host name before the port; {EXAMPLE}")
    if not rest:
        return host, None, None
    if rest.isdigit():
        return host, _port(rest), None
    if SERVICE_RE.match(rest):
        return host, None, rest
    raise BadInput(f"{show_token(rest)} after {show_token(host)}: is not a port number or a service name")


def show_token(s: str, limit: int = 64) -> str:
    """*s* made printable and cut to *limit* characters, to quote it in an error."""
    clean = "".join(c if c.isprintable() else "?" for c in s)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
