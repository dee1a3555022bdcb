"""The SSH transport's own settings (``probes/`` never imports ``bot/``).

``bot.config.SSHConfig.settings()`` builds one from the validated YAML; tests and
benchmarks may build one directly. Every field is documented in docs/ssh.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_USER = "whycant"
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SSHSettings:
    """How the SSH transport connects, authenticates, verifies and bounds its work."""

    user: str | None = DEFAULT_USER
    client_keys: tuple[str, ...] = ()
    # None: the OpenSSH config's UserKnownHostsFile for the host, else ~/.ssh/known_hosts; "ignore": off
    known_hosts: str | None = None
    # OpenSSH client config files; None: ~/.ssh/config when it exists; (): none
    config_files: tuple[str, ...] | None = None
    # default ProxyJump for every host without its own (inventory name or user@host:port, comma chains)
    proxy_jump: str | None = None
    connect_timeout: float = 5.0
    command_timeout: float = 15.0
    keepalive_interval: float = 15.0
    max_concurrency: int = 50
    per_host_concurrency: int = 4
    idle_timeout: float = 300.0
    pool_max: int = 512  # pooled connections above which the least recently used idle ones are closed
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    sudo: bool = False
    base_dir: str | None = None  # relative paths (keys, known_hosts, config files) resolve against it

    @property
    def host_key_checking(self) -> bool:
        return (self.known_hosts or "").strip().lower() != "ignore"

    def path(self, p: str) -> Path:
        """*p* with ``~`` expanded, relative to ``base_dir`` when given."""
        path = Path(os.path.expanduser(p))
        if not path.is_absolute() and self.base_dir:
            path = Path(self.base_dir) / path
        return path

    def openssh_config_paths(self) -> list[str]:
        """The OpenSSH client config files to read (as ``ssh`` does: ~/.ssh/config when it exists)."""
        if self.config_files is None:
            default = Path("~/.ssh/config").expanduser()
            return [str(default)] if os.access(default, os.R_OK) else []
        return [str(self.path(p)) for p in self.config_files]
