"""The lab captures of issue 10's two live cases (tests/lab/test_paste_captures.py saved them), diagnosed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.engine import diagnose, load_rules
from bot.paste import read_paste, read_pastes

LAB = Path(__file__).resolve().parent.parent / "fixtures" / "pastes" / "lab"
BEFORE, AFTER = (LAB / "netstat-s-before.txt").read_text(), (LAB / "netstat-s-after.txt").read_text()


def test_before_file_has_no_listen_queue_line():
    assert "listen queue" not in BEFORE
    assert "times the listen queue of a socket overflowed" in AFTER


def test_two_netstat_files_are_a_before_and_an_after_with_the_omitted_zero():
    evidence, notes = read_pastes([BEFORE, AFTER])
    t = evidence.target
    assert t.counters_t0["TcpExt.ListenOverflows"] == 0  # omitted by net-tools, taken as 0
    assert t.counters_delta["TcpExt.ListenOverflows"] == t.counters_t1["TcpExt.ListenOverflows"] == 4
    assert any("taken as 0" in n for n in notes)
    ids = [f.id for f in diagnose(evidence, load_rules()).findings]
    assert "listen-queue-overflow" in ids


def test_one_paste_holding_both_runs_is_split_by_its_command_lines():
    session = f"$ netstat -s\n{BEFORE}$ sleep 5; netstat -s\n{AFTER}"
    evidence, _ = read_paste(session)
    assert evidence.target.counters_delta["TcpExt.ListenOverflows"] == 4


def test_cli_before_after_flags_take_the_omitted_line_as_zero():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "analyze",
            "--before",
            str(LAB / "netstat-s-before.txt"),
            "--after",
            str(LAB / "netstat-s-after.txt"),
            "--json",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counters_delta"]["TcpExt.ListenOverflows"] == 4
    assert "listen-queue-overflow" in [f["id"] for f in out["findings"]]


def test_nstat_snapshot_with_somaxconn_2_cites_it_as_the_cause():
    evidence, _ = read_paste((LAB / "nstat-az-somaxconn-2.txt").read_text())
    diagnosis = diagnose(evidence, load_rules())
    finding = next(f for f in diagnosis.findings if f.id == "listen-queue-overflow")
    text = "\n".join(finding.evidence)
    assert "TcpExt.ListenOverflows 9 since boot (single snapshot) = 3 per passive open (Tcp.PassiveOpens 3)" in text
    assert "net.core.somaxconn=2: an accept queue of at most 2 connections, the cause of these overflows" in text
    assert finding.severity == "critical" and finding.confidence == 0.75
    assert "single snapshot" in finding.explanation
