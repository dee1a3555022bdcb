"""Transports: one small interface (``base.Transport``), three implementations side by side."""
from probes.transports.base import CommandResult, Transport
from probes.transports.local import LocalTransport
from probes.transports.replay import ReplayTransport

__all__ = ["CommandResult", "Transport", "LocalTransport", "ReplayTransport", "SSHTransport"]


def __getattr__(name: str):  # asyncssh is imported only when SSH is used
    if name == "SSHTransport":
        from probes.transports.ssh import SSHTransport

        return SSHTransport
    raise AttributeError(name)
