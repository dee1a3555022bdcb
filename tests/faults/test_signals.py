"""SIGTERM and SIGINT in `ask` and `console` (issue 11 point 5): real subprocesses, real signals.

They stop within the grace period, kill what they started (local commands here, remote commands over SSH
in tests/faults/test_signals_lab.py) and mark the unfinished diagnosis `interrupted`. Before: `ask` ignored
SIGTERM's clean-up (the default action killed Python mid-diagnosis, incident left `diagnosing`, exit -15)
and SIGINT printed a KeyboardInterrupt traceback.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

import pytest

from tests.faults.helpers import WHYCANT, closed_port, env_for, write_config

GRACE = 10  # bot/interrupt.py DEFAULT_GRACE


def _wait_diagnosing(db, proc, timeout=30.0) -> int:
    """The id of the incident the child is diagnosing (polled read-only from the real SQLite file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as c:
                    row = c.execute("SELECT id FROM incidents WHERE diagnosing = 1").fetchone()
            except sqlite3.OperationalError:
                row = None
            if row:
                return row[0]
        time.sleep(0.1)
    raise AssertionError("the child never started diagnosing")


def _incident(db, incident_id):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        status, diagnosing = c.execute(
            "SELECT status, diagnosing FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        audit = [
            (a, json.loads(d or "{}"))
            for a, d in c.execute("SELECT action, detail FROM audit WHERE incident_id = ? ORDER BY id", (incident_id,))
        ]
    return status, diagnosing, audit


def _assert_stopped(proc, sig, db, incident_id, t0):
    out, err = proc.communicate(timeout=GRACE + 5)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert elapsed < GRACE, f"took {elapsed:.1f} s to stop"
    print(f"stopped {elapsed:.2f} s after {signal.Signals(sig).name}")
    assert "Traceback" not in err, err
    assert f"stopped by {signal.Signals(sig).name}" in err and f"incident {incident_id} marked interrupted" in err
    status, diagnosing, audit = _incident(db, incident_id)
    assert status == "interrupted" and diagnosing == 0
    assert audit[-1][0] == "interrupted" and audit[-1][1]["reason"] == signal.Signals(sig).name
    return out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ask_stops_on_signal_and_marks_the_incident_interrupted(tmp_path, sig):
    db = tmp_path / "w.db"
    cfg = write_config(
        tmp_path, f"sqlite:///{db}", probe={"window_seconds": 60, "connect_attempts": 2, "connect_timeout": 1}
    )
    proc = subprocess.Popen(
        [*WHYCANT, "ask", f"localhost:{closed_port()}", "--json", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path),
    )
    try:
        incident_id = _wait_diagnosing(db, proc)
        time.sleep(0.5)  # inside the counters window
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, _ = _assert_stopped(proc, sig, db, incident_id, t0)
        assert out == ""  # no half answer
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_console_stops_mid_question_and_while_idle(tmp_path):
    db = tmp_path / "w.db"
    cfg = write_config(
        tmp_path, f"sqlite:///{db}", probe={"window_seconds": 60, "connect_attempts": 2, "connect_timeout": 1}
    )
    proc = subprocess.Popen(
        [*WHYCANT, "console", "--config", str(cfg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path),
    )
    try:
        proc.stdin.write(f"localhost:{closed_port()}\n")
        proc.stdin.flush()  # stdin stays open: the console would wait for more
        incident_id = _wait_diagnosing(db, proc)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _assert_stopped(proc, signal.SIGTERM, db, incident_id, t0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    # idle at the prompt, stdin open (a pipe nobody writes to): SIGINT still ends it at once
    proc = subprocess.Popen(
        [*WHYCANT, "console", "--config", str(cfg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path),
    )
    try:
        proc.stdin.write("help\n")
        proc.stdin.flush()
        assert "Ask me why" in proc.stdout.readline()
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=GRACE + 5)
        assert proc.returncode == 130 and time.monotonic() - t0 < 5, err
        assert "Traceback" not in err and "stopped by SIGINT" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
