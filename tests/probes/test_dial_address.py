"""What a connect test dials: DNS names resolved under a resolver the test controls
(never real DNS), the target's self-test on its listen address, [IPv6]:port text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from probes.dial_address import ResolveFailed, resolve_address, self_dial_address
from probes.evidence import Listener
from probes.hostport import format_hostport
from tests.resolver import resolver_unavailable_reason, with_hosts


def li(addr: str, port: int = 5432) -> Listener:
    return Listener(local_address=addr, port=port, recv_q=0, send_q=128, family="inet6" if ":" in addr else "inet")


@pytest.mark.parametrize(
    ("listeners", "own", "expected"),
    [
        ([], [], "127.0.0.1"),  # nothing listens: loopback, refused (the truth)
        ([li("0.0.0.0")], ["198.18.0.10"], "127.0.0.1"),
        ([li("*")], [], "127.0.0.1"),
        ([li("::")], [], "::1"),
        ([li("::"), li("0.0.0.0")], [], "127.0.0.1"),
        ([li("127.0.0.1")], ["198.18.0.10"], "127.0.0.1"),
        ([li("::1")], [], "::1"),
        ([li("198.18.0.10")], ["198.18.0.10"], "198.18.0.10"),  # bound to its own address
        ([li("fd00::10")], [], "fd00::10"),
        ([li("198.18.1.10"), li("198.18.0.10")], ["198.18.0.10"], "198.18.0.10"),  # the one vantages dial
        ([li("198.18.1.10"), li("198.18.0.10")], ["db01.test"], "198.18.1.10"),
        ([li("0.0.0.0", port=22)], [], "127.0.0.1"),  # another port does not count
        ([li("198.18.0.10", port=22)], [], "127.0.0.1"),
    ],
)
def test_self_dial_address(listeners: list[Listener], own: list[str], expected: str):
    assert self_dial_address(listeners, 5432, own) == expected


@pytest.mark.parametrize(
    ("addr", "port", "text"),
    [
        ("198.18.0.10", 5432, "198.18.0.10:5432"),
        ("fd00::10", 5432, "[fd00::10]:5432"),
        ("[fd00::10]", 80, "[fd00::10]:80"),
        ("[fd00::10]", None, "fd00::10"),
        ("db01", 22, "db01:22"),
        ("db01", None, "db01"),
    ],
)
def test_format_hostport(addr: str, port: int | None, text: str):
    assert format_hostport(addr, port) == text


async def test_literals_are_not_looked_up():
    assert await resolve_address("198.18.0.10") == "198.18.0.10"
    assert await resolve_address("[fd00::1]") == "fd00::1"
    assert await resolve_address("fd00:0::1") == "fd00::1"


RESOLVE = """
import asyncio, json, sys
from probes.dial_address import ResolveFailed, resolve_address
async def main():
    out = {}
    for name in sys.argv[1:]:
        try:
            out[name] = await resolve_address(name, 2)
        except ResolveFailed as e:
            out[name] = "ERROR " + str(e)
    print(json.dumps(out))
asyncio.run(main())
"""


@pytest.mark.skipif(resolver_unavailable_reason() is not None, reason=str(resolver_unavailable_reason()))
def test_resolve_names_from_a_controlled_hosts_file(tmp_path: Path):
    prefix = with_hosts(tmp_path, {"db01.test": "198.18.7.10", "v6.test": "fd00::7"})
    r = subprocess.run(
        [*prefix, sys.executable, "-c", RESOLVE, "db01.test", "v6.test", "ghost.invalid"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["db01.test"] == "198.18.7.10"
    assert got["v6.test"] == "fd00::7"
    assert got["ghost.invalid"].startswith("ERROR cannot resolve ghost.invalid: ")


def test_resolve_failed_message():
    e = ResolveFailed("ghost.invalid", "Name or service not known")
    assert str(e) == "cannot resolve ghost.invalid: Name or service not known" and e.kind == "dns"
