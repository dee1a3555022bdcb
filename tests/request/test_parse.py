"""parse_request: the chat grammar alone (pure, no inventory)."""

from __future__ import annotations

import pytest

from bot.request import INTENTS, ParsedRequest, parse_request
from probes.errors import BadInput


def tpl(p: ParsedRequest) -> tuple:
    return (p.intent, p.target_token, p.port, p.service, p.vantage_tokens)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("why can't I connect to db01", ("diagnose", "db01", None, None, [])),
        ("why cant I connect to db01:5432", ("diagnose", "db01", 5432, None, [])),
        ("db01 5432", ("diagnose", "db01", 5432, None, [])),
        ("db01:postgres", ("diagnose", "db01", None, "postgres", [])),
        ("why can't app01 reach db01 on 443", ("diagnose", "db01", 443, None, ["app01"])),
        ("why can't office connect to db01:9000", ("diagnose", "db01", 9000, None, ["office"])),
        ("is db01:5432 reachable from dc and office", ("diagnose", "db01", 5432, None, ["dc", "office"])),
        (
            "is db01:5432 reachable from dc, office & app01?",
            ("diagnose", "db01", 5432, None, ["dc", "office", "app01"]),
        ),
        ("198.18.0.10:5432", ("diagnose", "198.18.0.10", 5432, None, [])),
        ("WHY CAN'T I CONNECT TO DB01?", ("diagnose", "DB01", None, None, [])),
        ("db01?", ("diagnose", "db01", None, None, [])),
        ("db01:5432!", ("diagnose", "db01", 5432, None, [])),
        ("why can’t I connect to db01…", ("diagnose", "db01", None, None, [])),
        ("why can\u2019t office connect to \u201cdb01\u201d", ("diagnose", "db01", None, None, ["office"])),
        ("why can't I connect to <mailto:x@db01|db01>", ("diagnose", "db01", None, None, [])),
        ("why can't I connect to <http://db01|db01>", ("diagnose", "db01", None, None, [])),
        ("why can't I connect to <http://db01:5432|db01:5432>", ("diagnose", "db01", 5432, None, [])),
        ("<http://db01.example.com:5432>", ("diagnose", "db01.example.com", 5432, None, [])),
        ("<mailto:root@db01>", ("diagnose", "db01", None, None, [])),
        ("<@U123ABC> why can't I connect to db01", ("diagnose", "db01", None, None, [])),
        ("<@U123ABC|whycant> db01 5432 <!here>", ("diagnose", "db01", 5432, None, [])),
        ("connect to [2001:db8::1]:5432", ("diagnose", "2001:db8::1", 5432, None, [])),
        ("is 2001:db8::1 up", ("diagnose", "2001:db8::1", None, None, [])),
        ("[2001:db8::1]:postgres from office", ("diagnose", "2001:db8::1", None, "postgres", ["office"])),
        ("postgres://app@db01:5432/appdb is timing out", ("diagnose", "db01", 5432, None, [])),
        ("ssh root@db01", ("diagnose", "db01", None, None, [])),
        ("db01 port 5432 from the office", ("diagnose", "db01", 5432, None, ["office"])),
        ("db01 on port 5432", ("diagnose", "db01", 5432, None, [])),
        ("db01 tcp/5432", ("diagnose", "db01", 5432, None, [])),
        ("db01 service postgres", ("diagnose", "db01", None, "postgres", [])),
        ("app01 can't reach db01", ("diagnose", "db01", None, None, ["app01"])),
        ("can app01 talk to db01:5432?", ("diagnose", "db01", 5432, None, ["app01"])),
        ("why can the office not get to db01", ("diagnose", "db01", None, None, ["office"])),
        ("db01 from everywhere", ("diagnose", "db01", None, None, ["all"])),
        ("hey whycant, db01:5432 keeps timing out from dc", ("diagnose", "db01", 5432, None, ["dc"])),
        ("*db01*", ("diagnose", "db01", None, None, [])),
        ("`db01:5432`", ("diagnose", "db01", 5432, None, [])),
        ("\u200bdb01\u200b", ("diagnose", "db01", None, None, [])),
        ("ｄｂ０１", ("diagnose", "db01", None, None, [])),  # full-width, NFKC-normalised
    ],
)
def test_phrasings(text, expected):
    assert tpl(parse_request(text)) == expected


def test_extra_words_kept_for_service_matching():
    p = parse_request("postgres on db01")
    assert (p.target_token, p.extra_tokens) == ("postgres", ["db01"])
    assert parse_request("db01 pgbouncer").extra_tokens == ["pgbouncer"]
    assert parse_request("why can't I connect to db01 today?").extra_tokens == []


@pytest.mark.parametrize(
    "text, intent, args",
    [
        ("help", "help", []),
        ("", "help", []),
        ("<@U123ABC>", "help", []),
        ("incidents", "incidents", []),
        ("incidents list", "incidents", []),
        ("list incidents", "incidents", []),
        ("incidents open", "incidents", ["open"]),
        ("incident 12", "incident", ["12"]),
        ("incident show #12", "incident", ["12"]),
        ("show incident 12", "incident", ["12"]),
        ("incidents show 7", "incident", ["7"]),
        ("ack 3", "ack", ["3"]),
        ("<@U1> ack incident #3", "ack", ["3"]),
        ("incidents ack 3", "ack", ["3"]),
        ("resolve 5", "resolve", ["5"]),
        ("resolve incident 005", "resolve", ["5"]),
        ("drift", "drift", []),
        ("drift group:db", "drift", ["group:db"]),
        ("drift for db01 and web01", "drift", ["db01", "web01"]),
        ("history db01", "history", ["db01"]),
        ("history of DB01?", "history", ["DB01"]),
        ("rerun", "rerun", []),
        ("re-run #4", "rerun", ["4"]),
    ],
)
def test_intents(text, intent, args):
    p = parse_request(text)
    assert p.intent in INTENTS
    assert (p.intent, p.args) == (intent, args)


@pytest.mark.parametrize(
    "text, message",
    [
        ("db01:0", "port 0 is not in 1..65535"),
        ("db01:65536", "port 65536 is not in 1..65535"),
        ("db01 port 70000", "port 70000 is not in 1..65535"),
        ("db01:99999999999999999999", "is not in 1..65535"),
        ("db01:$(reboot)x", "$(reboot)x after db01: is not a port number or a service name"),
        ("db01 service ;rm", ";rm is not a port number or a service name"),
        ("db01 5432 6432", "several ports given (5432, 6432): ask about one at a time"),
        ("db01:5432 on 443", "several ports given (5432, 443)"),
        ("why can't I connect", "which host?"),
        ("on port 5432", "which host?"),
        ("ack", "ack needs an incident number, e.g. 'ack 12'"),
        ("ack db01", "ack needs an incident number"),
        ("resolve everything", "resolve needs an incident number"),
        ("incident show", "incident needs an incident number"),
        ("history", "history needs a host"),
        ("x" * 5000, "too long"),
        (":5432", "no host name before the port"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(BadInput) as e:
        parse_request(text)
    assert message in str(e.value)


def test_parse_keeps_text_and_is_pure():
    text = "why can't I connect to db01"
    assert parse_request(text) == parse_request(text)
    assert parse_request(text).text == text
