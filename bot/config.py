"""Configuration file (docs/architecture.md §Configuration): lookup order, embedded default, validation.

Lookup: ``--config F`` > ``$WHYCANT_CONFIG`` > ``./whycant.yaml`` > embedded default.
Validation errors name the key and say what is wrong (``ConfigError``).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.secrets import DATABASE_URL, env_or_file
from probes.errors import BadInput
from probes.transports.ssh_settings import DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_USER, SSHSettings


class ConfigError(BadInput):
    """The configuration file is missing, unreadable or invalid."""


def state_dir() -> Path:
    """XDG state directory for whycant (``~/.local/state/whycant`` by default)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "whycant"


def default_database_url() -> str:
    return f"sqlite:///{state_dir() / 'whycant.db'}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SSHConfig(_Strict):
    user: str | None = DEFAULT_USER
    client_keys: list[str] = Field(default_factory=list)
    known_hosts: str = "~/.ssh/known_hosts"
    config: str | list[str] | None = None  # OpenSSH client config(s); unset: ~/.ssh/config if it exists; []: none
    proxy_jump: str | None = None
    max_output_bytes: int = Field(default=DEFAULT_MAX_OUTPUT_BYTES, ge=1024, le=256 * 1024 * 1024)
    sudo: bool = False
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    command_timeout: float = Field(default=15.0, gt=0, le=600)
    keepalive_interval: float = Field(default=15.0, ge=0)
    max_concurrency: int = Field(default=50, ge=1, le=2000)
    per_host_concurrency: int = Field(default=4, ge=1, le=64)
    idle_timeout: float = Field(default=300.0, ge=0)
    pool_max: int = Field(default=512, ge=1, le=1_000_000)  # pooled connections; above it the LRU idle ones are closed

    @property
    def host_key_checking(self) -> bool:
        return self.known_hosts.strip().lower() != "ignore"

    def settings(self, base_dir: str | Path | None = None) -> SSHSettings:
        """The SSH transport's settings (an unset known_hosts lets the OpenSSH config's apply)."""
        files = None if self.config is None else tuple([self.config] if isinstance(self.config, str) else self.config)
        return SSHSettings(
            user=self.user,
            client_keys=tuple(self.client_keys),
            known_hosts=self.known_hosts if "known_hosts" in self.model_fields_set else None,
            config_files=files,
            proxy_jump=self.proxy_jump,
            connect_timeout=self.connect_timeout,
            command_timeout=self.command_timeout,
            keepalive_interval=self.keepalive_interval,
            max_concurrency=self.max_concurrency,
            per_host_concurrency=self.per_host_concurrency,
            idle_timeout=self.idle_timeout,
            pool_max=self.pool_max,
            max_output_bytes=self.max_output_bytes,
            sudo=self.sudo,
            base_dir=str(base_dir) if base_dir is not None else None,
        )


class HostConfig(_Strict):
    address: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = None
    transport: Literal["ssh", "local"] = "ssh"
    groups: list[str] = Field(default_factory=list)
    services: dict[str, int] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    note: str | None = None
    proxy_jump: str | None = None  # OpenSSH ProxyJump syntax; "none" = connect directly
    client_keys: list[str] = Field(default_factory=list)
    zone: str | None = None  # network zone (docs/zones.md); default: zones.groups, then zones.own

    @field_validator("services")
    @classmethod
    def _ports(cls, v: dict[str, int]) -> dict[str, int]:
        for name, port in v.items():
            if not 1 <= int(port) <= 65535:
                raise ValueError(f"service {name!r}: port {port} is not in 1..65535")
        return v


class GroupConfig(_Strict):
    proxy_jump: str | None = None


class VantageConfig(_Strict):
    host: str
    note: str | None = None
    nat: bool | None = None  # behind NAT; when unset, a note mentioning NAT counts
    zone: str | None = None  # network zone of the vantage (default: its host's zone)


class ProbeConfig(_Strict):
    window_seconds: float = Field(default=5.0, ge=0, le=120)
    connect_attempts: int = Field(default=10, ge=1, le=100)
    connect_timeout: float = Field(default=2.0, gt=0, le=30)
    connect_interval: float = Field(default=0.1, ge=0, le=5)
    drop_reasons: bool = True  # trace the target's kfree_skb drop reasons (docs/drop-reasons.md)


class LimitsConfig(_Strict):
    """Load limits (docs/load.md): asks from chat per user / channel, SYNs and channels per target."""

    asks_per_user_per_minute: int = Field(default=6, ge=0, le=10000)  # 0 = no limit
    asks_per_channel_per_minute: int = Field(default=30, ge=0, le=100000)
    syn_per_target_per_minute: int = Field(default=600, ge=1, le=100000)
    connect_tests_per_target: int = Field(default=2, ge=1, le=64)
    ssh_channels_per_target: int = Field(default=8, ge=1, le=256)
    syn_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    connect_batch_window_seconds: float = Field(default=0.25, ge=0, le=2)  # 0 = one remote process per connect test


class WatchConfig(_Strict):
    """Watch mode (docs/watch.md)."""

    interval_seconds: float = Field(default=10.0, ge=1, le=3600)
    counters_seconds: float = Field(default=60.0, ge=1, le=3600)
    syn_per_minute: int = Field(default=120, ge=1, le=100000)  # per target, whatever the watches and askers
    stale_seconds: float = Field(default=30.0, ge=2, le=3600)  # a watch whose owner is silent this long is taken over


class ReportConfig(_Strict):
    name: str
    cron: str
    channel: str
    hosts: list[str] = Field(default_factory=lambda: ["all"])
    timezone: str = "UTC"
    skip_if_unchanged: bool = False

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if not croniter.is_valid(v):
            raise ValueError(f"{v!r} is not a valid cron expression")
        return v


class ZonesConfig(_Strict):
    """Network zones and their runners (docs/zones.md)."""

    own: str = Field(default="local", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")  # the bot's (or runner's) own zone
    groups: dict[str, str] = Field(default_factory=dict)  # inventory group -> zone
    runner_stale_seconds: float = Field(
        default=60.0, gt=0, le=3600
    )  # a zone without a heartbeat this recent has no runner
    job_timeout: float = Field(default=60.0, gt=0, le=3600)  # how long ask waits for a zone's answer
    runner_concurrency: int = Field(default=8, ge=1, le=256)
    sweep_chunk: int = Field(default=25, ge=1, le=1000)  # hosts per drift-sweep job


class SlackConfig(_Strict):
    default_channel: str | None = None
    progress_updates: bool = True


class AlertRoute(_Strict):
    """Where alerts go: the first route whose receiver and labels all match names the channel."""

    channel: str
    receiver: str | None = None
    match: dict[str, str] = Field(default_factory=dict)


class AlertmanagerConfig(_Strict):
    """``POST /alertmanager`` (docs/alerting.md). Secrets: env first, then these files."""

    default_channel: str | None = None
    routes: list[AlertRoute] = Field(default_factory=list)
    username: str = "alertmanager"
    bearer_token_file: str | None = None
    password_file: str | None = None
    max_targets: int = Field(default=10, ge=1, le=100)
    max_concurrent: int = Field(default=4, ge=1, le=32)


class Config(_Strict):
    database: str = Field(default_factory=default_database_url)
    ssh: SSHConfig = Field(default_factory=SSHConfig)
    hosts: dict[str, HostConfig] = Field(default_factory=dict)
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    inventory: list[str] = Field(default_factory=list)
    ansible_playbook_dir: str | None = None  # group_vars/host_vars beside a playbook (docs/inventory.md)
    vantages: dict[str, VantageConfig] = Field(default_factory=dict)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    playbook_paths: list[str] = Field(default_factory=list)
    permissions: dict[str, list[str]] = Field(
        default_factory=lambda: {"diagnose": ["*"], "triage": ["*"], "drift": ["*"], "admin": []}
    )
    reports: list[ReportConfig] = Field(default_factory=list)
    baselines: dict[str, dict[str, Any]] = Field(default_factory=dict)
    allowed_targets: list[str] = Field(default_factory=list)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)
    zones: ZonesConfig = Field(default_factory=ZonesConfig)
    auto_upgrade_db: bool = True
    join_window_minutes: int = Field(default=60, ge=0)
    database_wait_seconds: float = Field(default=5.0, gt=0, le=300)  # then answer and spool (docs/failures.md)
    spool_dir: str = Field(default_factory=lambda: str(state_dir() / "spool"))
    source: str = Field(default="embedded default", exclude=True)

    @field_validator("allowed_targets")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR network") from None
        return v

    @field_validator("database")
    @classmethod
    def _db(cls, v: str) -> str:
        if "://" not in v:
            raise ValueError(f"{v!r} is not a database URL (sqlite:///path or postgresql+asyncpg://...)")
        return v

    def base_dir(self) -> Path:
        """Directory relative paths in the config are resolved against."""
        if self.source.startswith("/"):
            return Path(self.source).parent
        return Path.cwd()


EMBEDDED_DEFAULT: dict[str, Any] = {
    "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local", "aliases": ["bot"]}},
}


def _format_validation(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling and where it is nested)"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate a parsed YAML document; raise ConfigError naming the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping, got {type(data).__name__}")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation(e, source)) from None
    cfg.source = source
    return cfg


def find_config_path(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("WHYCANT_CONFIG")
    if env:
        return Path(env)
    local = Path.cwd() / "whycant.yaml"
    return local if local.exists() else None


def load_config(explicit: str | Path | None = None) -> Config:
    """Load the configuration by the lookup order of docs/architecture.md §Configuration; ``$WHYCANT_DATABASE_URL`` wins over ``database:``."""
    return _database_from_env(_load_file(explicit))


def _database_from_env(cfg: Config) -> Config:
    url = env_or_file(DATABASE_URL)
    if url is not None:
        if "://" not in url:
            raise ConfigError(f"{DATABASE_URL}: not a database URL (sqlite:///path or postgresql+asyncpg://...)")
        cfg.database = url.strip()
    return cfg


def _load_file(explicit: str | Path | None) -> Config:
    path = find_config_path(explicit)
    if path is None:
        return parse_config(EMBEDDED_DEFAULT, "embedded default")
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read configuration: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    return parse_config(data, str(path.resolve()))
