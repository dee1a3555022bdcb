from bot.permissions import allowed, command_of, refusal, required_permission, uses_groups

P = {"diagnose": ["*"], "triage": ["U0ONCALL", "S0SRE", "C0INCIDENTS"], "drift": [], "admin": ["U0ROOT"]}


def test_everyone_user_group_channel_and_admin():
    assert allowed(P, "diagnose", "U0ANY")
    assert allowed(P, "triage", "U0ONCALL")
    assert not allowed(P, "triage", "U0ANY", "C0OPS")
    assert allowed(P, "triage", "U0ANY", "C0OPS", groups=["S0SRE"])
    assert allowed(P, "triage", "U0ANY", "C0INCIDENTS")
    assert not allowed(P, "drift", "U0ONCALL")
    assert allowed(P, "drift", "U0ROOT") and allowed(P, "anything", "U0ROOT")
    assert not allowed({}, "diagnose", "U0ANY")
    assert allowed({}, None, "U0ANY")


def test_commands_map_to_permissions():
    assert [required_permission(c) for c in ("diagnose", "rerun", "verify", "ack", "resolve", "drift", "help")] == [
        "diagnose",
        "diagnose",
        "diagnose",
        "triage",
        "triage",
        "drift",
        None,
    ]
    assert command_of("why can't I connect to db01:5432") == "diagnose"
    assert command_of("Resolve 42") == "resolve" and command_of("incident 42 ack") == "ack"
    assert command_of("") == "help" and command_of("drift db") == "drift"
    assert uses_groups(P) and not uses_groups({"diagnose": ["*"]})
    assert refusal("triage").startswith("you may not ack or resolve incidents")
