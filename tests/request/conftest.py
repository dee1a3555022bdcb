"""A small inventory shared by the request tests (built once: hypothesis reuses it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import parse_config
from bot.inventory import Inventory

FIXTURES = Path(__file__).parent / "fixtures"

CONFIG = {
    "hosts": {
        "db01": {"address": "198.18.0.10", "groups": ["db"], "services": {"postgres": 5432}, "aliases": ["primary"]},
        "db02": {"address": "198.18.0.11", "groups": ["db"], "services": {"postgres": 5432, "pgbouncer": 6432}},
        "app01": {"address": "198.18.0.20", "groups": ["app"]},
        "office1": {"address": "198.18.0.40"},
        "web01": {"address": "198.18.0.30", "services": {"https": 443, "http": 80}},
        "big01": {"address": "198.18.0.50", "services": {f"svc{i}": 8000 + i for i in range(6)}},
        "bare01": {"address": "198.18.0.60"},
        "v6db": {"address": "2001:db8::10", "services": {"postgres": 5432}},
        "localhost": {"address": "127.0.0.1", "transport": "local"},
    },
    "inventory": [str(FIXTURES / "hosts.ini")],
    "vantages": {"office": {"host": "office1", "note": "office LAN, behind NAT"}, "dc": {"host": "app01"}},
    "allowed_targets": ["10.20.0.0/16"],
}


def build_inventory() -> Inventory:
    return Inventory.from_config(parse_config(CONFIG, "/etc/whycant/whycant.yaml"))


INVENTORY = build_inventory()


@pytest.fixture
def inv() -> Inventory:
    return INVENTORY
