"""`whycant drift` from the command line, on the bot's own host (local transport) and SQLite."""

from __future__ import annotations

import json

import pytest
import yaml

from bot.cli import main


@pytest.fixture
def cfg_file(tmp_path):
    cfg = {
        "database": f"sqlite:///{tmp_path}/w.db",
        "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local", "groups": ["bots"]}},
        "baselines": {"bots": {"net.core.somaxconn": ">= 999999999", "net.ipv4.tcp_tw_recycle": 0}},
    }
    p = tmp_path / "whycant.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return str(p)


def test_drift_json_contract_on_localhost(cfg_file, capsys):
    assert main(["drift", "--json", "--config", cfg_file]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["hosts"] == 1 and isinstance(report["errors"], list)
    som = [d for d in report["drifts"] if d["key"] == "net.core.somaxconn" and d["kind"] == "baseline"]
    assert som and set(som[0]) >= {"host", "key", "value", "expected", "kind", "finding"}
    assert som[0]["host"] == "localhost" and som[0]["expected"] == ">= 999999999"


def test_drift_selectors_and_text_output(cfg_file, capsys):
    assert main(["drift", "group:bots", "--config", cfg_file]) == 0
    out = capsys.readouterr().out
    assert "localhost net.core.somaxconn" in out and "(baseline)" in out
    assert main(["drift", "nosuch", "--config", cfg_file]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_waive_list_and_show_waived(cfg_file, capsys):
    assert (
        main(
            [
                "drift",
                "waive",
                "localhost",
                "net.core.somaxconn",
                "--until",
                "30d",
                "--reason",
                "lab box",
                "--who",
                "alice",
                "--config",
                cfg_file,
            ]
        )
        == 0
    )
    assert "waived until" in capsys.readouterr().out
    assert main(["drift", "waivers", "--json", "--config", cfg_file]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["key"] == "net.core.somaxconn" and rows[0]["expired"] is False and rows[0]["who"] == "alice"
    assert main(["drift", "--json", "--config", cfg_file]) == 0
    report = json.loads(capsys.readouterr().out)
    assert not any(d["key"] == "net.core.somaxconn" and d["kind"] == "baseline" for d in report["drifts"])
    assert any(d["key"] == "net.core.somaxconn" for d in report["waived"])
    assert main(["drift", "unwaive", str(rows[0]["id"]), "--config", cfg_file]) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["drift", "waive", "localhost", "net.core.somaxconn", "--reason", "x"],  # no --until
        ["drift", "waive", "localhost", "net.core.somaxconn", "--until", "2001-01-01", "--reason", "x"],  # past
        ["drift", "waive", "localhost", "Bad Key!", "--until", "30d", "--reason", "x"],
        ["drift", "waive", "nosuch", "net.core.somaxconn", "--until", "30d", "--reason", "x"],
        ["drift", "localhost", "--until", "30d"],
    ],
)
def test_waive_bad_input_exits_2(cfg_file, argv, capsys):
    assert main([*argv, "--config", cfg_file]) == 2
