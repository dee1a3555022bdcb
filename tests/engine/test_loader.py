"""Loading playbooks: built-ins from the package, user dirs, clear errors, overrides."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from bot.engine import diagnose, load_rules
from bot.engine.cases import build_evidence

GOOD = """\
id: {id}
title: Site rule
severity: info
requires: [sysctls]
when: sysctl_get('net.core.somaxconn', 0) < 1024
explain: somaxconn is {{{{ sysctl_get('net.core.somaxconn') }}}}
cases:
  - name: fires
    evidence: {{sysctls: {{net.core.somaxconn: 128}}}}
    expect: {{fires: true, explain_contains: ["somaxconn is 128"]}}
  - name: quiet
    evidence: {{sysctls: {{net.core.somaxconn: 4096}}}}
    expect: {{fires: false}}
"""


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(textwrap.dedent(text))
    return p


def test_user_dir_loads_next_to_builtins(tmp_path):
    write(tmp_path, "site-somaxconn.yaml", GOOD.format(id="site-somaxconn"))
    rs = load_rules([str(tmp_path)])
    assert not rs.errors
    r = rs.get("site-somaxconn")
    assert r is not None and not r.builtin and r.path.endswith("site-somaxconn.yaml")
    assert rs.get("tcp-tw-recycle").builtin


def test_relative_user_dir_resolves_against_base_dir(tmp_path):
    (tmp_path / "site").mkdir()
    write(tmp_path / "site", "site-somaxconn.yaml", GOOD.format(id="site-somaxconn"))
    rs = load_rules(["site"], base_dir=tmp_path)
    assert rs.get("site-somaxconn") and not rs.errors


def test_broken_playbooks_name_file_and_line_and_others_still_load(tmp_path):
    write(tmp_path, "a-good.yaml", GOOD.format(id="a-good"))
    write(tmp_path, "bad-yaml.yaml", "id: bad-yaml\ntitle: x\nseverity: info\nwhen: [unclosed\nexplain: x\n")
    write(tmp_path, "bad-key.yaml", "id: bad-key\ntitle: x\nseverity: info\nwhen: 'true'\nexplain: x\nfixx: {}\n")
    write(
        tmp_path,
        "bad-jinja.yaml",
        "id: bad-jinja\ntitle: x\nseverity: info\nwhen: 'true'\nexplain: |\n  line one\n  {% if %}\n",
    )
    write(tmp_path, "bad-expr.yaml", "id: bad-expr\ntitle: x\nseverity: info\n\nwhen: 'd(\"x\") >'\nexplain: x\n")
    write(tmp_path, "bad-name.yaml", "id: bad-name\ntitle: x\nseverity: info\nwhen: conect | length > 0\nexplain: x\n")
    write(tmp_path, "bad-sev.yaml", "id: bad-sev\ntitle: x\nseverity: major\nwhen: 'true'\nexplain: x\n")
    write(tmp_path, "wrong-name.yaml", GOOD.format(id="other-id"))
    rs = load_rules([tmp_path])
    errs = {Path(e.path).name: e for e in rs.errors}
    assert set(errs) == {
        "bad-yaml.yaml",
        "bad-key.yaml",
        "bad-jinja.yaml",
        "bad-expr.yaml",
        "bad-name.yaml",
        "bad-sev.yaml",
        "wrong-name.yaml",
    }
    assert errs["bad-yaml.yaml"].line in (4, 5) and "YAML" in errs["bad-yaml.yaml"].message
    assert errs["bad-key.yaml"].line == 6 and "unknown key 'fixx'" in errs["bad-key.yaml"].message
    assert errs["bad-jinja.yaml"].line == 7 and "jinja" in errs["bad-jinja.yaml"].message
    assert errs["bad-expr.yaml"].line == 5
    assert errs["bad-name.yaml"].line == 4 and "conect" in errs["bad-name.yaml"].message
    assert errs["bad-sev.yaml"].line == 3 and "severity" in errs["bad-sev.yaml"].message
    assert "must match the file name" in errs["wrong-name.yaml"].message
    assert str(errs["bad-key.yaml"]).startswith(str(tmp_path / "bad-key.yaml") + ":6: ")
    assert rs.get("a-good") is not None
    assert len([r for r in rs if r.builtin]) >= 33


def test_duplicate_id_in_user_dir_overrides_builtin_with_warning(tmp_path):
    write(tmp_path, "tcp-tw-recycle.yaml", GOOD.format(id="tcp-tw-recycle"))
    rs = load_rules([tmp_path])
    assert not rs.errors
    r = rs.get("tcp-tw-recycle")
    assert not r.builtin and r.title == "Site rule"
    assert len([x for x in rs if x.id == "tcp-tw-recycle"]) == 1
    assert any("overrides" in w and "tcp-tw-recycle" in w for w in rs.warnings)


def test_missing_user_path_is_an_error_not_a_crash(tmp_path):
    rs = load_rules([tmp_path / "nope"])
    assert rs.errors and "does not exist" in rs.errors[0].message
    assert len(rs) >= 33


def test_user_rule_runs_in_diagnose(tmp_path):
    write(tmp_path, "site-somaxconn.yaml", GOOD.format(id="site-somaxconn"))
    rs = load_rules([tmp_path], builtin=False)
    d = diagnose(build_evidence({"sysctls": {"net.core.somaxconn": 128}}), rs)
    assert [f.id for f in d.findings] == ["site-somaxconn"]


def test_builtins_load_through_importlib_resources_from_any_location(tmp_path):
    """A copy of the package elsewhere (as after a non-editable install) loads the same rules from there."""
    repo = Path(__file__).resolve().parents[2]
    site = tmp_path / "site-packages"
    shutil.copytree(repo / "playbooks", site / "playbooks", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from bot.engine import load_rules; rs = load_rules([]); "
        "assert not rs.errors, rs.errors; "
        "assert all(r.path.startswith(sys.argv[1]) for r in rs), rs.rules[0].path; print(len(rs))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(repo)},
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) >= 33


def test_pyproject_ships_playbook_yaml_as_package_data():
    import tomllib

    repo = Path(__file__).resolve().parents[2]
    cfg = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert any(p.startswith("playbooks") for p in cfg["packages"]["find"]["include"])
    assert "*.yaml" in cfg["package-data"]["*"]
    assert (repo / "playbooks" / "__init__.py").exists()
