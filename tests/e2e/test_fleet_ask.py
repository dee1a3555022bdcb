"""`whycant ask --json` and `whycant drift --json` on the production-like fleet (issue 9):
a reproduced failure on a host behind the bastion and on hosts without SFTP gets the right
finding, with counters read and no target-ssh-unreachable; drift reports every reachable host
and names every unreachable one with the real reason (the bastion being down)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

pytestmark = [pytest.mark.lab]

WHYCANT = [sys.executable, "-m", "bot.cli"]


@pytest.fixture
def cli(clean_fleet, tmp_path):
    cfg = clean_fleet.whycant_config()
    cfg["database"] = f"sqlite:///{tmp_path}/w.db"
    path = tmp_path / "whycant.yaml"
    path.write_text(yaml.safe_dump(cfg))

    def run(*args: str, ok: tuple[int, ...] = (0,)) -> dict:
        r = subprocess.run(
            [*WHYCANT, *args, "--json", "--config", str(path)], capture_output=True, text=True, timeout=120
        )
        assert r.returncode in ok, (r.returncode, r.stderr)
        return json.loads(r.stdout)

    return run


def ids(out: dict) -> list[str]:
    return [f["id"] for f in out["findings"]]


@pytest.mark.parametrize("host", ["db07", "nosftp01", "drop01"])
def test_listen_queue_overflow_behind_bastion_and_without_sftp(clean_fleet, cli, host):
    clean_fleet.accept_queue_overflow(host, 5432, backlog=2)
    vantage = "dmz" if host == "db07" else "bot"
    out = cli("ask", f"why can't I connect to {host}:5432 from {vantage}")
    assert "target-ssh-unreachable" not in ids(out), out["findings"]
    assert ids(out)[0] == "listen-queue-overflow", out["findings"]
    assert out["counters_delta"].get("TcpExt.ListenOverflows", 0) > 0, out["counters_delta"]
    assert not out.get("probe_errors"), out.get("probe_errors")
    assert out["file_access"] == ("sftp" if host == "db07" else "exec")
    assert out["unreadable"] == {}  # every file the probes read is readable by the probe user


@pytest.mark.parametrize("host", ["nosftp01", "drop01"])
def test_probe_on_hosts_without_sftp_reads_over_exec(clean_fleet, cli, host):
    ev = cli("probe", host)
    t = ev["target"]
    assert t["file_access"] == "exec" and t["counters_t0"] and t["sysctls"] and t["listeners"] is not None
    assert ev["probe_errors"] == [], ev["probe_errors"]


def test_drift_names_unreachable_hosts_with_the_real_reason(clean_fleet, cli):
    clean_fleet.stop_sshd("bastion")
    out = cli("drift", "--no-save", ok=(0, 1, 3, 4))
    errors = {e["host"]: e for e in out["errors"] if not e.get("probe")}
    assert set(errors) == {"bastion", "db07", "db08"}, out["errors"]
    for h in ("db07", "db08"):
        assert f"bastion (jump host for {h})" in errors[h]["error"] and "refused" in errors[h]["error"], errors[h]
    assert "refused" in errors["bastion"]["error"]
    assert out["hosts"] == 5


def test_drift_reports_a_sysctl_the_probe_user_cannot_read(clean_fleet, tmp_path):
    cfg = clean_fleet.whycant_config()
    cfg["database"] = f"sqlite:///{tmp_path}/w.db"
    cfg["baselines"] = {"openssh": {"net.ipv4.tcp_fastopen_key": "0-0-0-0", "net.core.somaxconn": ">= 1"}}
    path = tmp_path / "whycant.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = subprocess.run(
        [*WHYCANT, "drift", "nosftp01", "bastion", "--no-save", "--json", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = json.loads(r.stdout)
    unreadable = [e for e in out["errors"] if e.get("kind") == "unreadable"]
    assert {e["host"] for e in unreadable} == {"bastion"}, out["errors"]  # nosftp01 is not in group openssh
    assert unreadable[0]["error"] == (f"/proc/sys/net/ipv4/tcp_fastopen_key: not readable by {clean_fleet.user}"), (
        unreadable
    )
