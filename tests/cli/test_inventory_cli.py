"""The CLI with inventory hosts named by DNS (under a resolver the test controls, never real
DNS), an unresolvable name, IPv6 text, and the exit status 3 of `probe`/`drift` when a host
could not be probed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from tests.resolver import resolver_unavailable_reason, with_hosts

REPO = Path(__file__).resolve().parents[2]
WHYCANT = [sys.executable, "-m", "bot.cli"]
needs_resolver = pytest.mark.skipif(
    resolver_unavailable_reason() is not None, reason=str(resolver_unavailable_reason())
)


def write_config(tmp_path: Path, hosts: dict, **extra) -> Path:
    cfg = {
        "database": f"sqlite:///{tmp_path}/w.db",
        "hosts": hosts,
        "probe": {"window_seconds": 0.2, "connect_attempts": 3, "connect_timeout": 1.0},
        "ssh": {"connect_timeout": 2},
        **extra,
    }
    path = tmp_path / "whycant.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run(argv: list[str], prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*(prefix or []), *WHYCANT, *argv], capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )


@pytest.fixture
def listener():
    """A real TCP server on 127.0.0.1 (an ephemeral port), accepting until the test ends."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.close()
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(5)
    srv.close()


@needs_resolver
def test_dns_named_host_is_resolved_and_shown(tmp_path: Path, listener: int):
    cfg = write_config(tmp_path, {"web": {"address": "web.test", "transport": "local"}})
    prefix = with_hosts(tmp_path / "etc", {"web.test": "127.0.0.1"})
    r = run(["probe", "web", "--port", str(listener), "--json", "--config", str(cfg)], prefix)
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["request"]["address"] == "web.test" and ev["request"]["resolved_address"] == "127.0.0.1"
    bot = next(c for c in ev["connect"] if c["vantage"] == "bot")
    assert bot["target_address"] == "127.0.0.1" and {a["outcome"] for a in bot["attempts"]} == {"ok"}
    r = run(["ask", f"web:{listener}", "--config", str(cfg)], prefix)
    assert r.returncode == 0, r.stderr
    assert f"web (web.test, 127.0.0.1) port {listener}" in r.stdout


@needs_resolver
def test_unresolvable_name_is_a_clear_error_for_that_host(tmp_path: Path):
    cfg = write_config(tmp_path, {"ghost": {"address": "ghost.invalid"}})
    prefix = with_hosts(tmp_path / "etc", {})
    r = run(["ask", "ghost:5432", "--json", "--config", str(cfg)], prefix)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["probe_errors"] == [{"host": "ghost", "probe": "resolve", "error": out["probe_errors"][0]["error"]}]
    assert out["probe_errors"][0]["error"].startswith("dns: cannot resolve ghost.invalid: ")
    assert out["partial"] is True and out["connect"] == []
    assert not [f for f in out["findings"] if f["severity"] == "critical" or f["id"] == "target-ssh-unreachable"]
    r = run(["ask", "ghost:5432", "--config", str(cfg)], prefix)
    assert "could not resolve its address on ghost (dns: cannot resolve ghost.invalid" in r.stdout
    r = run(["probe", "ghost", "--port", "5432", "--json", "--config", str(cfg)], prefix)
    assert r.returncode == 3, r.stderr
    assert json.loads(r.stdout)["partial"] is True


def test_probe_exits_3_when_the_host_cannot_be_probed(tmp_path: Path):
    with socket.socket() as s:  # a loopback port nothing listens on: ssh is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_config(tmp_path, {"down": {"address": "127.0.0.1", "port": port}})
    r = run(["probe", "down", "--json", "--config", str(cfg)])
    assert r.returncode == 3, r.stderr
    ev = json.loads(r.stdout)
    assert ev["partial"] is True and ev["probe_errors"][0]["host"] == "down"
    r = run(["probe", "down", "--config", str(cfg)])
    assert r.returncode == 3 and "ERROR" in r.stdout


def test_drift_exits_3_and_names_the_unreachable_host(tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_config(
        tmp_path, {"down": {"address": "127.0.0.1", "port": port}, "me": {"address": "127.0.0.1", "transport": "local"}}
    )
    r = run(["drift", "--json", "--no-save", "--config", str(cfg)])
    assert r.returncode == 3, r.stderr
    report = json.loads(r.stdout)
    assert [e["host"] for e in report["errors"] if not e.get("probe")] == ["down"]
    r = run(["drift", "me", "--json", "--no-save", "--config", str(cfg)])
    assert r.returncode == 0, r.stderr


def test_ipv6_is_printed_in_brackets(tmp_path: Path):
    cfg = write_config(tmp_path, {"me": {"address": "::1", "transport": "local"}})
    srv = socket.socket(socket.AF_INET6)
    try:
        srv.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    srv.listen(8)
    port = srv.getsockname()[1]
    try:
        r = run(["ask", f"me:{port}", "--config", str(cfg)])
        assert r.returncode == 0, r.stderr
        assert f"[::1]:{port}" in r.stdout and f"::1:{port}" not in r.stdout.replace(f"[::1]:{port}", "")
        r = run(["probe", "me", "--config", str(cfg)])
        assert f"listen [::1]:{port} " in r.stdout
    finally:
        srv.close()
