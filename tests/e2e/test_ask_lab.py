"""`whycant ask --json` over real SSH against the lab: each reproducible failure mode
gets the right finding id, and applying the finding's own runtime fix makes a second
ask come back clean (overflow, SYN queue, ephemeral ports)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest
import yaml

pytestmark = [pytest.mark.lab]

WHYCANT = [sys.executable, "-m", "bot.cli"]


@pytest.fixture
def ask(clean_lab, tmp_path):
    cfg = clean_lab.whycant_config()
    cfg["database"] = f"sqlite:///{tmp_path}/w.db"
    cfg["vantages"]["office"]["nat"] = False
    path = tmp_path / "whycant.yaml"
    path.write_text(yaml.safe_dump(cfg))

    def run(question: str) -> dict:
        r = subprocess.run(
            [*WHYCANT, "ask", question, "--json", "--config", str(path)], capture_output=True, text=True, timeout=90
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    return run


def ids(out: dict) -> list[str]:
    return [f["id"] for f in out["findings"]]


def finding(out: dict, fid: str) -> dict:
    return next(f for f in out["findings"] if f["id"] == fid)


def row(out: dict, vantage: str) -> dict:
    return next(c for c in out["connect"] if c["vantage"] == vantage)


def apply_runtime_fix(lab, f: dict, default_host: str) -> list[str]:
    """Run the finding's `sysctl -w` lines on the host its `# on HOST` comment names."""
    host, applied = default_host, []
    for line in (f["fix"]["runtime"] or "").splitlines():
        m = re.match(r"#\s*on\s+([A-Za-z0-9_.-]+)", line.strip())
        if m and m.group(1) in lab.hosts:
            host = m.group(1)
            continue
        if line.strip().startswith("sysctl -w "):
            key, value = shlex.split(line.strip())[2].split("=", 1)
            lab.set_sysctl(host, key, value)
            applied.append(f"{host}: {key}={value}")
    assert applied, f"no runtime command to apply in {f['fix']['runtime']!r}"
    return applied


def test_listen_queue_overflow_then_fix(clean_lab, ask):
    lab = clean_lab
    lab.accept_queue_overflow("db01", 5432, backlog=2)
    out = ask("why can't I connect to db01:5432")
    assert ids(out)[0] == "listen-queue-overflow", out["findings"]
    assert out["counters_delta"].get("TcpExt.ListenOverflows", 0) > 0
    f = finding(out, "listen-queue-overflow")
    assert any("ListenOverflows" in e for e in f["evidence"])
    apply_runtime_fix(lab, f, "db01")
    lab.stop_helpers("db01")  # "then restart the service": the backlog is fixed at listen()
    lab.listener("db01", 5432, mode="noaccept")
    again = ask("why can't I connect to db01:5432")
    assert "listen-queue-overflow" not in ids(again), again["findings"]
    assert row(again, "office")["ok"] == row(again, "office")["attempts"]


def test_port_not_listening(clean_lab, ask):
    out = ask("why cant I connect to db01:5999")
    assert ids(out)[0] == "port-not-listening"
    for c in out["connect"]:
        assert c["refused"] == c["attempts"] > 0, c


def test_listening_on_loopback_only(clean_lab, ask):
    clean_lab.listener("db01", 6001, bind="127.0.0.1")
    out = ask("db01 6001")
    assert ids(out)[0] == "listening-on-loopback-only", out["findings"]
    assert row(out, "self")["ok"] > 0 and row(out, "office")["refused"] > 0


def test_filtered_from_one_vantage(clean_lab, ask):
    clean_lab.listener("db01", 6002)
    clean_lab.nft_drop_from("db01", "office1", 6002)
    out = ask("why can't office connect to db01:6002")
    assert "filtered-from-vantage" in ids(out), out["findings"]
    assert row(out, "office")["timeout"] == row(out, "office")["attempts"]
    assert row(out, "bot")["ok"] == row(out, "bot")["attempts"]


def test_rejected_from_one_vantage(clean_lab, ask):
    clean_lab.listener("db01", 6003)
    clean_lab.nft_reject_from("db01", "office1", 6003)
    out = ask("is db01:6003 reachable from dc and office")
    assert ids(out)[0] == "rejected-from-vantage", out["findings"]
    assert row(out, "office")["refused"] > 0 and row(out, "dc")["ok"] > 0


def test_unreachable_from_one_vantage(clean_lab, ask):
    clean_lab.listener("db01", 6004)
    clean_lab.no_route("office1", "db01")
    out = ask("why can't office connect to db01:6004")
    assert ids(out)[0] == "unreachable-from-vantage", out["findings"]
    assert row(out, "office")["unreachable"] == row(out, "office")["attempts"]


def test_ephemeral_ports_exhausted_then_fix(clean_lab, ask):
    lab = clean_lab
    lab.exhaust_ephemeral_ports("office1", "db01", 6005)
    out = ask("why can't office1 reach db01 on 6005")
    assert ids(out)[0] == "ephemeral-ports-exhausted", out["findings"]
    assert row(out, "office1")["addr_not_avail"] > 0
    applied = apply_runtime_fix(lab, finding(out, "ephemeral-ports-exhausted"), "office1")
    assert any(a.startswith("office1: net.ipv4.ip_local_port_range") for a in applied), applied
    again = ask("why can't office1 reach db01 on 6005")
    assert "ephemeral-ports-exhausted" not in ids(again), again["findings"]
    assert row(again, "office1")["ok"] == row(again, "office1")["attempts"]


def test_syn_queue_overflow_then_fix(clean_lab, ask):
    lab = clean_lab
    lab.syn_queue_overflow("db01", 6006, syncookies=False)
    out = ask("db01:6006")
    assert "syn-queue-overflow" in ids(out), out["findings"]
    assert out["counters_delta"].get("TcpExt.TCPReqQFullDrop", 0) > 0
    apply_runtime_fix(lab, finding(out, "syn-queue-overflow"), "db01")
    lab.stop_helpers("db01")  # restart the service so its listen() backlog picks up the new limits
    lab.listener("db01", 6006)
    again = ask("db01:6006")
    assert "syn-queue-overflow" not in ids(again), again["findings"]


def test_tw_bucket_overflow(clean_lab, ask):
    clean_lab.tw_bucket_overflow("db01", 6007)
    out = ask("db01:6007")
    assert "tw-bucket-overflow" in ids(out), out["findings"]


def test_target_ssh_down_connect_results_still_stand(clean_lab, ask):
    lab = clean_lab
    lab.listener("db01", 6008)
    lab.stop_sshd("db01")
    out = ask("db01:6008")
    assert ids(out)[0] == "target-ssh-unreachable", out["findings"]
    assert out["probe_errors"], "a probe that failed must be reported"
    assert row(out, "office")["ok"] == row(out, "office")["attempts"] > 0
    assert "partial" in out["verdict"].lower() or out["partial"] is True
