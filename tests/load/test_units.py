"""The load-limit building blocks on their own: single flight, ask rate limits, SYN budget, channel caps."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.ratelimit import AskLimiter
from bot.singleflight import SingleFlight
from probes.inventory import Host
from probes.limits import BudgetExceeded, LimitedTransport, TargetLimiter, TokenBucket
from probes.transports.local import LocalTransport


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# ----------------------------------------------------------------- single flight
async def test_concurrent_callers_share_one_run_and_its_progress():
    sf: SingleFlight[int] = SingleFlight()
    runs = 0
    release = asyncio.Event()

    async def work(flight):
        nonlocal runs
        runs += 1
        await release.wait()
        await flight.broadcast("done", "finished", {})
        return 42

    seen: dict[int, list[str]] = {i: [] for i in range(5)}

    def progress(i):
        async def fn(stage, message, kw):
            seen[i].append(stage)

        return fn

    tasks = [asyncio.ensure_future(sf.run("k", work, on_progress=progress(i), who=f"U{i}")) for i in range(5)]
    await asyncio.sleep(0.01)
    assert sf.running("k").askers == [f"U{i}" for i in range(5)]
    release.set()
    results = await asyncio.gather(*tasks)
    assert runs == 1 and sf.started == 1 and sf.joined == 4
    assert [r for r, _ in results] == [42] * 5
    assert [j for _, j in results] == [False, True, True, True, True]
    assert all(s == ["done"] for s in seen.values())
    assert sf.running("k") is None  # a later ask starts a fresh run
    assert (await sf.run("k", work))[1] is False and runs == 2


async def test_failure_reaches_every_caller_and_different_keys_run_apart():
    sf: SingleFlight[int] = SingleFlight()

    async def boom(_b):
        await asyncio.sleep(0.01)
        raise RuntimeError("probe exploded")

    results = await asyncio.gather(*(sf.run("a", boom) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "exploded" in str(r) for r in results)

    async def ok(_b):
        await asyncio.sleep(0.01)
        return 1

    await asyncio.gather(sf.run("x", ok), sf.run("y", ok))
    assert sf.started == 3


async def test_a_cancelled_caller_leaves_the_run_to_the_others_the_last_one_cancels_it():
    sf: SingleFlight[str] = SingleFlight()
    cancelled = asyncio.Event()
    release = asyncio.Event()

    async def work(_b):
        try:
            await release.wait()
            return "evidence"
        except asyncio.CancelledError:
            cancelled.set()
            raise

    a = asyncio.ensure_future(sf.run("k", work))
    b = asyncio.ensure_future(sf.run("k", work))
    await asyncio.sleep(0.01)
    a.cancel()  # the leader goes away: the joiner still gets the answer
    await asyncio.sleep(0.01)
    assert not cancelled.is_set()
    release.set()
    assert (await b) == ("evidence", True)

    release.clear()
    c = asyncio.ensure_future(sf.run("k2", work))
    await asyncio.sleep(0.01)
    c.cancel()
    await asyncio.wait_for(cancelled.wait(), 1)
    assert sf.in_flight() == 0


# ----------------------------------------------------------------- ask rate limits
def test_per_user_limit_counts_a_sliding_minute_and_says_when_to_ask_again():
    clock = Clock()
    lim = AskLimiter(per_user=3, per_channel=0, clock=clock)
    assert [lim.check("U1", "C1") for _ in range(3)] == [None, None, None]
    r = lim.check("U1", "C1")
    assert r is not None and r.scope == "user" and r.retry_after_s == 60
    assert "asks_per_user_per_minute" in r.text and "60 s" in r.text
    assert lim.check("U2", "C1") is None  # another person is not affected
    clock.t += 30
    assert lim.check("U1", "C1").retry_after_s == 30  # refused asks do not count
    clock.t += 30.1
    assert lim.check("U1", "C1") is None


def test_per_channel_limit_and_zero_turns_limits_off():
    clock = Clock()
    lim = AskLimiter(per_user=0, per_channel=2, clock=clock)
    assert lim.check("U1", "C1") is None and lim.check("U2", "C1") is None
    r = lim.check("U3", "C1")
    assert r is not None and r.scope == "channel" and "asks_per_channel_per_minute" in r.text
    assert lim.check("U3", "C2") is None and lim.check("U3", None) is None
    off = AskLimiter(0, 0, clock=clock)
    assert all(off.check("U1", "C1") is None for _ in range(100))


# ----------------------------------------------------------------- SYN budget
def test_token_bucket_refills_continuously():
    clock = Clock()
    b = TokenBucket(60, clock=clock)
    assert b.wait_for(60) == 0
    b.take(60)
    assert b.wait_for(10) == pytest.approx(10.0)
    clock.t += 5
    assert b.wait_for(10) == pytest.approx(5.0)
    assert b.wait_for(600) == pytest.approx(55.0)  # more than the bucket: waits for a full bucket


async def test_syn_budget_is_per_target_port_and_refuses_past_the_wait():
    clock = Clock()
    lim = TargetLimiter(syn_per_minute=40, syn_wait=0, clock=clock)
    async with lim.connect_budget("db01", 5432, 40):
        pass
    with pytest.raises(BudgetExceeded) as e:
        async with lim.connect_budget("db01", 5432, 10):
            pass
    assert e.value.retry_after == pytest.approx(15.0)
    assert "syn_per_target_per_minute: 40" in str(e.value) and "db01:5432" in str(e.value)
    async with lim.connect_budget("db01", 22, 40):  # another port, another budget
        pass
    assert lim.stats.syns == {"db01:5432": 40, "db01:22": 40} and lim.stats.refused == {"db01:5432": 1}


async def test_syn_budget_waits_when_the_wait_is_short():
    lim = TargetLimiter(syn_per_minute=600, syn_wait=1.0)
    async with lim.connect_budget("db01", 5432, 600):
        pass
    t = time.monotonic()
    async with lim.connect_budget("db01", 5432, 3):  # 3 SYNs refill in 0.3 s
        pass
    assert time.monotonic() - t >= 0.25


async def test_connect_tests_per_target_run_at_most_n_at_once():
    lim = TargetLimiter(connect_tests=2)
    running = peak = 0

    async def one():
        nonlocal running, peak
        async with lim.connect_budget("db01", 5432, 1):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.02)
            running -= 1

    await asyncio.gather(*(one() for _ in range(6)))
    assert peak == 2


# ----------------------------------------------------------------- SSH channel cap
async def test_channel_cap_holds_across_callers_on_a_real_transport():
    lim = TargetLimiter(channels=2)
    t = LimitedTransport(LocalTransport(), lim)
    host = Host(name="localhost", address="127.0.0.1", transport="local")
    other = Host(name="bot2", address="127.0.0.1", transport="local")
    outs = await asyncio.gather(
        *(t.run(host, ["sleep", "0.2"], timeout=5) for _ in range(6)), t.run(other, ["true"], timeout=5)
    )
    assert all(o.exit_status == 0 for o in outs)
    assert lim.stats.max_channels == {"localhost": 2, "bot2": 1}
    await t.close()


# ----------------------------------------------------------------- batched connect tests
class CountingTransport(LocalTransport):
    """The real local transport, counting the processes it starts."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[tuple[str, ...]] = []

    async def run(self, host, argv, *, timeout, stdin=None, max_output=None):
        self.runs.append(tuple(argv))
        return await super().run(host, argv, timeout=timeout, stdin=stdin, max_output=max_output)


async def test_connect_tests_from_one_vantage_run_as_one_process_each_gets_its_own_lines():
    from probes.connect import parse_attempts
    from probes.connect_batch import ConnectBatcher

    async def on_conn(_r, w):
        w.close()

    servers = [await asyncio.start_server(on_conn, "127.0.0.1", 0) for _ in range(2)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    closed = socket_free_port()
    t = CountingTransport()
    vantage = Host(name="office1", address="127.0.0.1", transport="local")
    b = ConnectBatcher(window=0.1)
    try:
        outs = await asyncio.gather(
            *(
                b.run(t, vantage, "127.0.0.1", p, attempts=3, timeout=1, interval=0.01, budget=10)
                for p in (*ports, closed)
            )
        )
    finally:
        for s in servers:
            s.close()
    assert b.batches == 1 and len(t.runs) == 1
    assert t.runs[0][:5] == ("/usr/bin/python3", "-", "3", "1", "0.01")
    results = [[a.outcome for a in parse_attempts(o.stdout)] for o in outs]
    assert results == [["ok"] * 3, ["ok"] * 3, ["refused"] * 3]
    # chat text never reaches the command line: only validated addresses
    with pytest.raises(ValueError):
        await b.run(t, vantage, "127.0.0.1; rm -rf /", 80, attempts=1, timeout=1, interval=0, budget=5)


def socket_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_batches_form_across_collectors_transport_wrappers():
    """The limiter hands out a fresh LimitedTransport per call: batching must not depend on its identity."""
    from probes.connect_batch import ConnectBatcher

    inner = CountingTransport()
    lim = TargetLimiter()
    vantage = Host(name="office1", address="127.0.0.1", transport="local")
    b = ConnectBatcher(window=0.1)
    port = socket_free_port()
    await asyncio.gather(
        *(
            b.run(
                LimitedTransport(inner, lim), vantage, "127.0.0.1", port, attempts=1, timeout=1, interval=0, budget=10
            )
            for _ in range(4)
        )
    )
    assert b.batches == 1 and len(inner.runs) == 1


async def test_batcher_falls_back_to_the_next_interpreter_and_remembers_it(monkeypatch):
    from probes import connect_batch
    from probes.connect import parse_attempts

    monkeypatch.setattr(connect_batch, "INTERPRETERS", ("/nonexistent/python3", "python3"))
    t = CountingTransport()
    vantage = Host(name="office1", address="127.0.0.1", transport="local")
    b = connect_batch.ConnectBatcher(window=0.01)
    port = socket_free_port()
    for _ in range(2):
        out = await b.run(t, vantage, "127.0.0.1", port, attempts=1, timeout=1, interval=0, budget=10)
        assert [a.outcome for a in parse_attempts(out.stdout)] == ["refused"]
    assert [r[0] for r in t.runs] == ["/nonexistent/python3", "python3", "python3"]


async def test_group_commit_a_lone_test_goes_alone_later_ones_share_the_next_batch():
    from probes.connect_batch import ConnectBatcher

    t = CountingTransport()
    vantage = Host(name="app01", address="127.0.0.1", transport="local")
    b = ConnectBatcher(window=0.3)
    port = socket_free_port()

    def ask():
        return b.run(t, vantage, "127.0.0.1", port, attempts=1, timeout=1, interval=0, budget=10)

    first = asyncio.ensure_future(ask())
    for _ in range(100):  # a lone test starts at once: no window to wait out
        if b.batches:
            break
        await asyncio.sleep(0)
    assert b.batches == 1
    await asyncio.gather(first, ask(), ask())
    assert b.batches == 2 and [len(r) for r in t.runs] == [7, 9]  # argv: 5 + 2 per target
