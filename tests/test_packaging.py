"""A plain, non-editable install ships the playbooks and the migrations (package data)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return next(out.glob("whycant-*.whl"))


def test_wheel_contains_playbooks_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    playbooks = [n for n in names if n.startswith("playbooks/") and n.endswith(".yaml")]
    assert len(playbooks) >= 30
    for needed in (
        "migrations/env.py",
        "migrations/script.py.mako",
        "playbooks/tcp-tw-recycle.yaml",
        "bot/cli.py",
        "probes/collect.py",
    ):
        assert needed in names, needed
    assert any(n.startswith("migrations/versions/") and n.endswith(".py") and "__init__" not in n for n in names)
    assert not any(n.startswith("tests/") for n in names)


def test_installed_copy_loads_rules_and_migrates_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    code = (
        "import asyncio, bot, playbooks\n"
        f"assert bot.__file__.startswith({str(target)!r}), bot.__file__\n"
        "from bot.engine import load_rules\n"
        "rs = load_rules()\n"
        "assert len(rs.rules) >= 30 and not rs.errors, rs.errors\n"
        "from bot.storage.db import Database\n"
        "async def main():\n"
        "    db = Database('sqlite:///' + 'pkg.db')\n"
        "    print(await db.upgrade())\n"
        "    await db.dispose()\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), "upgrade reported no revision"
    assert (tmp_path / "pkg.db").exists()
