"""`whycant ask` end to end on the bot's own host (local transport, real sockets, SQLite)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import yaml

WHYCANT = [sys.executable, "-m", "bot.cli"]


def _run(*args: str, cfg=None, timeout: float = 60) -> subprocess.CompletedProcess:
    extra = ["--config", str(cfg)] if cfg else []
    return subprocess.run([*WHYCANT, *args, *extra], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "whycant.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/w.db",
                "hosts": {
                    "localhost": {
                        "address": "127.0.0.1",
                        "transport": "local",
                        "aliases": ["bot01"],
                        "services": {"web": 0},
                    },  # port filled below
                    "db01": {"address": "198.18.99.10"},
                },
                "probe": {"window_seconds": 0.5, "connect_attempts": 4, "connect_timeout": 1},
            }
        ).replace("web: 0", "web: 1")
    )
    return path


@pytest.fixture
def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_ask_json_contract_on_a_closed_port(cfg, closed_port):
    r = _run("ask", f"why can't I connect to bot01:{closed_port}?", "--json", cfg=cfg)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["target"] == {
        "host": "localhost",
        "address": "127.0.0.1",
        "resolved_address": None,
        "port": closed_port,
        "service": None,
    }
    assert out["findings"][0]["id"] == "port-not-listening"
    assert set(out["findings"][0]["fix"]) >= {"runtime", "persistent", "rollback"}
    bot = next(c for c in out["connect"] if c["vantage"] == "bot")
    assert bot["attempts"] == 4 and bot["refused"] == 4 and bot["ok"] == 0
    for k in ("ok", "refused", "timeout", "reset", "unreachable", "addr_not_avail", "error", "p50_ms"):
        assert k in bot
    assert isinstance(out["incident"], int)
    assert out["probe_errors"] == []
    assert out["duration_s"] > 0


def test_second_ask_joins_the_open_incident(cfg, closed_port):
    first = json.loads(_run("ask", f"localhost:{closed_port}", "--json", cfg=cfg).stdout)
    second = json.loads(_run("ask", f"localhost:{closed_port}", "--json", "--who", "alice", cfg=cfg).stdout)
    assert first["incident"] == second["incident"]
    assert second["incident_detail"]["joined"] is True
    listed = json.loads(_run("incidents", "list", "--json", cfg=cfg).stdout)
    rows = listed["incidents"] if isinstance(listed, dict) else listed
    assert len([i for i in rows if i["id"] == first["incident"]]) == 1


def test_text_output_shows_finding_ids(cfg, closed_port):
    r = _run("ask", f"localhost:{closed_port}", cfg=cfg)
    assert r.returncode == 0, r.stderr
    assert "[port-not-listening]" in r.stdout


@pytest.mark.parametrize(
    "question, needle",
    [
        ("why can't I connect to db01x:5432", "db01x is not in the inventory; did you mean db01?"),
        ("why can't I connect to 8.8.8.8:53", "8.8.8.8 is not in the inventory"),
        ("localhost:70000", "70000"),
        ("localhost:nosuchservice", "nosuchservice"),
        ("localhost:1 from mars", "mars"),
    ],
)
def test_bad_targets_exit_2_and_are_never_probed(cfg, question, needle):
    r = _run("ask", question, "--json", cfg=cfg)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) <= 3


def test_finding_ids_survive_terminal_rendering(cfg, closed_port):
    """On a terminal the reply is coloured; `[port-not-listening]` must not be eaten as markup."""
    import os
    import pty
    import re
    import select

    main, sub = pty.openpty()
    proc = subprocess.Popen(
        [*WHYCANT, "ask", f"localhost:{closed_port}", "--config", str(cfg)],
        stdin=sub,
        stdout=sub,
        stderr=sub,
        close_fds=True,
    )
    os.close(sub)
    chunks = []
    try:
        while True:
            r, _, _ = select.select([main], [], [], 60)
            if not r:
                break
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        proc.wait(timeout=60)
        os.close(main)
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    assert proc.returncode == 0, out
    assert "\x1b[" in b"".join(chunks).decode(errors="replace")  # it really was coloured
    assert "[port-not-listening]" in out
