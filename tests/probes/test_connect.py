"""Connect tests: the same classification from the in-process, python3 and bash runners."""

from __future__ import annotations

import asyncio
import socket

import pytest

from probes.connect import BASH_SCRIPT, PY_SCRIPT, connect_argv, local_connect, parse_attempts, validate_target
from probes.connect_batch import ConnectBatcher
from probes.inventory import Host
from probes.transports.local import LocalTransport

LOCAL = Host(name="localhost", address="127.0.0.1", transport="local")


@pytest.fixture
def listening_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # bound then closed: nothing listens there now
    return port


async def test_local_connect_ok_and_refused(listening_port, closed_port):
    ok = await local_connect("127.0.0.1", listening_port, 3, 1.0, 0.01)
    assert [a.outcome for a in ok] == ["ok"] * 3
    assert all(a.latency_ms >= 0 for a in ok)
    refused = await local_connect("127.0.0.1", closed_port, 2, 1.0, 0.01)
    assert [a.outcome for a in refused] == ["refused"] * 2
    assert refused[0].detail == "ECONNREFUSED"


@pytest.mark.parametrize("runner", ["python3", "bash"])
async def test_script_runners_classify_like_the_local_one(runner, listening_port, closed_port):
    t = LocalTransport()
    for port, expected in ((listening_port, "ok"), (closed_port, "refused")):
        argv = connect_argv(runner, "127.0.0.1", port, 3, 1.0, 0.01)
        res = await t.run(LOCAL, argv, timeout=10, stdin=PY_SCRIPT if runner == "python3" else None)
        attempts = parse_attempts(res.stdout)
        assert [a.outcome for a in attempts] == [expected] * 3, res.stderr


async def test_batched_script_classifies_each_target_like_the_single_one(listening_port, closed_port):
    """MULTI_PY_SCRIPT shares the attempt with PY_SCRIPT: each caller gets its own target's lines."""
    b, t = ConnectBatcher(window=0.05), LocalTransport()
    ok, refused = await asyncio.gather(
        *(
            b.run(t, LOCAL, "127.0.0.1", port, attempts=3, timeout=1.0, interval=0.01, budget=10)
            for port in (listening_port, closed_port)
        )
    )
    assert b.batches == 1
    assert [a.outcome for a in parse_attempts(ok.stdout)] == ["ok"] * 3, ok.stderr
    assert [(a.outcome, a.detail) for a in parse_attempts(refused.stdout)] == [("refused", "ECONNREFUSED")] * 3


def test_bash_script_is_fixed_text_and_arguments_are_validated():
    argv = connect_argv("bash", "198.18.0.10", 5432, 10, 2, 0.1)
    assert argv[:3] == ["bash", "-c", BASH_SCRIPT]
    assert argv[4:] == ["198.18.0.10", "5432", "10", "2", "0.1"]
    for bad in ("db01", "127.0.0.1; rm -rf /", "$(reboot)", "1.2.3.4 5", ""):
        with pytest.raises(ValueError):
            validate_target(bad, 22)
    with pytest.raises(ValueError):
        validate_target("127.0.0.1", 70000)


def test_parse_attempts_ignores_junk_lines():
    out = 'motd banner\n{"outcome": "ok", "latency_ms": 1.5, "detail": null}\n{broken\n{"outcome": "nope"}\n'
    attempts = parse_attempts(out)
    assert len(attempts) == 1 and attempts[0].outcome == "ok"


async def test_attempts_overlap_so_timeouts_do_not_add_up(listening_port):
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await local_connect("127.0.0.1", listening_port, 10, 2.0, 0.05)
    assert loop.time() - t0 < 2.0  # 10 attempts spaced 50 ms apart, not 10 x timeout


class _NoPython(LocalTransport):
    """This machine, minus python3: as on a minimal vantage host."""

    async def run(self, host, argv, *, timeout, stdin=None, max_output=None):
        if argv[0] == "python3":
            from probes.transports.base import CommandResult

            return CommandResult(host.name, tuple(argv), "", "sh: python3: not found", 127, 0.0)
        return await super().run(host, argv, timeout=timeout, stdin=stdin, max_output=max_output)


async def test_vantage_without_python_falls_back_to_bash(listening_port, closed_port):
    from probes.collect import Collector, ProbeSettings, TransportSet, VantagePoint

    vantage = Host(name="minimal", address="127.0.0.1", transport="ssh")
    c = Collector(
        TransportSet(overrides={"minimal": _NoPython()}),
        ProbeSettings(connect_attempts=3, connect_timeout=1, connect_interval=0.01),
    )
    ok = await c.connect_from(VantagePoint("minimal", vantage), "127.0.0.1", listening_port)
    refused = await c.connect_from(VantagePoint("minimal", vantage), "127.0.0.1", closed_port)
    assert ok.runner == refused.runner == "bash"
    assert ok.summary()["ok"] == 3 and refused.summary()["refused"] == 3
