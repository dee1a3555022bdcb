"""`whycant ask --json` against the lab for inventory-side behaviour: a service bound to its
host's own address gets no critical finding (the target's self-test dials that address), and a
host from an Ansible inventory (group_vars/host_vars) whose address is a DNS name, resolved from
a hosts file the test controls (never real DNS), is probed and diagnosed end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.resolver import resolver_unavailable_reason, with_hosts

pytestmark = [pytest.mark.lab]

REPO = Path(__file__).resolve().parents[2]
WHYCANT = [sys.executable, "-m", "bot.cli"]


def ask(cfg: dict, tmp_path: Path, question: str, prefix: list[str] | None = None) -> dict:
    cfg = {**cfg, "database": f"sqlite:///{tmp_path}/w.db"}
    path = tmp_path / "whycant.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = subprocess.run(
        [*(prefix or []), *WHYCANT, "ask", question, "--json", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def row(out: dict, vantage: str) -> dict:
    return next(c for c in out["connect"] if c["vantage"] == vantage)


def critical(out: dict) -> list[str]:
    return [f["id"] for f in out["findings"] if f["severity"] == "critical"]


def test_service_bound_to_its_own_address_is_not_critical(clean_lab, tmp_path: Path):
    lab = clean_lab
    lab.listener("db01", 6100, bind="host")
    assert f"{lab.address('db01')}:6100" in lab.exec("db01", "ss", "-ltnH").stdout
    out = ask(lab.whycant_config(), tmp_path, "why can't I connect to db01:6100")
    assert critical(out) == [], out["findings"]
    assert "target-ssh-unreachable" not in [f["id"] for f in out["findings"]]
    for v in ("self", "office", "dc", "bot"):
        assert row(out, v)["ok"] == row(out, v)["attempts"] > 0, row(out, v)


def test_service_bound_to_loopback_still_found(clean_lab, tmp_path: Path):
    """The other side of the same choice: bound to 127.0.0.1, self connects and vantages are refused."""
    lab = clean_lab
    lab.listener("db01", 6101, bind="127.0.0.1")
    out = ask(lab.whycant_config(), tmp_path, "db01:6101")
    assert out["findings"][0]["id"] == "listening-on-loopback-only"
    assert row(out, "self")["ok"] > 0 and row(out, "office")["refused"] > 0


@pytest.mark.skipif(resolver_unavailable_reason() is not None, reason=str(resolver_unavailable_reason()))
def test_ansible_inventory_host_named_by_dns(clean_lab, tmp_path: Path):
    lab = clean_lab
    lab.listener("db01", 6102, bind="host")
    inv = tmp_path / "ansible"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    (inv / "hosts.ini").write_text("[db]\ndb01 ansible_host=db01.test\n\n[lab:children]\ndb\n")
    (inv / "group_vars" / "db.yml").write_text("whycant_services: {postgres: 6102}\n")
    (inv / "group_vars" / "lab.yml").write_text("ansible_user: root\nansible_port: 22\n")
    (inv / "host_vars" / "db01.yml").write_text("whycant_aliases: [primary]\n")
    known = tmp_path / "known_hosts"  # a team's known_hosts names the host as it is dialled
    known.write_text(lab.known_hosts.read_text() + f"db01.test {lab.hosts['db01'].host_key_pub}\n")
    cfg = lab.whycant_config(known_hosts=str(known))
    del cfg["hosts"]["db01"]
    cfg["inventory"] = [str(inv / "hosts.ini")]
    prefix = with_hosts(tmp_path / "etc", {"db01.test": lab.address("db01")})
    out = ask(cfg, tmp_path, "why can't I connect to primary postgres", prefix)
    assert out["target"]["host"] == "db01" and out["target"]["port"] == 6102
    assert out["target"]["address"] == "db01.test"
    assert out["target"]["resolved_address"] == lab.address("db01")
    assert critical(out) == [] and out["probe_errors"] == [], out
    assert out["counters_delta"], "counters were read over SSH from the DNS-named host"
    for v in ("self", "office", "dc", "bot"):
        assert row(out, v)["ok"] == row(out, v)["attempts"] > 0, row(out, v)
