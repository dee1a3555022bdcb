"""Drift in the network-namespace lab (real sshd per host): every lens and an unreachable host.

Needs root, ip netns and sshd (the ``lab`` fixture skips with the reason otherwise).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PERSIST_FILE = Path("/etc/sysctl.d/99-whycant-drift-labtest.conf")


async def test_drift_over_the_lab(clean_lab, tmp_path):
    from bot.config import parse_config
    from bot.drift.report import run_drift
    from bot.drift.store import DriftStore
    from bot.service import Whycant
    from bot.storage.db import Database

    lab = clean_lab
    data = lab.whycant_config()
    ghost = ".".join(lab.address("db01").split(".")[:3] + ["199"])  # nothing answers there
    data["hosts"]["ghost01"] = {"address": ghost, "port": 22, "user": "root", "groups": ["lab"]}
    data["ssh"]["connect_timeout"] = 3
    data["baselines"] = {"lab": {"net.core.somaxconn": ">= 4096"}}
    data["database"] = f"sqlite:///{tmp_path}/lab.db"
    cfg = parse_config(data, "lab")
    db = Database(cfg.database)
    await db.upgrade()
    store = DriftStore(db)
    # the lab hosts share the machine's files: a drop-in every host will apply at next boot
    PERSIST_FILE.write_text("net.ipv4.tcp_keepalive_time = 7777\n")
    try:
        lab.set_sysctl("db01", "net.core.somaxconn", 1024)  # baseline violation + outlier among 3 peers
        svc = Whycant(cfg)
        try:
            first = await run_drift(svc, ["all"], store=store)
        finally:
            await svc.close()
        lab.set_sysctl("app01", "net.ipv4.tcp_fin_timeout", 33)  # a change since the previous run
        svc = Whycant(cfg)
        try:
            second = await run_drift(svc, ["all"], store=store)
        finally:
            await svc.close()
    finally:
        PERSIST_FILE.unlink(missing_ok=True)
        await db.dispose()

    assert set(first) >= {"hosts", "drifts", "errors"} and first["hosts"] == 4
    for d in first["drifts"]:
        assert set(d) >= {"host", "key", "value", "expected", "kind", "finding"}
    got = {(d["host"], d["key"], d["kind"]) for d in first["drifts"]}
    assert ("db01", "net.core.somaxconn", "baseline") in got
    assert ("db01", "net.core.somaxconn", "outlier") in got
    assert ("db01", "net.ipv4.tcp_keepalive_time", "persisted") in got
    assert [e["host"] for e in first["errors"] if not e.get("probe")] == ["ghost01"]
    changed = [d for d in second["drifts"] if d["kind"] == "changed"]
    assert ("app01", "net.ipv4.tcp_fin_timeout", 33) in {(d["host"], d["key"], d["value"]) for d in changed}
