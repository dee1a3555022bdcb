"""A target behind a jump host gets no ``bot`` connect row unless asked for: the bot has no
direct path to it by design (the production fleet's db08 was reported critical
"filtered-from-vantage: unreachable from bot" before; tests/e2e/test_production_fleet.py)."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.inventory import Inventory, with_bot_vantage
from bot.request import parse_request, resolve_request
from bot.service import Whycant
from probes.evidence import Request
from probes.inventory import Host

CONFIG = {
    "hosts": {
        "bastion": {"address": "198.18.0.5"},
        "db07": {"address": "198.18.0.167", "proxy_jump": "bastion", "services": {"postgres": 5432}},
        "db01": {"address": "198.18.0.10", "services": {"postgres": 5432}},
    },
    "vantages": {"dmz": {"host": "bastion"}},
    "database": "sqlite://",
}


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return Inventory.from_config(parse_config(CONFIG, "jump.yaml"))


def vantages(inv: Inventory, text: str) -> list[str]:
    [r] = resolve_request(parse_request(text), inv)
    return r.vantages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("db07:5432", ["dmz"]),
        ("db07:5432 from dmz", ["dmz"]),
        ("db07:5432 from all", ["dmz"]),
        ("db07:5432 from bot and dmz", ["bot", "dmz"]),
        ("db07:5432 from bot", ["bot"]),
        ("db01:5432", ["bot", "dmz"]),
        ("db01:5432 from dmz", ["bot", "dmz"]),
    ],
)
def test_bot_row_only_where_the_bot_has_a_path(inv: Inventory, text: str, expected: list[str]) -> None:
    assert vantages(inv, text) == expected


def test_no_other_vantage_keeps_bot() -> None:
    jumped = Host(name="db07", address="198.18.0.167", proxy_jump="bastion")
    assert with_bot_vantage([], jumped) == ["bot"]
    assert with_bot_vantage(["bot"], jumped) == ["bot"]
    assert with_bot_vantage(["dmz", "bot", "dmz"], jumped) == ["dmz"]
    assert with_bot_vantage(["dmz"], None) == ["bot", "dmz"]


def test_service_plans_the_same_vantages(inv: Inventory) -> None:
    svc = Whycant(parse_config(CONFIG, "jump.yaml"))

    def plan(target: str, vs: list[str]) -> list[str]:
        request = Request(text="t", target=target, address="198.18.0.1", port=5432, vantages=vs)
        return [v.name for v in svc.vantages_for(request)]

    assert plan("db07", []) == ["dmz"]  # e.g. a probe or an alert: every configured vantage
    assert plan("db07", ["bot", "dmz"]) == ["bot", "dmz"]
    assert plan("db01", []) == ["bot", "dmz"]
    assert plan("db01", ["dmz"]) == ["bot", "dmz"]


@pytest.mark.parametrize(
    ("ssh", "expected"),
    [
        ({"config_text": "Host db01\n  ProxyJump bastion\n"}, ["dmz"]),  # the OpenSSH config's route counts
        ({"config_text": "Host db01\n  ProxyJump none\n"}, ["bot", "dmz"]),
        ({"proxy_jump": "bastion"}, ["dmz"]),  # ssh.proxy_jump: every host goes through it
        ({"config_text": "Host db01\n  ProxyJump bad;host\n"}, ["bot", "dmz"]),  # unusable: the probe names it
    ],
)
def test_route_from_the_ssh_settings_decides_the_bot_row(tmp_path, ssh: dict, expected: list[str]) -> None:
    raw = {**CONFIG, "ssh": {"config": []}}
    if "config_text" in ssh:
        (tmp_path / "ssh_config").write_text(ssh["config_text"])
        raw["ssh"] = {"config": [str(tmp_path / "ssh_config")]}
    if "proxy_jump" in ssh:
        raw["ssh"] = {"config": [], "proxy_jump": ssh["proxy_jump"]}
    svc = Whycant(parse_config(raw, "jump.yaml"))
    assert vantages(svc.inventory, "db01:5432") == expected
    request = Request(text="t", target="db01", address="198.18.0.10", port=5432, vantages=[])
    assert [v.name for v in svc.vantages_for(request)] == expected
    assert vantages(svc.inventory, "db01:5432 from bot") == ["bot"]
