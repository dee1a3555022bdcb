"""`whycant console`: the chat commands in a terminal session, read from stdin (piped: plain text)."""

from __future__ import annotations

import socket
import subprocess
import sys

import yaml


def test_a_triage_session(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cfg = tmp_path / "whycant.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/w.db",
                "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}},
                "probe": {"window_seconds": 0.3, "connect_attempts": 2, "connect_timeout": 1},
            }
        )
    )
    script = (
        f"help\nwhy can't I connect to localhost:{port}\nincidents\nack 1\nresolve 1\nincidents\nincident 1\nnosuch:1\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", "console", "--config", str(cfg), "--who", "alice"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "\x1b[" not in out  # piped: plain text
    parts = out.split("Open incidents")
    assert len(parts) == 3
    assert "[port-not-listening]" in parts[0] and "Incident #1" in parts[0]
    assert f"#1 · localhost:{port} · open" in parts[1]
    assert "Incident 1 acked by alice" in parts[1] and "Incident 1 resolved by alice" in parts[1]
    assert "no open incidents" in parts[2]
    shown = parts[2]
    assert "[port-not-listening]" in shown and "resolved" in shown and "alice asked" in shown
    assert "nosuch is not in the inventory" in out
