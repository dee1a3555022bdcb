"""Shared fixtures for drift tests: replay recordings, a small service stand-in, databases."""

from __future__ import annotations

import posixpath
from types import SimpleNamespace
from typing import Any

from bot.config import parse_config
from probes.parsers.sysctl import sysctl_proc_path

GB_KB = 1024 * 1024

ORIGIN_SYSCTLS = {
    "net.ipv4.tcp_tw_recycle": 1,
    "net.ipv4.tcp_timestamps": 1,
    "net.core.somaxconn": 4096,
    "net.ipv4.tcp_max_syn_backlog": 16192,
    "net.ipv4.tcp_syncookies": 1,
    "net.core.netdev_max_backlog": 1000,
    "net.ipv4.ip_local_port_range": [32768, 60999],
    "kernel.osrelease": "3.10.0-1160.el7.x86_64",
}


def host_recording(
    sysctls: dict[str, Any],
    *,
    kernel: str = "5.15.0-91-generic",
    mem_gb: int = 16,
    cpus: int = 8,
    conf: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ReplayTransport entry for one Linux host: /proc/sys values, facts files, sysctl files (and their directories)."""
    files: dict[str, str | None] = {
        sysctl_proc_path(k): (" ".join(map(str, v)) if isinstance(v, list) else str(v)) + "\n"
        for k, v in sysctls.items()
    }
    files.update(
        {
            "/proc/sys/kernel/ostype": "Linux\n",
            "/proc/sys/kernel/osrelease": kernel + "\n",
            "/proc/meminfo": f"MemTotal:       {mem_gb * GB_KB} kB\nMemFree:        1000 kB\n",
            "/sys/devices/system/cpu/online": f"0-{cpus - 1}\n",
        }
    )
    files.setdefault(sysctl_proc_path("kernel.osrelease"), kernel + "\n")
    conf = conf or {}
    files.update(conf)
    dirs: dict[str, list[str]] = {}
    for path in conf:
        if path != "/etc/sysctl.conf":
            dirs.setdefault(posixpath.dirname(path), []).append(posixpath.basename(path))
    return {"files": files, "dirs": dirs}


def make_config(
    hosts: dict[str, dict], *, baselines: dict | None = None, reports: list | None = None, database: str | None = None
) -> Any:
    data: dict[str, Any] = {"hosts": hosts}
    if baselines:
        data["baselines"] = baselines
    if reports:
        data["reports"] = reports
    if database:
        data["database"] = database
    return parse_config(data, "test")


def make_service(config: Any, recording: dict[str, Any], *, store: Any = None, rules: Any = None) -> Any:
    """What run_drift needs from ``bot.service.Whycant``, over a ReplayTransport."""
    from bot.engine import load_rules
    from bot.inventory import Inventory
    from probes.collect import Collector, ProbeSettings, TransportSet
    from probes.transports.replay import ReplayTransport

    transports = TransportSet(ssh=ReplayTransport(recording))
    settings = ProbeSettings(command_timeout=5.0)
    return SimpleNamespace(
        config=config,
        inventory=Inventory.from_config(config),
        rules=rules if rules is not None else load_rules([]),
        transports=transports,
        collector=Collector(transports, settings),
        store=store,
    )


async def sqlite_db(path) -> Any:
    from bot.storage.db import Database

    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    return db
