"""Golden files: ``pytest tests/render --update-golden`` (or ``WHYCANT_UPDATE_GOLDEN=1``) rewrites them."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser):
    try:
        parser.addoption(
            "--update-golden",
            action="store_true",
            default=False,
            help="rewrite tests/render/golden/* from the current renderers",
        )
    except ValueError:  # already registered by a root conftest
        pass


@pytest.fixture
def update_golden(request) -> bool:
    opt = False
    try:
        opt = bool(request.config.getoption("--update-golden"))
    except ValueError:
        pass
    return opt or os.environ.get("WHYCANT_UPDATE_GOLDEN") == "1"
