"""Pytest fixtures for the network-namespace lab (imported by tests/conftest.py).

- ``lab`` (session): one Lab for the whole run; skipped with the reason when not
  root or when ip/nft/sshd are missing (``WHYCANT_REQUIRE_ALL=1`` turns that skip
  into a failure). Torn down by its finalizer, also when tests fail, and at exit.
- ``clean_lab`` (function): the same lab with every failure mode reset before and
  after the test (helpers killed, nft tables/routes deleted, sysctls restored,
  sshds restarted).
- ``lab_config`` (function): a validated whycant ``Config`` pointing at the lab.
- ``lab_hosts`` (function): ``{name: probes.inventory.Host}`` for the sshd hosts.
- ``lab_transport`` (async, function): an ``SSHTransport`` on the lab, closed after.
"""

from __future__ import annotations

import pytest

from tests.lab.lab import Lab, lab_unavailable_reason

__all__ = ["lab", "clean_lab", "lab_config", "lab_hosts", "lab_transport"]


@pytest.fixture(scope="session")
def lab():
    reason = lab_unavailable_reason()
    if reason:
        pytest.skip(f"lab unavailable: {reason}")
    the_lab = Lab()
    the_lab.start()
    try:
        yield the_lab
    finally:
        the_lab.close()


@pytest.fixture
def clean_lab(lab):
    lab.reset()
    try:
        yield lab
    finally:
        lab.reset()


@pytest.fixture
def lab_config(lab):
    from bot.config import parse_config

    return parse_config(lab.whycant_config(), source="lab")


@pytest.fixture
def lab_hosts(lab):
    from probes.inventory import Host

    return {
        h.name: Host(name=h.name, address=h.address, port=22, user="root") for h in lab.hosts.values() if h.sshd_wanted
    }


@pytest.fixture
async def lab_transport(lab_config):
    from probes.transports.ssh import SSHTransport

    t = SSHTransport(lab_config.ssh)
    try:
        yield t
    finally:
        await t.close()
