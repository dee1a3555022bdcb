"""Secrets and the database URL from the environment or a file (``NAME`` / ``NAME_FILE``); serve's
usage errors name what is missing; serve binds 127.0.0.1 by default."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from bot.config import ConfigError, load_config
from bot.secrets import SecretError, env_or_file
from tests.service.procs import REPO, serve_env


def test_env_or_file(tmp_path):
    f = tmp_path / "tok"
    f.write_text("xoxb-from-file\n")
    assert env_or_file("T", {"T": "direct"}) == "direct"
    assert env_or_file("T", {"T_FILE": str(f)}) == "xoxb-from-file"
    assert env_or_file("T", {}) is None
    assert env_or_file("T", {"T": ""}) is None
    with pytest.raises(SecretError, match="set T or T_FILE, not both"):
        env_or_file("T", {"T": "a", "T_FILE": str(f)})
    with pytest.raises(SecretError, match=r"T_FILE: cannot read .*missing"):
        env_or_file("T", {"T_FILE": str(tmp_path / "missing")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SecretError, match="is empty"):
        env_or_file("T", {"T_FILE": str(tmp_path / "empty")})


def test_database_url_from_env_wins_over_the_file(tmp_path, monkeypatch):
    cfg = tmp_path / "w.yaml"
    cfg.write_text(yaml.safe_dump({"database": "sqlite:///from-file.db"}))
    monkeypatch.delenv("WHYCANT_DATABASE_URL", raising=False)
    monkeypatch.delenv("WHYCANT_DATABASE_URL_FILE", raising=False)
    assert load_config(cfg).database == "sqlite:///from-file.db"
    monkeypatch.setenv("WHYCANT_DATABASE_URL", "postgresql+asyncpg://whycant@127.0.0.1/whycant")
    assert load_config(cfg).database == "postgresql+asyncpg://whycant@127.0.0.1/whycant"
    assert load_config(None).database.startswith("postgresql")  # the embedded default too
    monkeypatch.delenv("WHYCANT_DATABASE_URL")
    secret = tmp_path / "dburl"
    secret.write_text("postgresql+asyncpg://whycant:s3cret@127.0.0.1/whycant\n")
    monkeypatch.setenv("WHYCANT_DATABASE_URL_FILE", str(secret))
    assert load_config(cfg).database == "postgresql+asyncpg://whycant:s3cret@127.0.0.1/whycant"
    secret.write_text("not a url")
    with pytest.raises(ConfigError, match="WHYCANT_DATABASE_URL: not a database URL"):
        load_config(cfg)


def _serve(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_serve_names_missing_secrets_and_exits_2(tmp_path):
    env = serve_env("http://127.0.0.1:9/api/")
    for k in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        env.pop(k)
    env["XDG_STATE_HOME"] = str(tmp_path)
    r = _serve(env)
    assert r.returncode == 2
    assert "SLACK_BOT_TOKEN and SLACK_APP_TOKEN" in r.stderr and "SLACK_BOT_TOKEN_FILE" in r.stderr
    assert "Traceback" not in r.stderr
    r = _serve({**env, "SLACK_BOT_TOKEN": "x", "SLACK_BOT_TOKEN_FILE": str(tmp_path / "t")})
    assert r.returncode == 2 and "not both" in r.stderr and "Traceback" not in r.stderr
    r = _serve({**env, "SLACK_BOT_TOKEN": "x"}, "--http", "0")
    assert r.returncode == 2 and "SLACK_SIGNING_SECRET" in r.stderr


def test_serve_listens_on_loopback_by_default():
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**serve_env("x"), "COLUMNS": "200"},
    )
    assert r.returncode == 0
    assert "127.0.0.1" in r.stdout and "--port" in r.stdout and "--grace" in r.stdout
