"""The command registry is the one place commands live: grammar, permissions, help, buttons and dispatch agree."""

from __future__ import annotations

import pytest

from bot import commands, permissions
from bot.render.message import ACTION_LABELS, ACTIONS
from bot.request import INTENTS, parse_request
from bot.service import HELP, Whycant
from bot.slack.buttons import ACTION_RE
from probes.errors import BadInput

from .conftest import OVERFLOWS, PERMS

SUFFIX = {"history": " localhost", "drift": " localhost", "analyze": "\n```\nx\n```", "incidents": "", "help": ""}


def example_for(c: commands.Command, phrasing: str) -> str:
    if "#" in phrasing:
        return phrasing.replace("#", "7")
    return phrasing + SUFFIX.get(c.name, " 7")


def test_every_command_has_a_handler_a_permission_key_and_a_help_line():
    for c in commands.COMMANDS:
        assert callable(getattr(Whycant, c.handler, None)), f"{c.name}: no Whycant.{c.handler}"
        assert c.permission in (None, "diagnose", "triage", "drift"), c
        if c.phrasings:
            assert c.help and c.help.split()[0] in [p.split()[0] for p in c.phrasings] + ["why"], c
    assert len({c.name for c in commands.COMMANDS}) == len(commands.COMMANDS)


@pytest.mark.parametrize("c", commands.chat_commands(), ids=lambda c: c.name)
def test_every_phrasing_parses_to_its_command(c):
    for phrasing in c.phrasings:
        text = example_for(c, phrasing)
        assert parse_request(text).intent == c.name, text
        assert permissions.command_of(text) == c.name
    assert c.name in INTENTS


def test_help_needs_nothing_and_lists_every_chat_command():
    assert permissions.required_permission("help") is None
    assert permissions.allowed({}, permissions.required_permission("help"), "U0NOBODY")
    for c in commands.chat_commands():
        assert c.help in HELP
    assert "waive" not in HELP.split()  # a button, not a chat command


def test_disagreements_of_old_are_settled():
    # waive is the drift report's button and needs `drift`, everywhere
    assert permissions.required_permission("waive") == "drift"
    # verify and evidence are typed like their buttons
    assert parse_request("verify 42").intent == "verify" and parse_request("verify 42").args == ["42"]
    assert parse_request("show evidence #9").args == ["9"]
    assert parse_request("incident 42 ack").intent == "ack" and parse_request("incident 42 ack").args == ["42"]
    assert parse_request("incident #42 resolve").intent == "resolve"
    # and a malformed command is still classed by its words for the permission check
    with pytest.raises(BadInput, match="ack needs an incident number"):
        parse_request("ack everything")
    assert permissions.command_of("ack everything") == "ack"
    assert permissions.command_of("db01:5432 from office") == "diagnose"


def test_buttons_come_from_the_registry():
    assert ACTIONS == ("rerun", "ack", "resolve", "evidence", "verify")
    assert ACTION_LABELS["verify"] == "Verify fix"
    for name in ACTIONS:
        assert ACTION_RE.match(f"whycant_{name}")
        assert commands.get(name).handler == "cmd_incident"
    assert not ACTION_RE.match("whycant_help") and not ACTION_RE.match("whycant_waive")


async def test_service_and_front_end_ask_for_the_same_permission(svc):
    for c in commands.COMMANDS:
        for user in ("U0ANY", "U0ONCALL", "U0DRIFT", "U0ROOT"):
            expect = permissions.allowed(PERMS, permissions.required_permission(c.name), user)
            assert svc.allowed(c.name, user=user) is expect, (c.name, user)


async def test_help_is_answered_to_someone_without_any_permission(tmp_path):
    from .conftest import config

    s = await Whycant.create(config(tmp_path, permissions={}))
    try:
        out = await s.handle("help", who="U0NOBODY")
        assert out.kind == "help" and "analyze" in out.text
        refused = await s.handle("incidents", who="U0NOBODY")
        assert refused.kind == "refused" and "`diagnose`" in refused.text
    finally:
        await s.close()


async def test_typed_verify_and_evidence_reach_the_service(svc):
    pasted = await svc.handle("analyze\n```\n" + OVERFLOWS.read_text() + "```", who="U0ONCALL")
    assert pasted.incident and pasted.incident.id == 1
    ev = await svc.handle("evidence 1", who="U0ONCALL")
    assert ev.kind == "incident" and ev.evidence is not None and ev.evidence.source == "pasted"
    verify = await svc.handle("verify 1", who="U0ONCALL")
    assert verify.kind == "error" and "came from pasted output: there is nothing to verify" in verify.text
    ack = await svc.handle("incident 1 ack", who="U0ANY")
    assert ack.kind == "refused" and "`triage`" in ack.text
    ack = await svc.handle("incident 1 ack", who="U0ONCALL")
    assert ack.kind == "ack" and ack.incident.status == "acked"
    missing = await svc.handle("verify 99", who="U0ONCALL")
    assert missing.kind == "error" and "99" in missing.text
