"""The two live cases of issue 10, reproduced in the lab and diagnosed from what a person would paste.

(a) ``netstat -s`` before and after an accept-queue overflow, in a fresh namespace where the
    before-run has no listen-queue line at all (net-tools omits zero counters): the overflow is found.
(b) one ``nstat -az`` snapshot plus ``sysctl net.core.somaxconn`` from a host with somaxconn 2 whose
    accept queue overflowed a few times against a few passive opens: listen-queue-overflow, somaxconn cited.

Each test runs on its own fresh host (a new network namespace, so its counters start at zero).
``WHYCANT_SAVE_CAPTURES=1`` rewrites the saved captures in tests/fixtures/pastes/lab/, which
tests/pastes/test_lab_captures.py diagnoses on machines without the lab.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.engine import diagnose, load_rules
from bot.paste import read_paste

pytestmark = pytest.mark.lab

PORT = 8080
CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pastes" / "lab"
SAVE = os.environ.get("WHYCANT_SAVE_CAPTURES") == "1"


@pytest.fixture
def fresh_host(clean_lab, request):
    """A new namespace host (no sshd needed: the paste is taken with `ip netns exec`).

    Each test gets its own address too: a reused one would meet a stale neighbour entry in loadgen.
    """
    octet = {"test_netstat_s_before_after_with_omitted_zero_line": 201}.get(request.node.name, 202)
    name = f"paste{octet}"
    clean_lab.add_host(name, octet, sshd=False)
    try:
        yield name
    finally:
        clean_lab.reset()
        clean_lab.remove_host(name)


def _save(name: str, text: str) -> None:
    if SAVE:
        CAPTURES.mkdir(parents=True, exist_ok=True)
        (CAPTURES / name).write_text(text)


def _overflow(lab, host: str, attempts: int) -> list[str]:
    """somaxconn 2, a listener that never accepts, its queue pre-filled; then *attempts* connects (all time out)."""
    prefill = lab.accept_queue_overflow(host, PORT, backlog=2)
    assert prefill == {"ok": 3}
    return [lab.try_connect(v, host, PORT, timeout=0.4) for v in (["office1", "app01"] * attempts)[:attempts]]


def test_netstat_s_before_after_with_omitted_zero_line(clean_lab, fresh_host, tmp_path):
    lab, host = clean_lab, fresh_host
    before = lab.exec(host, "netstat", "-s").stdout
    assert "listen queue" not in before and "LISTEN sockets" not in before  # net-tools omits the zero counters
    results = _overflow(lab, host, 4)
    after = lab.exec(host, "netstat", "-s").stdout
    assert results == ["timeout"] * 4
    m = re.search(r"(\d+) times the listen queue of a socket overflowed", after)
    assert m is not None, after
    overflowed = int(m.group(1))
    assert overflowed == lab.nstat(host)["TcpExt.ListenOverflows"]  # netstat -s printed the kernel's counter
    _save("netstat-s-before.txt", before)
    _save("netstat-s-after.txt", after)

    b, a = tmp_path / "before.txt", tmp_path / "after.txt"
    b.write_text(before)
    a.write_text(after)
    for args in ([str(b), str(a)], ["--before", str(b), "--after", str(a)]):
        r = subprocess.run(
            [sys.executable, "-m", "bot.cli", "analyze", *args, "--port", str(PORT), "--json"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        ids = [f["id"] for f in out["findings"]]
        assert "listen-queue-overflow" in ids, (args, ids)
        assert out["counters_delta"]["TcpExt.ListenOverflows"] == overflowed >= 4


def test_nstat_az_snapshot_with_somaxconn_2(clean_lab, fresh_host):
    lab, host = clean_lab, fresh_host
    results = _overflow(lab, host, 9)
    assert results == ["timeout"] * 9
    history = lab.dir / f"{host}.nstat-history"  # keep nstat's history file out of /tmp
    nstat = lab.exec(host, "env", f"NSTAT_HISTORY={history}", "nstat", "-az").stdout
    somaxconn = lab.exec(host, "sysctl", "net.core.somaxconn").stdout
    paste = f"root@{host}:~# nstat -az\n{nstat}root@{host}:~# sysctl net.core.somaxconn\n{somaxconn}"
    _save("nstat-az-somaxconn-2.txt", paste)

    evidence, notes = read_paste(paste, host=host)
    counters = evidence.target.counters
    assert counters["TcpExt.ListenOverflows"] >= 9 and counters["Tcp.PassiveOpens"] <= 5
    assert evidence.target.sysctls["net.core.somaxconn"] == 2
    assert not any(n.startswith("ignored") for n in notes), notes
    finding = next(f for f in diagnose(evidence, load_rules()).findings if f.id == "listen-queue-overflow")
    text = "\n".join(finding.evidence)
    assert "net.core.somaxconn=2: an accept queue of at most 2 connections, the cause" in text
    assert "per passive open" in text and "single snapshot" in text
    assert finding.confidence < 0.9  # a snapshot, not a delta around our own SYNs
