"""docs/deploy/whycant.service: `systemd-analyze verify` finds nothing to complain about, the hardening is
in place (and `systemd-analyze security` rates it), and its secrets are the variables serve reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import secrets
from tests.service.procs import REPO, need

UNIT = REPO / "docs" / "deploy" / "whycant.service"
INSTALLED_PATH = "/opt/whycant/venv/bin/whycant"


def _installed_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with ExecStart pointing at this checkout's whycant (verify checks the binary exists)."""
    whycant = Path(sys.executable).parent / "whycant"
    if not whycant.exists():
        pytest.skip("whycant is not installed in this virtualenv (make venv)")
    out = tmp_path / "whycant.service"
    out.write_text((text or UNIT.read_text()).replace(INSTALLED_PATH, str(whycant)))
    return out


def _verify(unit: Path) -> subprocess.CompletedProcess:
    return subprocess.run([need("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True, timeout=60)


def test_unit_verifies_cleanly(tmp_path):
    r = _verify(_installed_copy(tmp_path))
    assert r.returncode == 0 and r.stderr.strip() == "" and r.stdout.strip() == "", r.stdout + r.stderr


def test_verify_catches_a_broken_unit(tmp_path):  # the check above can fail
    r = _verify(_installed_copy(tmp_path, UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=bogus")))
    assert "bogus" in r.stderr


def test_unit_is_hardened_and_runs_as_its_own_user(tmp_path):
    text = UNIT.read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    assert settings["User"] == "whycant" and settings["ProtectSystem"] == "strict"
    assert settings["StateDirectory"] == "whycant" and settings["NoNewPrivileges"] == "yes"
    assert settings["CapabilityBoundingSet"] == "" and settings["PrivateTmp"] == "yes"
    assert "serve" in settings["ExecStart"] and "--host 127.0.0.1" in settings["ExecStart"]
    grace = float(re.search(r"--grace (\d+)", settings["ExecStart"]).group(1))  # type: ignore[union-attr]
    assert float(settings["TimeoutStopSec"]) > grace  # systemd waits for the graceful stop
    r = subprocess.run(
        [
            need("systemd-analyze"),
            "security",
            "--offline=true",
            "--threshold=30",  # 0..100: exposure 3.0
            str(_installed_copy(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    m = re.search(r"Overall exposure level for whycant.service: ([\d.]+)", r.stdout)
    assert m and float(m.group(1)) <= 3.0


def test_unit_secrets_are_the_variables_serve_reads():
    env = set(re.findall(r"^Environment=(\w+)_FILE=%d/", UNIT.read_text(), re.M))
    assert env == {secrets.SLACK_BOT_TOKEN, secrets.SLACK_APP_TOKEN, secrets.ALERTMANAGER_TOKEN, secrets.DATABASE_URL}
    sysusers = (REPO / "docs" / "deploy" / "whycant.sysusers").read_text()
    assert re.search(r"^u whycant ", sysusers, re.M)
