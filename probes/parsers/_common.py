"""Helpers shared by the parsers: input sanity checks and integer parsing.

Every parser calls :func:`check_text` first, so empty output, binary junk,
HTML pages and shell/tool error messages all end in a :class:`ParseError`
that names the probe, never in an ``IndexError`` from deeper down.
"""

from __future__ import annotations

import re

from probes.errors import ParseError

# First lines that mean "the command failed", not "the output is odd".
_TOOL_ERRORS = re.compile(
    r"invalid option|unrecognized option|illegal option|unknown option|command not found|: not found"
    r"|no such file or directory|permission denied|operation not permitted|not supported"
    r"|^usage:|cannot open|applet not found|not implemented",
    re.IGNORECASE,
)
_INT = re.compile(r"[+-]?\d+\Z")


def check_text(text: object, probe: str, tool_errors: bool = True) -> str:
    """Return *text* if it looks like command output worth parsing, else raise ParseError.

    With *tool_errors* (the default) a first line such as ``netstat: invalid option -- 's'``
    or ``bash: ss: command not found`` is reported as a failed command.
    """
    if not isinstance(text, str):
        raise ParseError(probe, f"expected text, got {type(text).__name__}")
    if not text.strip():
        raise ParseError(probe, "empty output")
    if "\x00" in text:
        raise ParseError(probe, "binary data (NUL bytes), not command output")
    sample = text[:4096]
    bad = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\n\r\f\v") or c == "\ufffd")
    if bad * 10 > len(sample):
        raise ParseError(probe, "binary data (control characters), not command output")
    head = text.lstrip()[:200].lower()
    if head.startswith(("<!doctype", "<html", "<?xml", "<head", "<body")):
        raise ParseError(probe, "HTML/XML document, not command output")
    first = first_line(text)
    if tool_errors and _TOOL_ERRORS.search(first):
        raise ParseError(probe, f"command failed: {first[:160]!r}", line=1)
    return text


def first_line(text: str) -> str:
    """The first non-blank line, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def to_int(token: str, probe: str, line: int | None = None, what: str = "value") -> int:
    """Parse a decimal integer (sign allowed) or raise ParseError naming the token."""
    if _INT.match(token):
        return int(token)
    raise ParseError(probe, f"{what} {token[:40]!r} is not an integer", line=line)


def is_int(token: str) -> bool:
    return bool(_INT.match(token))
