"""ssh_wire: the cipher order offered, and the write coalescer over a real socket."""

from __future__ import annotations

import asyncio
import socket

from probes.transports.ssh_wire import PREFERRED_CIPHERS, CoalescingWriter, cipher_list


def test_cipher_list_puts_the_cheap_ciphers_first_without_repeats():
    ciphers = cipher_list()
    assert ciphers[0] == PREFERRED_CIPHERS[0]
    assert len(ciphers) == len(set(ciphers))
    assert ciphers.index("aes128-gcm@openssh.com") < ciphers.index("aes256-ctr")


async def test_writes_of_one_loop_iteration_leave_together_in_order_and_close_flushes():
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    w = CoalescingWriter(transport, loop)  # type: ignore[arg-type]
    w.write(b"one ")
    w.writelines([b"two ", b"three "])
    assert w.get_write_buffer_size() == len(b"one two three ")  # held until the loop turns
    theirs.setblocking(False)
    await asyncio.sleep(0)
    assert theirs.recv(100) == b"one two three "
    w.write(b"last")
    w.close()  # flushes what is pending before closing
    await asyncio.sleep(0.05)
    got = b""
    while chunk := theirs.recv(100):
        got += chunk
    assert got == b"last"
    assert w.is_closing()  # anything else is the real transport's
    theirs.close()
