"""The transport seam: run a command or read files on an inventory host.

One small interface (like httpx's transports); the asyncssh, local and replay
implementations sit side by side and probes never know which one they got.
Commands are argv lists, never shell strings; files are read without a shell
(SFTP over SSH, open() locally).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Generic, Protocol, Sequence, TypeVar, runtime_checkable

from probes.inventory import Host


@dataclass(frozen=True)
class CommandResult:
    host: str
    argv: tuple[str, ...]
    stdout: str
    stderr: str
    exit_status: int
    duration_s: float
    truncated: bool = False  # stdout was cut at the transport's output cap (the command was then stopped)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


V = TypeVar("V")


class Reads(dict[str, "V | None"], Generic[V]):
    """What ``read_files``/``list_dir`` return: ``{path: content or None}`` plus how it was read.

    ``None`` alone means "absent"; a path in ``unreadable`` exists but could not be read
    (its reason, e.g. "not readable by whycant"). ``access`` says how ("sftp", "exec", "local").
    """

    def __init__(
        self,
        items: dict[str, V | None] | None = None,
        *,
        access: str | None = None,
        unreadable: dict[str, str] | None = None,
    ):
        super().__init__(items or {})
        self.access = access
        self.unreadable: dict[str, str] = dict(unreadable or {})


@runtime_checkable
class Transport(Protocol):
    """Runs read-only commands and reads files on a host."""

    async def run(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        max_output: int | None = None,
    ) -> CommandResult:
        """Run *argv* (quoted for the remote shell by the transport) and return its output.

        Output beyond *max_output* bytes (default: the transport's own cap, ``ssh.max_output_bytes``)
        is cut at a line end, the command is stopped and the result says ``truncated``.

        Raises a ``probes.errors.TransportError`` subclass when the host cannot be
        reached, authentication fails, the host key does not match, or the command
        exceeds *timeout*. A non-zero exit status is *not* an error here.
        """
        ...

    async def read_files(self, host: Host, paths: Sequence[str], *, timeout: float) -> dict[str, str | None]:
        """Read small text files; a missing/unreadable file maps to None."""
        ...

    async def list_dir(self, host: Host, paths: Sequence[str], *, timeout: float) -> dict[str, list[str] | None]:
        """The names in each directory (sorted, no ``.``/``..``), without a shell; missing/unreadable -> None."""
        ...

    async def close(self) -> None: ...


def cut_output(data: bytes, cap: int) -> bytes:
    """*data* cut to at most *cap* bytes, at the last line end when there is one."""
    if len(data) <= cap:
        return data
    head = data[:cap]
    nl = head.rfind(b"\n")
    return head[: nl + 1] if nl >= 0 else head
