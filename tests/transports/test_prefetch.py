"""``PrefetchedTransport``: one batch up front, later reads answered from it, each path read once."""

from __future__ import annotations

import pytest

from probes.errors import ConnectFailed
from probes.inventory import Host
from probes.transports.base import Reads
from probes.transports.prefetch import PrefetchedTransport
from probes.transports.replay import ReplayTransport

H = Host(name="a", address="198.18.0.1")


class WithUnreadable(ReplayTransport):
    """A recording whose ``/etc/shadowish`` exists but is not readable (as the SSH transport reports it)."""

    async def read_files(self, host, paths, *, timeout):
        got = await super().read_files(host, paths, timeout=timeout)
        return Reads(
            {p: (None if p == "/etc/shadowish" else v) for p, v in got.items()},
            access="sftp",
            unreadable={p: "not readable by whycant" for p in paths if p == "/etc/shadowish"},
        )


def recording():
    return {
        "a": {
            "files": {"/f/1": "one\n", "/f/2": "two\n", "/f/3": "three\n", "/etc/shadowish": "x"},
            "dirs": {"/d/1": ["b", "a"], "/d/2": None},
        }
    }


async def test_later_reads_come_from_the_batch_and_only_what_it_lacks_is_read():
    inner = WithUnreadable(recording())
    t = PrefetchedTransport(inner)
    await t.prefetch(H, ["/f/1", "/f/2", "/f/1", "/etc/shadowish", "/f/absent"], ["/d/1", "/d/2"], timeout=1)
    assert inner.calls == [("a", "read:/f/1,/f/2,/etc/shadowish,/f/absent"), ("a", "list:/d/1,/d/2")]

    got = await t.read_files(H, ["/f/2", "/etc/shadowish", "/f/absent"], timeout=1)
    assert dict(got) == {"/f/2": "two\n", "/etc/shadowish": None, "/f/absent": None}
    assert got.unreadable == {"/etc/shadowish": "not readable by whycant"} and got.access == "sftp"
    assert await t.list_dir(H, ["/d/2", "/d/1"], timeout=1) == {"/d/2": None, "/d/1": ["a", "b"]}
    assert len(inner.calls) == 2  # nothing read again

    got = await t.read_files(H, ["/f/1", "/f/3"], timeout=1)
    assert dict(got) == {"/f/1": "one\n", "/f/3": "three\n"} and got.unreadable == {}
    assert inner.calls[2:] == [("a", "read:/f/3")]  # only the path the batch lacked
    await t.read_files(H, ["/f/3"], timeout=1)
    assert len(inner.calls) == 3


async def test_a_failed_batch_is_raised_to_every_read_that_needed_it_without_retrying():
    inner = ReplayTransport({"a": {"unreachable": "connection refused"}})
    t = PrefetchedTransport(inner)
    await t.prefetch(H, ["/f/1", "/f/2"], ["/d/1"], timeout=1)
    for _ in range(2):
        with pytest.raises(ConnectFailed, match="connection refused"):
            await t.read_files(H, ["/f/2"], timeout=1)
        with pytest.raises(ConnectFailed, match="connection refused"):
            await t.list_dir(H, ["/d/1"], timeout=1)
    assert len(inner.calls) == 2  # the batch only
    with pytest.raises(ConnectFailed):  # a path outside the batch is read (and fails on its own)
        await t.read_files(H, ["/f/9"], timeout=1)
    assert inner.calls[-1] == ("a", "read:/f/9")


async def test_paths_must_be_a_sequence_and_commands_pass_through():
    inner = ReplayTransport({"a": {"commands": {"uname": {"stdout": "Linux\n"}}}})
    t = PrefetchedTransport(inner)
    with pytest.raises(ValueError, match="not a string"):
        await t.read_files(H, "/f/1", timeout=1)  # type: ignore[arg-type]
    res = await t.run(H, ["uname", "-s"], timeout=1)
    assert res.stdout == "Linux\n" and t.recording is inner.recording  # other attributes: the inner transport's
