"""Which zone probes what: pure functions over the config and inventory hosts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from bot.config import Config
from probes.errors import BadInput
from probes.inventory import Host

BOT_VANTAGE = "bot"


class Named(Protocol):
    """Anything with a name: a ``VantagePoint``, an inventory ``Vantage``."""

    @property
    def name(self) -> str: ...


V = TypeVar("V", bound=Named)


class ZonesNeedPostgres(BadInput):
    """Zones are configured but the database is not PostgreSQL."""


def host_zone(host: Host, config: Config) -> str:
    """A host's zone: its config ``zone:``, else its Ansible ``whycant_zone`` (``Host.zone``), else the first of
    its groups in ``zones.groups``, else ``zones.own``."""
    hc = config.hosts.get(host.name)
    if hc is not None and hc.zone:
        return hc.zone
    if host.zone:
        return host.zone
    for group in host.groups:
        if group in config.zones.groups:
            return config.zones.groups[group]
    return config.zones.own


def vantage_zone(name: str, host: Host, config: Config) -> str:
    """A vantage's zone: its own ``zone:``, else its host's; ``bot`` is always the own zone."""
    if name == BOT_VANTAGE:
        return config.zones.own
    vc = config.vantages.get(name)
    if vc is not None and vc.zone:
        return vc.zone
    return host_zone(host, config)


def usable_vantages(target: Host, vantages: Sequence[V], config: Config) -> list[V]:
    """*vantages* (anything with a ``name``) without the bot's own for a target in another zone: it cannot reach
    it by design. All of them when that would leave none."""
    if host_zone(target, config) == config.zones.own:
        return list(vantages)
    return [v for v in vantages if v.name != BOT_VANTAGE] or list(vantages)


def zones_in_config(config: Config, host_zones: Iterable[str] = ()) -> set[str]:
    """Every zone other than the own one that the config names, or *host_zones* (``Inventory.zones``: the
    hosts' own zones, Ansible ``whycant_zone`` included)."""
    named = {h.zone for h in config.hosts.values() if h.zone} | set(host_zones)
    named |= {v.zone for v in config.vantages.values() if v.zone}
    named |= set(config.zones.groups.values())
    return named - {config.zones.own}


def require_postgres(config: Config, zones: Iterable[str]) -> None:
    """Zones run on the shared PostgreSQL: refuse SQLite clearly."""
    zones = sorted(set(zones))
    if zones and not config.database.startswith(("postgresql", "postgres:")):
        raise ZonesNeedPostgres(
            f"zone{'s' if len(zones) > 1 else ''} {', '.join(zones)} need{'' if len(zones) > 1 else 's'} PostgreSQL "
            f"(runners take their jobs from it), but the database is {config.database.split('://')[0]}; set "
            "`database: postgresql+asyncpg://...` and run `whycant db upgrade`"
        )


@dataclass
class ZonePlan:
    """One diagnosis split by zone: who probes the target and who runs each vantage's connect test."""

    own: str
    target_zone: str
    vantages: dict[str, list[str]] = field(default_factory=dict)  # zone -> vantage names, in asked order

    @property
    def remote_zones(self) -> list[str]:
        zones = {z for z in self.vantages if z != self.own}
        if self.target_zone != self.own:
            zones.add(self.target_zone)
        return sorted(zones)

    @property
    def local_only(self) -> bool:
        return not self.remote_zones


def plan_diagnosis(target: Host, vantages: Sequence[tuple[str, Host]], config: Config) -> ZonePlan:
    """Split a diagnosis of *target* from *vantages* ((name, host) pairs) by zone."""
    p = ZonePlan(own=config.zones.own, target_zone=host_zone(target, config))
    for name, host in vantages:
        p.vantages.setdefault(vantage_zone(name, host, config), []).append(name)
    return p


def chunk_by_zone(hosts: Sequence[Host], config: Config, chunk: int) -> list[tuple[str, list[Host]]]:
    """A sweep's hosts as (zone, chunk of at most *chunk* hosts), zones in name order."""
    by_zone: dict[str, list[Host]] = {}
    for h in hosts:
        by_zone.setdefault(host_zone(h, config), []).append(h)
    out: list[tuple[str, list[Host]]] = []
    for zone in sorted(by_zone):
        hs = by_zone[zone]
        out += [(zone, hs[i : i + chunk]) for i in range(0, len(hs), chunk)]
    return out
