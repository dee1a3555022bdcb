"""Secrets and files (issue 11 point 6): warn at start when the config, a key or the database is open to
other users; the database (and its WAL) and the spool are created 0600. Real files, the real CLI."""

from __future__ import annotations

import stat

from bot.file_modes import exposed
from tests.faults.helpers import closed_port, run, write_config


def _mode(p) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_new_database_is_created_private(tmp_path):
    db = tmp_path / "state" / "new" / "w.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    r = run(tmp_path, "ask", f"localhost:{closed_port()}", "--json", cfg=cfg)
    assert r.returncode == 0, r.stderr
    assert _mode(db) == 0o600
    for side in db.parent.glob("w.db-*"):  # -wal / -shm follow the database's mode
        assert _mode(side) == 0o600, side
    assert "open to" not in r.stderr  # nothing to warn about


def test_world_readable_config_key_and_database_are_named_at_start(tmp_path):
    db = tmp_path / "w.db"
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n")
    cfg = write_config(tmp_path, f"sqlite:///{db}", ssh={"client_keys": [str(key)]})
    assert run(tmp_path, "db", "upgrade", cfg=cfg).returncode == 0
    for p, mode in ((cfg, 0o644), (key, 0o640), (db, 0o666)):
        p.chmod(mode)
    r = run(tmp_path, "ask", f"localhost:{closed_port()}", "--json", cfg=cfg)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "whycant.security" in line]
    assert any(f"config {cfg} is open to everyone (mode 0644): chmod 600 {cfg}" in w for w in warnings), r.stderr
    assert any(f"SSH key {key} is open to its group (mode 0640)" in w for w in warnings), r.stderr
    assert any(f"database {db} is open to everyone (mode 0666)" in w for w in warnings), r.stderr
    assert "not a real key" not in r.stderr  # named, never shown
    # warnings are warnings: the answer is still given, and fixing the modes silences them
    for p in (cfg, key, db):
        p.chmod(0o600)
    r = run(tmp_path, "ask", f"localhost:{closed_port()}", "--json", cfg=cfg)
    assert r.returncode == 0 and "whycant.security" not in r.stderr, r.stderr


def test_exposed_is_silent_for_private_and_missing_files(tmp_path):
    f = tmp_path / "k"
    f.write_text("x")
    f.chmod(0o600)
    assert exposed([("SSH key", f), ("config", tmp_path / "missing")]) == []
    f.chmod(0o604)
    assert exposed([("SSH key", f)]) == [f"SSH key {f} is open to everyone (mode 0604): chmod 600 {f}"]
