"""resolve_request: tokens -> inventory hosts, ports, services and vantages."""

from __future__ import annotations

import pytest

from bot.inventory import UnknownHost, UnknownVantage
from bot.request import parse_request, resolve_hosts, resolve_request
from probes.errors import BadInput

ALL = ["bot", "office", "dc"]


def ask(text, inv):
    return [(r.target, r.address, r.port, r.service, r.vantages) for r in resolve_request(parse_request(text), inv)]


DB01 = ("db01", "198.18.0.10")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("why can't I connect to db01", [(*DB01, 5432, "postgres", ALL)]),
        ("why cant I connect to db01:5432", [(*DB01, 5432, "postgres", ALL)]),
        ("db01 5432", [(*DB01, 5432, "postgres", ALL)]),
        ("db01:postgres", [(*DB01, 5432, "postgres", ALL)]),
        ("db01:PostGres", [(*DB01, 5432, "postgres", ALL)]),  # the inventory's spelling comes back
        ("why can't app01 reach db01 on 443", [(*DB01, 443, None, ["bot", "app01"])]),
        ("why can't office connect to db01:9000", [(*DB01, 9000, None, ["bot", "office"])]),
        ("is db01:5432 reachable from dc and office", [(*DB01, 5432, "postgres", ["bot", "dc", "office"])]),
        ("198.18.0.10:5432", [(*DB01, 5432, "postgres", ALL)]),
        ("why can't I reach 198.18.0.10?", [(*DB01, 5432, "postgres", ALL)]),
        ("primary:5432", [(*DB01, 5432, "postgres", ALL)]),
        ("db03.internal.example", [("db03", "db03.internal.example", 5432, "postgres", ALL)]),  # Ansible alias
        ("WHY CAN'T I CONNECT TO DB01?", [(*DB01, 5432, "postgres", ALL)]),
        ("Db01:5432!", [(*DB01, 5432, "postgres", ALL)]),
        ("why can’t I connect to db01", [(*DB01, 5432, "postgres", ALL)]),
        ("<@U123ABC> why can't I connect to <mailto:x@db01|db01>", [(*DB01, 5432, "postgres", ALL)]),
        ("<http://db01|db01>", [(*DB01, 5432, "postgres", ALL)]),
        ("<http://db01:5432|db01:5432> from <http://office|office>", [(*DB01, 5432, "postgres", ["bot", "office"])]),
        ("[2001:db8::10]:5432", [("v6db", "2001:db8::10", 5432, "postgres", ALL)]),
        ("[2001:DB8:0::10]", [("v6db", "2001:db8::10", 5432, "postgres", ALL)]),
        ("postgres on db01", [(*DB01, 5432, "postgres", ALL)]),
        ("db01 from everywhere", [(*DB01, 5432, "postgres", ALL)]),
        ("db01 from web01 and bot", [(*DB01, 5432, "postgres", ["bot", "web01"])]),
        ("db01 from 198.18.0.40", [(*DB01, 5432, "postgres", ["bot", "office1"])]),
        ("db01 from OFFICE", [(*DB01, 5432, "postgres", ["bot", "office"])]),
        ("db02 pgbouncer", [("db02", "198.18.0.11", 6432, "pgbouncer", ALL)]),
        ("db02", [("db02", "198.18.0.11", 5432, "postgres", ALL), ("db02", "198.18.0.11", 6432, "pgbouncer", ALL)]),
        ("web01", [("web01", "198.18.0.30", 80, "http", ALL), ("web01", "198.18.0.30", 443, "https", ALL)]),
        ("bare01", [("bare01", "198.18.0.60", None, None, ALL)]),
        ("10.20.1.2:443", [("10.20.1.2", "10.20.1.2", 443, None, ALL)]),
        ("localhost:22 from dc", [("localhost", "127.0.0.1", 22, None, ["bot", "dc"])]),
    ],
)
def test_resolved(inv, text, expected):
    assert ask(text, inv) == expected


def test_request_keeps_text_and_adhoc_target_is_connect_only(inv):
    [r] = resolve_request(parse_request("10.20.1.2:443!"), inv)
    assert r.text == "10.20.1.2:443!"
    host = inv.resolve(r.target)
    assert host.adhoc and not host.probe_ssh


def test_returned_vantages_resolve(inv):
    [r] = resolve_request(parse_request("db01:5432 from web01, office"), inv)
    vs = [inv.resolve_vantage(v) for v in r.vantages]
    assert [(v.name, v.host.name, v.adhoc) for v in vs] == [
        ("bot", "localhost", False),
        ("web01", "web01", True),
        ("office", "office1", False),
    ]


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("why can't I connect to db01x", UnknownHost, "db01x is not in the inventory; did you mean db01?"),
        ("db01x:5432", UnknownHost, "db01x is not in the inventory; did you mean db01?"),
        ("10.99.0.1:80", UnknownHost, "10.99.0.1 is not in the inventory; known hosts: app01, bare01, big01, "),
        ("db01:pgbouncer", BadInput, "db01 has no service pgbouncer; known services of db01: postgres (5432)"),
        ("db01 pgbouncer", BadInput, "db01 has no service pgbouncer; known services of db01: postgres (5432)"),
        ("bare01:postgres", BadInput, "bare01 has no service postgres; bare01 has no known services; give a port"),
        ("db01:postgres 6432", BadInput, "postgres on db01 is port 5432, not 6432"),
        ("db02:postgres pgbouncer", BadInput, "two services given (postgres and pgbouncer)"),
        ("db01 db02", BadInput, "one target at a time: db01 and db02 are both hosts (say 'from db02'"),
        ("big01", BadInput, "big01 has 6 services; name one or give a port. known services of big01: svc0 (8000), "),
        ("10.20.1.2", BadInput, "10.20.1.2 is not an inventory host, so only connect tests can run: give a port"),
        (
            "db01 from mars",
            UnknownVantage,
            "mars is not a vantage or an inventory host; known vantages: bot, office, dc",
        ),
        ("why can't ofice reach db01", UnknownVantage, "did you mean office or office1?"),
        ("db01 from 10.20.0.1", UnknownVantage, "known vantages: bot, office, dc"),
        ("db01:0", BadInput, "port 0 is not in 1..65535"),
        ("db01:65536", BadInput, "port 65536 is not in 1..65535"),
    ],
)
def test_errors(inv, text, error, message):
    with pytest.raises(error) as e:
        ask(text, inv)
    assert message in str(e.value)
    assert isinstance(e.value, BadInput)


def test_unknown_host_message_is_exact(inv):
    with pytest.raises(UnknownHost) as e:
        ask("why can't I connect to db01x?", inv)
    assert str(e.value) == "db01x is not in the inventory; did you mean db01?"


def test_other_intents(inv):
    assert resolve_request(parse_request("ack 3"), inv) == []
    assert [h.name for h in resolve_hosts(parse_request("drift group:db"), inv)] == ["db01", "db02", "db03"]
    assert len(resolve_hosts(parse_request("drift"), inv)) == len(inv.names())
    assert [h.name for h in resolve_hosts(parse_request("history primary"), inv)] == ["db01"]
    with pytest.raises(UnknownHost, match="did you mean db01"):
        resolve_hosts(parse_request("history db01x"), inv)
    with pytest.raises(UnknownHost):
        resolve_hosts(parse_request("history 10.20.0.1"), inv)  # no history for ad-hoc addresses
    assert resolve_hosts(parse_request("db01"), inv) == []
