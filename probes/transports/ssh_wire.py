"""How whycant's SSH connections use the wire: cipher order and write coalescing (docs/ssh.md).

- :func:`cipher_list`: cheap ciphers first (AES-GCM, then ChaCha20, then CTR), asyncssh's
  defaults after them; compression stays off (set by the pool).
- :class:`CoalescingWriter`: the SSH packets written during one event-loop iteration leave in
  one ``send()`` (bench/README.md "One syscall per SSH packet": 15-20% off a fleet sweep).
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterable

import asyncssh
from asyncssh.encryption import get_default_encryption_algs, get_encryption_algs

PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)
COALESCE_WRITES = True  # False: every packet is written straight to the socket (A/B runs)
FLUSH_AT_BYTES = 262144  # a pending batch this large is written at once


def cipher_list() -> list[str]:
    """The encryption algorithms to offer, in order: the preferred ones this asyncssh supports, then its defaults."""
    supported = [a.decode() for a in get_encryption_algs()]
    defaults = [a.decode() for a in get_default_encryption_algs()]
    first = [a for a in PREFERRED_CIPHERS if a in supported]
    return first + [a for a in defaults if a not in first]


class CoalescingWriter:
    """Stands in for an SSH connection's asyncio transport: the SSH packets written during one
    event-loop iteration leave in one ``send()`` instead of one each.

    asyncssh writes every packet straight to the socket; a batch of SFTP requests (dozens of
    ``open``/``read``/``close`` issued together by ``asyncio.gather``) then costs one syscall,
    and on the server one wake-up, per packet. Bytes keep their order (every write goes
    through here); ``close``/``write_eof`` flush first; ``abort`` drops what is pending.
    """

    __slots__ = ("_buf", "_loop", "_scheduled", "_size", "_t")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._t = transport
        self._loop = loop
        self._buf: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def write(self, data: bytes) -> None:
        self._buf.append(data)
        self._size += len(data)
        if self._size >= FLUSH_AT_BYTES:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def writelines(self, lines: Iterable[bytes]) -> None:
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._buf:
            return
        data = self._buf[0] if len(self._buf) == 1 else b"".join(self._buf)
        self._buf.clear()
        self._size = 0
        if not self._t.is_closing():
            self._t.write(data)

    def write_eof(self) -> None:
        self._flush()
        self._t.write_eof()

    def close(self) -> None:
        self._flush()
        self._t.close()

    def abort(self) -> None:
        self._buf.clear()
        self._size = 0
        self._t.abort()

    def get_write_buffer_size(self) -> int:
        return self._t.get_write_buffer_size() + self._size

    def __getattr__(self, name: str) -> Any:  # everything else: the real transport
        return getattr(self._t, name)


def coalesce_writes(conn: asyncssh.SSHClientConnection) -> None:
    """Put a :class:`CoalescingWriter` in front of *conn*'s transport (after the handshake), unless
    ``COALESCE_WRITES`` is off or it is there already."""
    if not COALESCE_WRITES:
        return
    t = getattr(conn, "_transport", None)
    if t is not None and not isinstance(t, CoalescingWriter) and callable(getattr(t, "write", None)):
        conn._transport = CoalescingWriter(t, asyncio.get_running_loop())  # type: ignore[assignment]
