"""Alertmanager webhook notifications → what to diagnose, where to post it (pure: no I/O).

``parse_notification(data)`` validates the webhook body (version 4, as Alertmanager's
``webhook_config`` sends it). ``plan(notification, inventory, config)`` maps every alert to
an inventory target (label ``whycant_target`` = ``db01:5432`` / ``db01:postgres``, else label
``instance`` = ``host:port``) and a channel (the first ``alertmanager.routes`` entry whose
receiver and labels match, else ``alertmanager.default_channel``, else ``slack.default_channel``).
Firing alerts are grouped to one diagnosis per target, at most ``alertmanager.max_targets`` per
notification; unknown or malformed targets are refused with the reason and never probed.
See docs/alerting.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.config import AlertmanagerConfig, Config
from bot.inventory import Inventory
from bot.request import split_hostport
from probes.errors import BadInput

MAX_ALERTS = 1000  # alerts read from one notification; the rest are refused (set max_alerts in Alertmanager)
TARGET_LABEL = "whycant_target"
INSTANCE_LABEL = "instance"
MAX_LABEL_CHARS = 256
_TOKEN_RE = re.compile(r"^[A-Za-z0-9._:\[\]-]+$")


class AlertError(BadInput):
    """The webhook body is not an Alertmanager notification."""


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")

    def key(self) -> str:
        """The fingerprint (Alertmanager's, or a hash of the labels when absent)."""
        if self.fingerprint:
            return self.fingerprint
        flat = "\0".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return hashlib.sha256(flat.encode()).hexdigest()[:16]

    def claim_id(self, what: str = "firing") -> str:
        """A short, fixed-size id for this firing (fingerprint + start): replays and repeats share it."""
        digest = hashlib.sha256(f"{self.key()}\0{self.startsAt}".encode()).hexdigest()[:40]
        return f"am-{what}:{digest}"


class Notification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    groupKey: str = ""
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert]


def parse_notification(data: Any) -> Notification:
    """Validate a decoded webhook body; AlertError naming the first bad field otherwise."""
    if not isinstance(data, dict):
        raise AlertError(f"expected a JSON object (an Alertmanager notification), got {type(data).__name__}")
    try:
        n = Notification.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise AlertError(f"not an Alertmanager notification: {where}: {err['msg']}") from None
    if n.version != "4":
        raise AlertError(f"unsupported notification version {n.version!r} (whycant reads version 4)")
    return n


@dataclass(frozen=True)
class Target:
    host: str  # inventory name
    address: str
    port: int
    service: str | None = None

    @property
    def text(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Item:
    """One diagnosis to run: a target, its channel, the alerts that asked for it."""

    target: Target
    channel: str
    alerts: list[Alert] = field(default_factory=list)


@dataclass
class Plan:
    diagnose: list[Item] = field(default_factory=list)
    resolved: list[tuple[Alert, Target | None, str | None]] = field(default_factory=list)  # + its channel
    refused: list[tuple[Alert, str]] = field(default_factory=list)
    skipped: list[tuple[Alert, Target]] = field(default_factory=list)  # over max_targets


def _show(s: str, limit: int = 64) -> str:
    s = "".join(c if c.isprintable() else "?" for c in s)
    return repr(s if len(s) <= limit else s[:limit] + "…")


def target_of(alert: Alert, inventory: Inventory) -> Target:
    """The inventory host and port an alert is about; BadInput saying why not."""
    label = TARGET_LABEL if alert.labels.get(TARGET_LABEL) else INSTANCE_LABEL
    raw = (alert.labels.get(label) or "").strip()
    if not raw:
        raise BadInput(f"no {TARGET_LABEL} or {INSTANCE_LABEL} label")
    if len(raw) > MAX_LABEL_CHARS or not _TOKEN_RE.match(raw):
        raise BadInput(f"label {label}={_show(raw)} is not host:port")
    host_token, port, service = split_hostport(raw)
    host = inventory.lookup(host_token)
    if host is None:
        raise BadInput(f"label {label}={_show(raw)}: {_show(host_token)} is not an inventory host")
    if service is not None:
        if service not in host.services:
            known = ", ".join(f"{n} ({p})" for n, p in sorted(host.services.items())) or "none"
            raise BadInput(f"label {label}={_show(raw)}: {host.name} has no service {_show(service)} (known: {known})")
        port = host.services[service]
    if port is None:
        raise BadInput(f"label {label}={_show(raw)} has no port")
    if service is None:
        service = next((n for n, p in sorted(host.services.items()) if p == port), None)
    return Target(host=host.name, address=host.address, port=port, service=service)


def channel_for(receiver: str, labels: dict[str, str], am: AlertmanagerConfig, config: Config) -> str | None:
    """The first matching route's channel, else the defaults."""
    for r in am.routes:
        if r.receiver is not None and r.receiver != receiver:
            continue
        if all(labels.get(k) == v for k, v in r.match.items()):
            return r.channel
    return am.default_channel or config.slack.default_channel


def plan(n: Notification, inventory: Inventory, config: Config) -> Plan:
    """Sort a notification's alerts into diagnoses (one per target, bounded), resolutions and refusals."""
    am = config.alertmanager
    out = Plan()
    by_target: dict[Target, Item] = {}
    for alert in n.alerts[MAX_ALERTS:]:
        out.refused.append((alert, f"more than {MAX_ALERTS} alerts in one notification"))
    for alert in n.alerts[:MAX_ALERTS]:
        labels = {**n.commonLabels, **alert.labels}
        try:
            target = target_of(alert, inventory)
        except BadInput as e:
            if alert.status == "resolved":
                out.resolved.append((alert, None, None))
            else:
                out.refused.append((alert, str(e)))
            continue
        if alert.status == "resolved":
            out.resolved.append((alert, target, channel_for(n.receiver, labels, am, config)))
            continue
        item = by_target.get(target)
        if item is not None:
            item.alerts.append(alert)
            continue
        if len(by_target) >= am.max_targets:
            out.skipped.append((alert, target))
            continue
        channel = channel_for(n.receiver, labels, am, config)
        if channel is None:
            out.refused.append((alert, "no channel: set alertmanager.default_channel or a matching route"))
            continue
        by_target[target] = item = Item(target=target, channel=channel, alerts=[alert])
        out.diagnose.append(item)
    return out
