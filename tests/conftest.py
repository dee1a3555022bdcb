"""Suite-wide test settings.

With ``WHYCANT_REQUIRE_ALL=1`` (set by ``.ci/run``) every skip becomes a
failure: CI proves the lab (root, netns, sshd) and PostgreSQL tests ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REQUIRE_ALL = os.environ.get("WHYCANT_REQUIRE_ALL") == "1"
REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files (tests/render/golden) from the current renderers.",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if REQUIRE_ALL and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.longrepr = f"skipped while WHYCANT_REQUIRE_ALL=1 (CI must run every test): {reason}"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path, monkeypatch):
    """Never touch the user's real state directory or configuration."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("WHYCANT_CONFIG", raising=False)
    for var in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL"):
        monkeypatch.delenv(var, raising=False)


try:  # property-based tests share one profile; the autouse fixture above is harmless to them
    from hypothesis import HealthCheck, settings

    settings.register_profile("whycant", suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
    settings.load_profile("whycant")
except ImportError:  # pragma: no cover
    pass
from tests.lab.fixtures import *  # noqa: E402,F401,F403
from tests.lab.fleet_fixtures import *  # noqa: E402,F401,F403
