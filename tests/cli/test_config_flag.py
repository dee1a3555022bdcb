"""Every subcommand accepts `--config F` after its name (docs/architecture.md §Configuration), and a bad one is exit 2."""

from __future__ import annotations

import pytest

from bot.cli import main

COMMANDS = [
    ["ask", "x"],
    ["analyze", "--after", "/etc/hostname"],
    ["probe", "localhost"],
    ["drift"],
    ["incidents", "list"],
    ["incidents", "show", "1"],
    ["playbooks", "list"],
    ["playbooks", "test"],
    ["db", "upgrade"],
    ["serve"],
    ["console"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a))
def test_every_subcommand_takes_config_after_its_name(argv, tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert main([*argv, "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"whycant: {missing}: cannot read configuration")


def test_a_valid_config_is_used(tmp_path, capsys):
    cfg = tmp_path / "w.yaml"
    cfg.write_text(f"database: sqlite:///{tmp_path}/x.db\nplaybook_paths: [{tmp_path}/site]\n")
    (tmp_path / "site").mkdir()
    assert main(["playbooks", "list", "--config", str(cfg)]) == 0
    assert "tcp-tw-recycle" in capsys.readouterr().out
