"""Transports: one small interface (``base.Transport``), three implementations side by side.

``SSHTransport`` is imported from :mod:`probes.transports.ssh` itself: importing this package does not
load asyncssh (~0.2 s with python -X importtime; `whycant --help` reaches this package and must not).
"""

from probes.transports.base import CommandResult, Transport
from probes.transports.local import LocalTransport
from probes.transports.replay import ReplayTransport

__all__ = ["CommandResult", "Transport", "LocalTransport", "ReplayTransport"]
