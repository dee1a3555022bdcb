"""A watch round's light probes: one connect attempt per vantage, and the target's counter sample.

Shared by the watch (``bot/watch/runner.py``, its own zone) and ``whycant runner`` (a watch round's job
for the runner's zone), so both probe the same way."""

from __future__ import annotations

import logging

from probes.collect import HostProbe, ProbeSettings, TransportSet
from probes.evidence import ConnectResult, HostEvidence
from probes.inventory import Host
from probes.parsers.facts import parse_nf_conntrack_stat

log = logging.getLogger("whycant.watch")

CONNTRACK_STAT = "/proc/net/stat/nf_conntrack"


def light_settings(probe: ProbeSettings, connect_timeout: float) -> ProbeSettings:
    """One attempt of at most *connect_timeout* seconds, no window; the command timeout of *probe*."""
    return ProbeSettings(
        connect_attempts=1,
        connect_timeout=connect_timeout,
        connect_interval=0,
        command_timeout=probe.command_timeout,
        window_seconds=0,
    )


def attempt_outcome(result: ConnectResult) -> str | None:
    """The outcome of a light attempt; None when the vantage itself could not test (not a target failure)."""
    if result.error or not result.attempts:
        return None
    return result.attempts[0].outcome


def can_sample(host: Host) -> bool:
    """Counters need SSH (or local) access to an inventory host."""
    return bool(host.probe_ssh and not host.adhoc)


async def sample_counters(transports: TransportSet, host: Host, settings: ProbeSettings) -> dict[str, int] | None:
    """*host*'s counters (``Group.Name``) plus ``conntrack.*``; None when they could not be read."""
    if not can_sample(host):
        return None
    t = transports.for_host(host)
    hp = HostProbe(host, t, settings, HostEvidence(host=host.name))
    got = await hp.counters("counters_t0")
    if got is None:
        return None
    try:
        files = await t.read_files(host, [CONNTRACK_STAT], timeout=settings.command_timeout)
        if files.get(CONNTRACK_STAT):
            got.update({f"conntrack.{k}": v for k, v in parse_nf_conntrack_stat(files[CONNTRACK_STAT] or "").items()})
    except Exception as e:  # noqa: BLE001 - conntrack is optional (module not loaded)
        log.debug("%s: no conntrack stats: %s", host.name, e)
    return got
