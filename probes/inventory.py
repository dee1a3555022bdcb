"""Inventory hosts and vantages: the only things whycant will ever probe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TransportName = Literal["ssh", "local", "replay"]


@dataclass(frozen=True)
class Host:
    """One inventory host. ``address`` is what SSH and connect tests use."""

    name: str
    address: str
    port: int = 22
    user: str | None = None
    transport: TransportName = "ssh"
    groups: tuple[str, ...] = ()
    services: dict[str, int] = field(default_factory=dict, hash=False, compare=False)
    aliases: tuple[str, ...] = ()
    note: str | None = None
    # Added for bot.inventory (defaults keep every existing construction valid):
    # ``adhoc``: not an inventory host but an address inside ``allowed_targets``;
    # ``probe_ssh``: False means "never SSH into it": only connect tests run.
    adhoc: bool = False
    probe_ssh: bool = True
    # How SSH reaches it beyond address/port/user (config, Ansible vars, ~/.ssh/config):
    # ``proxy_jump`` in OpenSSH ProxyJump syntax ("bastion01", "user@host:port,host2");
    # ``client_keys``: this host's own identity files (ansible_ssh_private_key_file).
    proxy_jump: str | None = None
    client_keys: tuple[str, ...] = ()
    # The network zone the inventory gives it (config ``zone:`` or Ansible ``whycant_zone``); None: decided by
    # ``zones.groups`` / ``zones.own`` (bot/zones/plan.py).
    zone: str | None = None

    @property
    def is_local(self) -> bool:
        return self.transport == "local"
