from __future__ import annotations

import json

from bot.cli import main


def test_playbooks_list(capsys):
    assert main(["playbooks", "list"]) == 0
    out = capsys.readouterr().out
    assert "tcp-tw-recycle" in out and "critical" in out and "playbooks/tcp-tw-recycle.yaml" in out


def test_playbooks_list_json(capsys):
    assert main(["playbooks", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rules"]
    assert {"id", "severity", "title", "file"} <= set(rows[0])


def test_playbooks_test_passes(capsys):
    assert main(["playbooks", "test"]) == 0
    assert "FAILED" not in capsys.readouterr().out


def test_playbooks_test_fails_on_a_failing_user_case(tmp_path, capsys):
    (tmp_path / "site-x.yaml").write_text(
        "id: site-x\ntitle: x\nseverity: info\nwhen: 'false'\nexplain: x\n"
        "cases:\n  - {name: should fire, evidence: {}, expect: {fires: true}}\n"
        "  - {name: quiet, evidence: {}, expect: {fires: false}}\n"
    )
    cfg = tmp_path.parent / f"{tmp_path.name}-whycant.yaml"
    cfg.write_text(f"playbook_paths: [{tmp_path}]\n")
    assert main(["playbooks", "test", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  site-x :: should fire" in out


def test_playbooks_test_reports_broken_user_playbook(tmp_path, capsys):
    (tmp_path / "broken.yaml").write_text("id: broken\ntitle: x\nseverity: info\nwhen: '{{'\nexplain: x\n")
    cfg = tmp_path.parent / f"{tmp_path.name}-whycant.yaml"
    cfg.write_text(f"playbook_paths: [{tmp_path}]\n")
    assert main(["playbooks", "test", "-c", str(cfg), "--json"]) == 1
    res = json.loads(capsys.readouterr().out)
    assert res["failed"] == 0 and any("broken.yaml:4" in e for e in res["load_errors"])
