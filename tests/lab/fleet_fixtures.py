"""Pytest fixtures for the production-like fleet (tests/lab/fleet.py), imported by tests/conftest.py.

- ``fleet`` (session): the standard fleet (bastion, db07 behind it, nosftp01, drop01), torn
  down by its finalizer (its probe user removed too); skipped with the reason when the lab or
  dropbear is unavailable (a failure under ``WHYCANT_REQUIRE_ALL=1``).
- ``clean_fleet`` (function): the same fleet reset before and after the test.
- ``fleet_config`` (function): the fleet's validated whycant ``Config``.
"""

from __future__ import annotations

import pytest

from tests.lab.fleet import build_fleet, fleet_unavailable_reason
from tests.lab.lab import lab_unavailable_reason

__all__ = ["clean_fleet", "fleet", "fleet_config"]


@pytest.fixture(scope="session")
def fleet():
    reason = lab_unavailable_reason() or fleet_unavailable_reason()
    if reason:
        pytest.skip(f"fleet lab unavailable: {reason}")
    f = build_fleet()
    try:
        yield f
    finally:
        f.close()


@pytest.fixture
def clean_fleet(fleet):
    fleet.reset()
    try:
        yield fleet
    finally:
        fleet.reset()


@pytest.fixture
def fleet_config(fleet):
    from bot.config import parse_config

    return parse_config(fleet.whycant_config(), source="fleet")
