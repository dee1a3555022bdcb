"""Inventory: config hosts + Ansible INI/YAML, groups, aliases, addresses, vantages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import ConfigError, parse_config
from bot.inventory import (
    Inventory,
    InventoryError,
    UnknownHost,
    UnknownVantage,
    expand_hostname_range,
    load_ansible_inventory,
)
from probes.errors import BadInput
from probes.inventory import Host

FIX = Path(__file__).parent / "fixtures"


def make(doc: dict, tmp_path: Path | None = None) -> Inventory:
    source = str(tmp_path / "whycant.yaml") if tmp_path else "test.yaml"
    return Inventory.from_config(parse_config(doc, source))


@pytest.fixture
def ansible_dir(tmp_path: Path) -> Path:
    for f in ("hosts.ini", "inventory.yml"):
        shutil.copy(FIX / f, tmp_path / f)
    return tmp_path


@pytest.fixture
def inv(ansible_dir: Path) -> Inventory:
    return make(
        {
            "hosts": {
                "db01": {"groups": ["pg"], "services": {"postgres": 5433, "metrics": 9187}, "aliases": ["primary"]},
                "app01": {"address": "198.18.0.20", "groups": ["app"]},
                "office1": {"address": "198.18.0.40"},
            },
            "inventory": ["hosts.ini", "inventory.yml"],  # relative: resolved against the config's directory
            "vantages": {"office": {"host": "office1", "note": "office LAN, behind NAT"}, "dc": {"host": "app01"}},
            "allowed_targets": ["10.20.0.0/16", "2001:db8:ff::/48"],
        },
        ansible_dir,
    )


# ---------------------------------------------------------------- Ansible INI


def test_ini_hosts_vars_ranges_and_children():
    hosts = load_ansible_inventory([FIX / "hosts.ini"])
    assert set(hosts) == {
        "jump01",
        "db01",
        "db02",
        "db03.example.com",
        "web01",
        "web02",
        "web03",
        "redis-a",
        "redis-b",
        "control",
    }
    db01 = hosts["db01"]
    assert (db01.address, db01.port, db01.user) == ("198.18.0.10", 2222, "deploy")
    assert db01.services == {"postgres": 5432, "pgbouncer": 6432}
    assert db01.note == "production"
    assert set(db01.groups) == {"db", "prod"}  # prod via [prod:children]
    # host vars beat group vars; a DNS-name ansible_host is an alias too
    assert hosts["db02"].user == "dba"
    assert hosts["db02"].address == "db02.internal.example"
    assert "db02.internal.example" in hosts["db02"].aliases
    assert hosts["db03.example.com"].port == 2200  # "host:port" suffix
    assert hosts["web02"].services == {"http": 80, "https": 443}
    assert set(hosts["web03"].groups) == {"web", "prod"}
    assert hosts["redis-b"].groups == ("cache",)
    assert hosts["jump01"].groups == () and hosts["jump01"].user is None
    assert hosts["control"].transport == "local"


def test_ranges():
    assert expand_hostname_range("web[01:03]", "f:1") == ["web01", "web02", "web03"]
    assert expand_hostname_range("n[0:10:5]x", "f:1") == ["n0x", "n5x", "n10x"]
    assert expand_hostname_range("r[a:c][1:2]", "f:1") == ["ra1", "ra2", "rb1", "rb2", "rc1", "rc2"]
    for bad in ("web[3:1]", "web[1-3]", "web[a:10]", "web[1:3:0]"):
        with pytest.raises(InventoryError, match="f:1"):
            expand_hostname_range(bad, "f:1")
    with pytest.raises(InventoryError, match="more than"):
        expand_hostname_range("h[0:99999]", "f:1")


@pytest.mark.parametrize(
    "text, line, needle",
    [
        ("[db]\ndb01\n[db:vars\nx=1\n", 3, "malformed section header"),
        ("[db:hosts2]\n", 1, "unknown section type"),
        ("[db:vars]\nansible_user\n", 2, "expected key=value"),
        ("[db]\n\ndb01 ansible_host='198.18.0.1\n", 3, "cannot parse host line"),
        ("[db]\ndb01 ansible_host\n", 2, "expected key=value after the host name"),
        ("[db]\nweb[5:1]\n", 2, "start after end"),
        ("[db]\ndb01 ansible_port=99999\n", 2, "not in 1..65535"),
        ("[db]\ndb01 ansible_port=ssh\n", 2, "not a number"),
        ("[db]\ndb01 ansible_host=$(reboot)\n", 2, "not a valid host name"),
        ("[db]\nx;rm\n", 2, "not a valid host name"),
        ("[db]\ndb01 whycant_services=pg\n", 2, "not name:port"),
        ("[d b]\n", 1, "malformed section header"),
    ],
)
def test_broken_ini_names_file_and_line(tmp_path, text, line, needle):
    f = tmp_path / "broken.ini"
    f.write_text(text)
    with pytest.raises(BadInput) as e:
        load_ansible_inventory([f])
    assert f"{f}:{line}:" in str(e.value)
    assert needle in str(e.value)


def test_broken_fixture_header_via_config(tmp_path):
    shutil.copy(FIX / "broken_header.ini", tmp_path / "broken_header.ini")
    with pytest.raises(ConfigError, match=r"broken_header.ini:3: malformed section header"):
        make({"inventory": ["broken_header.ini"]}, tmp_path)


def test_missing_inventory_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="nope.ini: cannot read inventory"):
        make({"inventory": ["nope.ini"]}, tmp_path)


# ---------------------------------------------------------------- Ansible YAML


def test_yaml_groups_vars_children_ranges():
    hosts = load_ansible_inventory([FIX / "inventory.yml"])
    assert set(hosts) == {"mon01", "mq1", "mq2", "lb01", "lb02"}
    assert hosts["mon01"].address == "198.18.0.50" and hosts["mon01"].user == "ops"
    assert hosts["mq2"].port == 2022 and hosts["mq2"].services == {"amqp": 5672}
    assert set(hosts["lb01"].groups) == {"lb", "edge"}
    assert hosts["lb01"].aliases == ("frontdoor",)
    assert hosts["lb02"].address == "lb02"


def test_yaml_without_extension_is_sniffed(tmp_path):
    f = tmp_path / "hosts"
    f.write_text("all:\n  hosts:\n    a1: {ansible_host: 10.0.0.1}\n")
    assert load_ansible_inventory([f])["a1"].address == "10.0.0.1"


def test_directory_inventory(tmp_path):
    (tmp_path / "10-a.ini").write_text("[x]\nh1\n")
    (tmp_path / "20-b.yml").write_text("all:\n  hosts:\n    h2:\n")
    (tmp_path / "h.ini~").write_text("[[[\n")
    assert set(load_ansible_inventory([tmp_path])) == {"h1", "h2"}


@pytest.mark.parametrize(
    "text, line, needle",
    [
        ("all:\n  children:\n    db:\n      hosts:\n        - db01\n", 4, "must be a mapping (host: vars), not a list"),
        ("all:\n  hosts:\n    db01: [1, 2]\n", 3, "variables of host 'db01' must be a mapping"),
        ("all:\n  childs:\n    db: {}\n", 2, "unknown key 'childs'"),
        ("all:\n  hosts:\n    db01: {ansible_port: 0}\n", 3, "not in 1..65535"),
        ("all:\n  hosts:\n    db01: {ansible_host: 'a b'}\n", 3, "not a valid host name"),
        ("all:\n  hosts: {db01: [\n", 3, "not valid YAML"),
        ("- a\n- b\n", 1, "must be a mapping of groups"),
        ("all:\n  children:\n    db:\n      vars: [1]\n", 4, "vars of group 'db' must be a mapping"),
    ],
)
def test_broken_yaml_names_file_and_line(tmp_path, text, line, needle):
    f = tmp_path / "broken.yml"
    f.write_text(text)
    with pytest.raises(BadInput) as e:
        load_ansible_inventory([f])
    assert f"{f}:{line}:" in str(e.value)
    assert needle in str(e.value)


def test_broken_yaml_fixture():
    with pytest.raises(BadInput, match=r"broken_hosts_list.yml:4: hosts of group 'db' must be a mapping"):
        load_ansible_inventory([FIX / "broken_hosts_list.yml"])


# ---------------------------------------------------------------- merging and precedence


def test_config_wins_and_groups_services_aliases_merge(inv):
    db01 = inv.get("db01")
    assert db01 is not None
    assert db01.address == "198.18.0.10"  # config gives no address: Ansible's stays
    assert db01.port == 2222  # config port left at its default: Ansible's stays
    assert db01.user == "deploy"
    assert db01.groups[0] == "pg" and set(db01.groups) == {"pg", "db", "prod"}
    assert db01.services == {"postgres": 5433, "pgbouncer": 6432, "metrics": 9187}  # config's 5433 wins
    assert db01.aliases == ("primary",)


def test_config_explicit_fields_win(tmp_path):
    (tmp_path / "h.ini").write_text("[db]\ndb01 ansible_host=10.0.0.1 ansible_port=2222 ansible_user=a\n")
    inv = make(
        {"hosts": {"db01": {"address": "10.0.0.9", "port": 22, "user": "root"}}, "inventory": ["h.ini"]}, tmp_path
    )
    h = inv.get("db01")
    assert (h.address, h.port, h.user, h.groups) == ("10.0.0.9", 22, "root", ("db",))
    assert inv.lookup("10.0.0.1") is None  # Ansible's address was replaced, not kept


def test_config_host_names_are_checked():
    with pytest.raises(ConfigError, match=r"hosts\.db;rm: host name"):
        make({"hosts": {"db;rm": {}}})
    with pytest.raises(ConfigError, match=r"hosts\.db01\.address"):
        make({"hosts": {"db01": {"address": "$(id)"}}})
    with pytest.raises(ConfigError, match=r"hosts\.db01\.services"):
        make({"hosts": {"db01": {"services": {"p g": 1}}}})


# ---------------------------------------------------------------- resolve


@pytest.mark.parametrize(
    "token, name",
    [
        ("db01", "db01"),
        ("DB01", "db01"),
        ("primary", "db01"),
        ("198.18.0.10", "db01"),
        ("db02.internal.example", "db02"),
        ("DB02.Internal.Example", "db02"),
        ("frontdoor", "lb01"),
        ("198.18.0.20", "app01"),
        ("::ffff:198.18.0.20", "app01"),
        ("web02", "web02"),
        (" mq1 ", "mq1"),
    ],
)
def test_resolve_by_name_alias_address(inv, token, name):
    h = inv.resolve(token)
    assert h.name == name and not h.adhoc and h.probe_ssh


def test_unknown_host_messages(inv):
    with pytest.raises(UnknownHost) as e:
        inv.resolve("db01x")
    assert str(e.value) == "db01x is not in the inventory; did you mean db01?"
    assert isinstance(e.value, BadInput)
    with pytest.raises(UnknownHost) as e:
        inv.resolve("zzzzzz")
    assert str(e.value).startswith("zzzzzz is not in the inventory; known hosts: app01, control, db01, db02, ")
    small = Inventory([Host("a", "10.0.0.1"), Host("b", "10.0.0.2"), Host("c", "10.0.0.3")])
    with pytest.raises(UnknownHost) as e:
        small.resolve("qqq")
    assert str(e.value) == "qqq is not in the inventory; known hosts: a, b, c"
    with pytest.raises(UnknownHost, match="the inventory is empty"):
        Inventory([]).resolve("x")


def test_ambiguous_address_is_bad_input():
    inv = Inventory([Host("b1", "127.0.0.1", port=2201), Host("b2", "127.0.0.1", port=2202)])
    with pytest.raises(BadInput, match=r"127.0.0.1 matches several hosts \(b1, b2\); say which by name"):
        inv.resolve("127.0.0.1")
    assert inv.resolve("b2").port == 2202


def test_allowed_targets_give_adhoc_connect_only_hosts(inv):
    h = inv.resolve("10.20.3.4")
    assert (h.name, h.address, h.adhoc, h.probe_ssh, h.transport) == ("10.20.3.4", "10.20.3.4", True, False, "ssh")
    assert "10.20.0.0/16" in (h.note or "")
    v6 = inv.resolve("[2001:DB8:FF::0:1]")
    assert v6.name == "2001:db8:ff::1" and v6.adhoc  # canonical text, not what was typed
    with pytest.raises(UnknownHost):
        inv.resolve("10.21.0.1")
    with pytest.raises(UnknownHost):
        inv.resolve("fe80::1%eth0")  # scoped addresses never pass
    with pytest.raises(UnknownHost):
        inv.resolve("10.20.0.0.example.com")


def test_inventory_host_inside_allowed_cidr_stays_inventory_host():
    inv = Inventory([Host("db01", "10.20.0.5")], allowed_targets=["10.20.0.0/16"])
    h = inv.resolve("10.20.0.5")
    assert h.name == "db01" and not h.adhoc


# ---------------------------------------------------------------- select


def test_select(inv):
    names = lambda hs: [h.name for h in hs]  # noqa: E731
    assert names(inv.select(["db01"])) == ["db01"]
    assert names(inv.select(["group:db"])) == ["db01", "db02", "db03.example.com"]
    assert names(inv.select(["group:prod"])) == ["db01", "db02", "db03.example.com", "web01", "web02", "web03"]
    assert names(inv.select(["group:EDGE"])) == ["lb01", "lb02"]  # nested children count
    assert names(inv.select(["web"])) == ["web01", "web02", "web03"]  # bare group name
    assert names(inv.select(["db01,group:db", "primary"])) == ["db01", "db02", "db03.example.com"]
    assert len(inv.select(["all"])) == len(inv.names()) == 17
    with pytest.raises(BadInput, match=r"group:dbx: no such group; did you mean group:db\? known groups: "):
        inv.select(["group:dbx"])
    with pytest.raises(UnknownHost, match="did you mean db01"):
        inv.select(["db01x"])
    assert not any(h.adhoc for h in inv.select(["all"]))
    with pytest.raises(UnknownHost):
        inv.select(["10.20.0.1"])  # allowed_targets are for connect tests, not drift


# ---------------------------------------------------------------- vantages


def test_vantages(inv):
    vs = inv.vantages()
    assert list(vs) == ["bot", "office", "dc"]
    assert vs["bot"].host.transport == "local" and vs["bot"].host.address == "127.0.0.1"
    assert vs["office"].host.name == "office1" and vs["office"].nat is True
    assert vs["dc"].host.name == "app01" and vs["dc"].nat is False


def test_bot_vantage_always_exists_even_without_config():
    vs = Inventory([]).vantages()
    assert list(vs) == ["bot"] and vs["bot"].host.is_local and vs["bot"].host.address == "127.0.0.1"
    embedded = make({"hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}}})
    assert embedded.vantages()["bot"].host.name == "localhost"


def test_nat_flag_explicit_and_from_note():
    hosts = [Host("a", "10.0.0.1"), Host("b", "10.0.0.2"), Host("c", "10.0.0.3")]
    inv = Inventory(
        hosts,
        {
            "x": {"host": "a", "nat": True},
            "y": {"host": "b", "note": "NATted branch"},
            "z": {"host": "c", "note": "behind NAT", "nat": False},
        },
    )
    vs = inv.vantages()
    assert (vs["x"].nat, vs["y"].nat, vs["z"].nat) == (True, True, False)


def test_vantage_with_unknown_host_is_config_error_naming_key():
    with pytest.raises(ConfigError) as e:
        make({"hosts": {"app01": {}}, "vantages": {"office": {"host": "app02"}}})
    assert str(e.value) == "vantages.office.host: app02 is not in the inventory; did you mean app01?"
    with pytest.raises(ConfigError, match="vantages.bot: the name 'bot' is reserved"):
        make({"hosts": {"app01": {}}, "vantages": {"bot": {"host": "app01"}}})


def test_resolve_vantage(inv):
    assert inv.resolve_vantage("OFFICE").name == "office"
    v = inv.resolve_vantage("web01")
    assert (v.name, v.host.name, v.adhoc) == ("web01", "web01", True)
    assert inv.resolve_vantage("198.18.0.20").name == "app01"
    assert inv.resolve_vantage("bot").name == "bot"
    with pytest.raises(UnknownVantage) as e:
        inv.resolve_vantage("ofice")
    assert (
        str(e.value)
        == "ofice is not a vantage or an inventory host; did you mean office or office1? known vantages: bot, office, dc"
    )
    with pytest.raises(UnknownVantage, match="known vantages: bot, office, dc"):
        inv.resolve_vantage("10.20.0.1")  # ad-hoc targets are not vantages
