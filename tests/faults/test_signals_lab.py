"""SIGTERM to `ask` kills what it started on remote hosts (issue 11 point 5), on real lab hosts (real sshd).

The connect test from the `office` vantage (office1) to db01 runs as `python3 -` over SSH; nftables on db01
drops office1's SYNs, so that remote script would run for ~18 s. `ask` gets SIGTERM while it runs: it must
exit 143 within the grace period, leave no connect script alive in office1's (or db01's) namespace, and mark
the incident interrupted. Before: SIGTERM's default action killed `ask` at once; sshd kept the remote
script running to its end (no pty) and the incident stayed `diagnosing`.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.faults.helpers import WHYCANT, env_for
from tests.faults.test_signals import GRACE, _incident, _wait_diagnosing

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PORT = 5432


def _connect_scripts(lab, host: str) -> list[int]:
    """PIDs of whycant's connect scripts running in *host*'s namespace (this lab's only)."""
    out = []
    for pid in lab.netns_pids(host):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # `python3 - ADDR PORT ...`, possibly through a version manager's shim (`bash .../pyenv-exec python3 -`)
        if any(a.rsplit(b"/", 1)[-1] == b"python3" for a in argv[:3]) and b"-" in argv and str(PORT).encode() in argv:
            out.append(pid)
    return out


def test_sigterm_kills_the_remote_connect_test_and_marks_interrupted(clean_lab, tmp_path):
    lab = clean_lab
    lab.nft_drop_from("db01", "office1", PORT)
    cfg = lab.whycant_config(command_timeout=60)
    cfg.update(
        database=f"sqlite:///{tmp_path}/w.db",
        spool_dir=str(tmp_path / "spool"),
        probe={"window_seconds": 20, "connect_attempts": 20, "connect_timeout": 8, "connect_interval": 0.5},
    )
    path = tmp_path / "whycant.yaml"
    path.write_text(yaml.safe_dump(cfg))
    path.chmod(0o600)
    db = tmp_path / "w.db"
    proc = subprocess.Popen(
        [*WHYCANT, "ask", f"db01:{PORT} from office", "--json", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path),
    )
    try:
        incident_id = _wait_diagnosing(db, proc)
        deadline = time.monotonic() + 20
        while not _connect_scripts(lab, "office1"):
            assert time.monotonic() < deadline and proc.poll() is None, "the remote connect test never started"
            time.sleep(0.1)
        remote = _connect_scripts(lab, "office1")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=GRACE + 5)
        stopped_in = time.monotonic() - t0
        assert proc.returncode == 143, err
        assert stopped_in < GRACE, f"{stopped_in:.1f} s"
        assert f"incident {incident_id} marked interrupted" in err and "Traceback" not in err, err
        # nothing it started lives on (the kill went over SSH before ask exited)
        assert _connect_scripts(lab, "office1") == [], f"remote connect test {remote} still running"
        assert _connect_scripts(lab, "db01") == []
        status, diagnosing, audit = _incident(db, incident_id)
        assert status == "interrupted" and diagnosing == 0 and audit[-1][1]["reason"] == "SIGTERM"
        print(f"ask stopped {stopped_in:.2f} s after SIGTERM; remote {remote} killed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
