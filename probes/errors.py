"""Typed errors raised by transports, probes and parsers.

Every error carries the host and the probe it concerns so that a front end can
report "which probe on which host failed, and why" without a traceback.
"""

from __future__ import annotations


class WhycantError(Exception):
    """Base class for expected, user-reportable failures."""


class BadInput(WhycantError):
    """The user asked for something invalid (unknown host, bad file...): exit 2."""


class ParseError(WhycantError):
    """Output of a probe could not be understood."""

    def __init__(self, probe: str, message: str, host: str | None = None, line: int | None = None):
        self.probe, self.host, self.line, self.message = probe, host, line, message
        where = f" on {host}" if host else ""
        at = f" (line {line})" if line is not None else ""
        super().__init__(f"{probe}{where}: {message}{at}")

    def on_host(self, host: str) -> "ParseError":
        """The same error, attributed to *host*."""
        return ParseError(self.probe, self.message, host=host, line=self.line)


class UnsupportedHost(WhycantError):
    """The host is not Linux (or lacks /proc/net): probes cannot run there."""


class TransportError(WhycantError):
    """Could not run a command on a host."""

    kind = "transport"

    def __init__(self, host: str, message: str):
        self.host, self.message = host, message
        super().__init__(f"{host}: {message}")


class ConnectFailed(TransportError):
    kind = "connect"


class AuthFailed(TransportError):
    kind = "auth"


class HostKeyMismatch(TransportError):
    kind = "host-key"


class CommandTimeout(TransportError):
    kind = "timeout"


class JumpHostFailed(ConnectFailed):
    """A jump host (bastion) on the way to the target failed; the target itself was never tried."""

    kind = "jump-host"

    def __init__(self, host: str, message: str, *, jump_host: str = "", cause: str = "connect"):
        super().__init__(host, message)
        self.jump_host, self.cause = jump_host, cause
