"""Configuration lookup order, embedded default and validation messages."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_config, parse_config


def test_embedded_default_is_sqlite_under_xdg_state_and_localhost(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config()
    assert cfg.source == "embedded default"
    assert cfg.database == f"sqlite:///{tmp_path / 'state' / 'whycant' / 'whycant.db'}"
    assert cfg.hosts["localhost"].transport == "local"


def test_lookup_order_flag_then_env_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "whycant.yaml").write_text("probe: {window_seconds: 1}\n")
    env = tmp_path / "env.yaml"
    env.write_text("probe: {window_seconds: 2}\n")
    flag = tmp_path / "flag.yaml"
    flag.write_text("probe: {window_seconds: 3}\n")
    assert load_config().probe.window_seconds == 1
    monkeypatch.setenv("WHYCANT_CONFIG", str(env))
    assert load_config().probe.window_seconds == 2
    assert load_config(flag).probe.window_seconds == 3


@pytest.mark.parametrize(
    "doc, needle",
    [
        ({"ssh": {"conect_timeout": 5}}, "ssh.conect_timeout: unknown key"),
        ({"hosts": {"db01": {"port": 70000}}}, "hosts.db01.port"),
        ({"hosts": {"db01": {"services": {"pg": 0}}}}, "port 0 is not in 1..65535"),
        ({"allowed_targets": ["10.0.0.0/33"]}, "allowed_targets: Value error, '10.0.0.0/33' is not a CIDR"),
        ({"reports": [{"name": "r", "cron": "every monday", "channel": "#x"}]}, "not a valid cron"),
        ({"database": "whycant.db"}, "not a database URL"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_validation_errors_name_the_key(doc, needle):
    with pytest.raises(ConfigError) as e:
        parse_config(doc, "t.yaml")
    assert needle in str(e.value)


def test_bad_yaml_says_where(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("hosts:\n  db01: {address: [\n")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line \d+"):
        load_config(f)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "nope.yaml")
