"""``host:port`` text with IPv6 addresses in brackets (``[fd00::5]:5432``), everywhere it is printed."""

from __future__ import annotations

__all__ = ["format_hostport"]


def format_hostport(address: str, port: int | str | None) -> str:
    """``addr:port``; an IPv6 address as ``[addr]:port``; the bare address when *port* is None."""
    bare = address[1:-1] if address.startswith("[") and address.endswith("]") else address
    if port is None or port == "":
        return bare
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"
