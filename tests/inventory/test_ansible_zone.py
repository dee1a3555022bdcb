"""A host's zone from Ansible: ``whycant_zone`` in group_vars/host_vars (Ansible's precedence between them),
below the config's own ``zone:`` and above ``zones.groups`` and ``zones.own`` (docs/zones.md)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.inventory import Inventory, InventoryError
from bot.zones.plan import host_zone, plan_diagnosis, vantage_zone, zones_in_config

INI = """\
[dc]
web01 ansible_host=198.18.5.1

[office]
pc1 ansible_host=198.18.6.1
pc2 ansible_host=198.18.6.2
pc3 ansible_host=198.18.6.3

[vpc]
db09 ansible_host=198.18.7.1

[lan]
lan1 ansible_host=198.18.8.1
lan2 ansible_host=198.18.8.2 whycant_zone=inline
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    inv = tmp_path / "inventory"
    write(inv / "hosts.ini", INI)
    write(inv / "group_vars" / "all.yml", "ansible_user: deploy\n")
    write(inv / "group_vars" / "office.yml", "whycant_zone: office\n")
    write(inv / "group_vars" / "vpc" / "zone.yml", "whycant_zone: vpc2\n")  # a group_vars directory
    write(inv / "host_vars" / "pc2.yml", "whycant_zone: branch\n")  # host_vars beat group_vars
    write(inv / "host_vars" / "lan2.yml", "whycant_zone: lanhost\n")  # ... and the inventory file's inline var
    return tmp_path


def config(tree: Path, **extra):
    doc = {
        "inventory": [str(tree / "inventory")],
        "zones": {"own": "dc", "groups": {"office": "cfgoffice", "lan": "lanzone"}},
        "hosts": {"pc3": {"zone": "hq"}},
        "vantages": {"branch": {"host": "pc2"}, "lanv": {"host": "lan1"}},
        "database": "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    }
    doc.update(extra)
    return parse_config(doc, source="test")


def test_zone_precedence_with_group_vars_and_host_vars(tree: Path):
    cfg = config(tree)
    inv = Inventory.from_config(cfg)
    zone = {n: host_zone(h, cfg) for n, h in inv.hosts.items()}
    assert zone == {
        "web01": "dc",  # nothing names it: zones.own
        "pc1": "office",  # group_vars/office.yml beats zones.groups (cfgoffice)
        "pc2": "branch",  # host_vars/pc2.yml beats group_vars/office.yml
        "pc3": "hq",  # the config's `zone:` beats whycant_zone
        "db09": "vpc2",  # group_vars/vpc/ (a directory)
        "lan1": "lanzone",  # no whycant_zone: zones.groups
        "lan2": "lanhost",  # host_vars beat the inline host var
    }
    assert inv.hosts["pc1"].user == "deploy"  # the rest of the vars still apply
    assert inv.zones == {"office", "branch", "hq", "vpc2", "lanhost"}
    assert zones_in_config(cfg, inv.zones) == {"office", "branch", "hq", "vpc2", "lanhost", "cfgoffice", "lanzone"}
    # vantages take their host's zone; a plan of pc1 from branch and lanv spans three zones
    assert vantage_zone("branch", inv.hosts["pc2"], cfg) == "branch"
    plan = plan_diagnosis(inv.hosts["pc1"], [("branch", inv.hosts["pc2"]), ("lanv", inv.hosts["lan1"])], cfg)
    assert (plan.target_zone, plan.remote_zones) == ("office", ["branch", "lanzone", "office"])


def test_a_zone_named_only_by_ansible_makes_zones_active(tree: Path):
    cfg = parse_config({"inventory": [str(tree / "inventory")]}, source="test")
    assert zones_in_config(cfg) == set()  # the config alone names no zone
    assert zones_in_config(cfg, Inventory.from_config(cfg).zones) == {"office", "branch", "vpc2", "lanhost"}


@pytest.mark.parametrize("value", ["Office", "a b", "x" * 33, "[1, 2]", "-lead"])
def test_bad_whycant_zone_names_the_vars_file(tree: Path, value: str):
    write(tree / "inventory" / "host_vars" / "web01.yml", f"whycant_zone: {value}\n")
    with pytest.raises(InventoryError, match=r"host_vars/web01\.yml: whycant_zone .* is not a zone name"):
        Inventory.from_config(config(tree))
