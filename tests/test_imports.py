"""Imports follow the data flow (request -> probes -> evidence -> rules -> findings -> render -> reply/store).

The graph comes from ``tests/import_graph.py`` (``python -m tests.import_graph --summary`` prints it).
"""

from __future__ import annotations

from tests.import_graph import Graph, build

GRAPH = build()

# Known, and fixed by other branches this round: delete an entry once its import is gone.
PROBES_TO_BOT = {("probes.transports.ssh", "bot.config")}  # fleet-ssh: probes get their own settings type
PRIVATE: set[tuple[str, str]] = set()


def test_no_import_cycle_between_modules():
    assert GRAPH.cycles() == []


def test_no_cycle_between_packages():
    assert GRAPH.packages().cycles() == []  # e.g. bot.drift <-> bot.slack, probes.evidence <-> probes.parsers


def test_probes_never_import_bot():
    assert set(GRAPH.crossing("probes", "bot")) <= PROBES_TO_BOT
    # and the core never imports a front end
    for core in (
        "bot.service",
        "bot.pipeline",
        "bot.triage",
        "bot.engine",
        "bot.drift",
        "bot.storage",
        "bot.render",
        "bot.paste",
        "bot.commands",
    ):
        for front in ("bot.slack", "bot.cli"):
            assert GRAPH.crossing(core, front) == [], (core, front)


def test_no_private_name_imported_from_another_module():
    assert set(GRAPH.private) <= PRIVATE


def test_the_registry_and_the_grammar_import_nothing_of_the_service():
    assert GRAPH.edges["bot.commands"] <= {"probes.errors"}
    grammar = [m for m in GRAPH.edges if m == "bot.request" or m.startswith("bot.request.")]
    assert len(grammar) > 1  # the package and its modules
    for module in [*grammar, "bot.permissions"]:
        assert "bot.service" not in GRAPH.edges[module], module


def test_the_checker_finds_a_cycle_and_a_crossing():
    g = Graph(edges={"a.x": {"a.y"}, "a.y": {"a.x"}, "probes.p": {"bot.q"}, "bot.q": set()})
    assert g.cycles() == [["a.x", "a.y"]]
    assert g.crossing("probes", "bot") == [("probes.p", "bot.q")]
