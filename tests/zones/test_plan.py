"""Zone planning: pure functions over config and hosts."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.zone_runner import JobRefused, check_destination
from bot.zones.plan import (
    ZonesNeedPostgres,
    chunk_by_zone,
    host_zone,
    plan_diagnosis,
    require_postgres,
    usable_vantages,
    zones_in_config,
)
from probes.collect import VantagePoint
from probes.inventory import Host

CFG = {
    "zones": {"own": "dc", "groups": {"officelan": "office"}},
    "hosts": {
        "db01": {"address": "198.18.0.10"},
        "db02": {"address": "198.18.1.10", "zone": "vpc2"},
        "pc1": {"address": "198.18.2.10", "groups": ["officelan"]},
        "pc2": {"address": "198.18.2.11", "groups": ["officelan"], "zone": "branch"},
    },
    "vantages": {"office": {"host": "pc1"}, "dcv": {"host": "db01"}, "vpcv": {"host": "db01", "zone": "vpc2"}},
}


def h(name: str, *groups: str) -> Host:
    return Host(name=name, address="198.18.0.1", groups=groups)


def test_host_zone_precedence():
    cfg = parse_config(CFG)
    assert host_zone(h("db01"), cfg) == "dc"  # default: the own zone
    assert host_zone(h("db02"), cfg) == "vpc2"  # the host's own zone:
    assert host_zone(h("pc1", "officelan"), cfg) == "office"  # its group's zone
    assert host_zone(h("pc2", "officelan"), cfg) == "branch"  # host beats group
    assert zones_in_config(cfg) == {"vpc2", "office", "branch"}


def test_plan_splits_target_and_vantages():
    cfg = parse_config(CFG)
    p = plan_diagnosis(
        h("db02"), [("bot", h("localhost")), ("office", h("pc1", "officelan")), ("vpcv", h("db01"))], cfg
    )
    assert p.target_zone == "vpc2"
    assert p.vantages == {"dc": ["bot"], "office": ["office"], "vpc2": ["vpcv"]}
    assert p.remote_zones == ["office", "vpc2"]
    assert not p.local_only
    local = plan_diagnosis(h("db01"), [("bot", h("localhost")), ("dcv", h("db01"))], cfg)
    assert local.local_only


def test_the_bot_vantage_is_left_out_for_a_target_in_another_zone():
    cfg = parse_config(CFG)
    vs = [VantagePoint("bot", h("localhost")), VantagePoint("vpcv", h("db01"))]
    assert [v.name for v in usable_vantages(h("db02"), vs, cfg)] == ["vpcv"]  # db02 is in vpc2
    assert [v.name for v in usable_vantages(h("db01"), vs, cfg)] == ["bot", "vpcv"]  # the own zone
    assert [v.name for v in usable_vantages(h("db02"), vs[:1], cfg)] == ["bot"]  # never none at all


def test_no_zones_means_local():
    cfg = parse_config({"hosts": {"db01": {"address": "198.18.0.10"}}})
    assert zones_in_config(cfg) == set()
    assert plan_diagnosis(h("db01"), [("bot", h("x"))], cfg).local_only


def test_zones_need_postgres_and_say_so():
    cfg = parse_config({**CFG, "database": "sqlite:////tmp/x.db"})
    with pytest.raises(ZonesNeedPostgres, match=r"zones branch, office need PostgreSQL .* sqlite"):
        require_postgres(cfg, ["office", "branch"])
    require_postgres(parse_config({**CFG, "database": "postgresql+asyncpg://u@127.0.0.1/x"}), ["office"])
    require_postgres(cfg, [])  # no zones: SQLite is fine


def test_bad_zone_name_rejected():
    with pytest.raises(Exception, match="zones.own"):
        parse_config({"zones": {"own": "Bad Zone!"}})


def test_chunks_by_zone():
    cfg = parse_config(CFG)
    hosts = [h(f"n{i}") for i in range(5)] + [h("db02"), h("pc1", "officelan")]
    chunks = chunk_by_zone(hosts, cfg, 2)
    assert [(z, [x.name for x in c]) for z, c in chunks] == [
        ("dc", ["n0", "n1"]),
        ("dc", ["n2", "n3"]),
        ("dc", ["n4"]),
        ("office", ["pc1"]),
        ("vpc2", ["db02"]),
    ]


def test_connect_job_destination_is_checked():
    assert check_destination("198.18.0.10", 5432) == ("198.18.0.10", 5432)
    assert check_destination("fd00::10", 22) == ("fd00::10", 22)
    for bad_addr, bad_port in [
        ("1.2.3.4; rm -rf /", 22),
        ("$(id)", 22),
        (None, 22),
        ("db01", 0),
        ("db01", "22"),
        ("db01", True),
        ("-oProxyCommand=x", 22),
    ]:
        with pytest.raises(JobRefused):
            check_destination(bad_addr, bad_port)
