"""The local transport caps command output like the SSH transport does (issue 11: bounded everything)."""

from __future__ import annotations

import sys

import pytest

from probes.inventory import Host
from probes.transports.local import LocalTransport

LOCAL = Host(name="localhost", address="127.0.0.1", transport="local")


async def test_a_flood_is_cut_at_a_line_end_and_the_command_stopped():
    t = LocalTransport(max_output_bytes=64 * 1024)
    res = await t.run(LOCAL, ["yes", "0123456789"], timeout=10)  # endless without the cap
    assert res.truncated
    assert 0 < len(res.stdout) <= 64 * 1024 and res.stdout.endswith("0123456789\n")
    assert set(res.stdout.splitlines()) == {"0123456789"}


async def test_a_per_call_cap_overrides_the_default():
    t = LocalTransport(max_output_bytes=1024)
    script = "print('y' * 50000)"
    res = await t.run(LOCAL, [sys.executable, "-c", script], timeout=10, max_output=100_000)
    assert not res.truncated and res.stdout == "y" * 50000 + "\n"
    small = await t.run(LOCAL, [sys.executable, "-c", script], timeout=10)
    assert small.truncated and len(small.stdout) <= 1024


async def test_output_under_the_cap_and_stdin_pass_through_untouched():
    res = await LocalTransport().run(LOCAL, ["cat"], timeout=10, stdin="a\nb\n")
    assert (res.stdout, res.exit_status, res.truncated) == ("a\nb\n", 0, False)


@pytest.mark.parametrize("cap", [1, 7])
async def test_a_cut_without_any_line_end_keeps_the_head(cap):
    res = await LocalTransport(max_output_bytes=cap).run(LOCAL, ["printf", "abcdefghij"], timeout=10)
    assert res.truncated and res.stdout == "abcdefghij"[:cap]
