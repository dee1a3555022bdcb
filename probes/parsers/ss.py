"""Listening sockets and socket summaries: iproute2 ``ss`` and net-tools ``netstat``.

On a LISTEN row ``ss`` shows the current accept queue in Recv-Q and the
backlog limit in Send-Q.  net-tools ``netstat -lnt`` reads /proc/net/tcp, which
has no backlog: its Send-Q is always 0 there, so listeners from
:func:`parse_netstat_listen` carry ``send_q = SEND_Q_UNKNOWN`` (-1) rather than
a fake limit of 0.
"""

from __future__ import annotations

import re

from probes.errors import ParseError
from probes.evidence import Listener
from probes.parsers._common import check_text, is_int

#: Send-Q of a listener whose backlog the tool cannot show (net-tools netstat).
SEND_Q_UNKNOWN = -1

_STATES = {
    "LISTEN",
    "ESTAB",
    "UNCONN",
    "SYN-SENT",
    "SYN-RECV",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "TIME-WAIT",
    "CLOSE-WAIT",
    "LAST-ACK",
    "CLOSING",
    "CLOSED",
    "UNKNOWN",
    "CLOSE",
}
_NETIDS = {
    "tcp",
    "tcp6",
    "udp",
    "udp6",
    "raw",
    "u_str",
    "u_dgr",
    "u_seq",
    "nl",
    "p_raw",
    "p_dgr",
    "mptcp",
    "sctp",
    "dccp",
    "v_str",
    "v_dgr",
    "xdp",
    "tipc",
    "icmp6",
    "u_seqpacket",
}
_TCP_NETIDS = {"tcp", "tcp6", "mptcp"}

# ss without -n prints service names; the few a diagnosis is likely to meet.
_SERVICES = {
    "ssh": 22,
    "smtp": 25,
    "domain": 53,
    "http": 80,
    "https": 443,
    "sunrpc": 111,
    "submission": 587,
    "imap": 143,
    "imaps": 993,
    "pop3": 110,
    "pop3s": 995,
    "postgresql": 5432,
    "postgres": 5432,
    "mysql": 3306,
    "ipp": 631,
    "ldap": 389,
    "ldaps": 636,
    "ftp": 21,
    "telnet": 23,
    "smtps": 465,
    "http-alt": 8080,
    "webcache": 8080,
    "redis": 6379,
    "amqp": 5672,
    "x11": 6000,
    "rsync": 873,
    "nfs": 2049,
    "bgp": 179,
    "ntp": 123,
    "snmp": 161,
    "kerberos": 88,
    "microsoft-ds": 445,
    "netbios-ssn": 139,
    "mongodb": 27017,
    "memcache": 11211,
    "zabbix-agent": 10050,
}


def split_address(addr: str, probe: str = "ss", line: int | None = None) -> tuple[str, int, str | None]:
    """``"[::ffff:127.0.0.1]:80"`` -> ("127.0.0.1", 80, None); ``"127.0.0.53%lo:53"`` -> ("127.0.0.53", 53, "lo").

    Handles ``0.0.0.0:22``, ``*:22``, ``[::]:22``, ``:::22``, ``[fe80::1]%eth0:22``
    and service names (``*:ssh``).  IPv4-mapped IPv6 addresses become plain IPv4.
    """
    host, sep, port_s = addr.rpartition(":")
    if not sep or not host or not port_s:
        raise ParseError(probe, f"no port in address {addr[:60]!r}", line=line)
    if is_int(port_s):
        port = int(port_s)
    elif port_s.lower() in _SERVICES:
        port = _SERVICES[port_s.lower()]
    else:
        raise ParseError(probe, f"port {port_s[:30]!r} is not a number (run ss/netstat with -n)", line=line)
    if not 0 <= port <= 65535:
        raise ParseError(probe, f"port {port} out of range in {addr[:60]!r}", line=line)
    iface = None
    if "%" in host:
        head, _, iface = host.rpartition("%")
        if "]" in iface:  # "[fe80::1%eth0]" form
            iface, host = iface.rstrip("]"), head + "]"
        else:
            host = head
        iface = iface or None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.lower().startswith("::ffff:") and "." in host:
        host = host[7:]
    if not host or not re.fullmatch(r"[0-9A-Fa-f:.*]+", host):
        raise ParseError(probe, f"bad address {addr[:60]!r}", line=line)
    return host, port, iface


def _listener(local: str, recv_q: int, send_q: int, probe: str, line: int, v6_hint: bool = False) -> Listener:
    host, port, iface = split_address(local, probe, line)
    return Listener(
        local_address=host,
        port=port,
        recv_q=recv_q,
        send_q=send_q,
        family="inet6" if (":" in host or v6_hint) else "inet",
        interface=iface,
    )


def parse_ss_listen(text: str, probe: str = "ss") -> list[Listener]:
    """TCP listeners from ``ss -ltn`` / ``ss -ltnH`` / ``ss -ltnp`` / ``ss -tan`` / ``ss -a`` output.

    With or without the header and the Netid column; non-TCP and non-LISTEN
    rows, and the indented detail lines of ``-e``/``-m``/``-i``, are skipped.
    An output with a header and no listeners gives ``[]``.
    """
    check_text(text, probe)
    out: list[Listener] = []
    header = rows = 0
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if raw[0] in " \t":  # skmem:(...), timer:(...), tcp_info continuation lines
            continue
        tokens = raw.split()
        if tokens[0] in ("State", "Netid", "Recv-Q"):
            header += 1
            continue
        netid = tokens.pop(0) if tokens[0] in _NETIDS else None
        state = tokens.pop(0) if tokens and tokens[0] in _STATES else None
        if len(tokens) < 4 or not (is_int(tokens[0]) and is_int(tokens[1])):
            raise ParseError(probe, f"unexpected ss line {raw.strip()[:60]!r}", line=n)
        rows += 1
        if netid is not None and netid not in _TCP_NETIDS:
            continue
        peer = tokens[3]
        listening = state == "LISTEN" if state is not None else peer.endswith(":*")
        if not listening:
            continue
        out.append(_listener(tokens[2], int(tokens[0]), int(tokens[1]), probe, n))
    if not header and not rows:
        raise ParseError(probe, "no ss header or socket rows found")
    return out


def parse_netstat_listen(text: str, probe: str = "netstat-listen") -> list[Listener]:
    """TCP listeners from net-tools ``netstat -lnt``/``-lntp``/``-lnp``/``-ant``.

    Recv-Q is the accept queue; netstat cannot show the backlog, so ``send_q``
    is :data:`SEND_Q_UNKNOWN`.
    """
    check_text(text, probe)
    out: list[Listener] = []
    seen_table = False
    for n, raw in enumerate(text.splitlines(), 1):
        tokens = raw.split()
        if not tokens:
            continue
        if tokens[0] in ("Active", "Proto"):
            seen_table = True
            continue
        proto = tokens[0]
        if proto not in ("tcp", "tcp6", "udp", "udp6", "udplite", "udpl6", "raw", "raw6", "unix", "sctp"):
            if not seen_table:  # "(Not all processes could be identified, ..." from netstat -p as non-root
                continue
            raise ParseError(probe, f"unexpected netstat line {raw.strip()[:60]!r}", line=n)
        seen_table = True
        if proto not in ("tcp", "tcp6"):
            continue
        if len(tokens) < 6 or not (is_int(tokens[1]) and is_int(tokens[2])):
            raise ParseError(probe, f"truncated netstat line {raw.strip()[:60]!r}", line=n)
        if tokens[5] != "LISTEN":
            continue
        out.append(_listener(tokens[3], int(tokens[1]), SEND_Q_UNKNOWN, probe, n, v6_hint=proto == "tcp6"))
    if not seen_table:
        raise ParseError(probe, "no netstat connection table found")
    return out


_SUMMARY_PAIR = re.compile(r"([a-z]+) (\d+)(?:/(\d+))?")


def parse_ss_summary(text: str, probe: str = "ss-s") -> dict[str, int]:
    """Parse ``ss -s``.

    ``Total: 131 (kernel 0)`` -> total, kernel; ``TCP: 14 (estab 1, closed 0,
    orphaned 10, synrecv 0, timewait 0/0), ports 0`` -> tcp, estab, closed,
    orphaned, synrecv, timewait (the first of a/b), ports; the transport table
    -> ``TCP.total``, ``TCP.ip``, ``TCP.ipv6``... (``-`` cells are absent).
    """
    check_text(text, probe)
    out: dict[str, int] = {}
    columns: list[str] | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Total:"):
            m = re.match(r"Total:\s+(\d+)(?:\s+\(kernel (\d+)\))?", line)
            if not m:
                raise ParseError(probe, f"bad Total line {line[:60]!r}", line=n)
            out["total"] = int(m.group(1))
            if m.group(2) is not None:
                out["kernel"] = int(m.group(2))
            continue
        if line.startswith("TCP:"):
            m = re.match(r"TCP:\s+(\d+)\s*(?:\((.*?)\))?\s*(?:,\s*ports (\d+))?\s*\Z", line)
            if not m:
                raise ParseError(probe, f"bad TCP line {line[:60]!r}", line=n)
            out["tcp"] = int(m.group(1))
            for name, a, _b in _SUMMARY_PAIR.findall(m.group(2) or ""):
                out[name] = int(a)
            if m.group(3) is not None:
                out["ports"] = int(m.group(3))
            continue
        tokens = line.split()
        if tokens[0] == "Transport":
            columns = [c.lower() for c in tokens[1:]]
            continue
        if columns is not None and len(tokens) == len(columns) + 1:
            for col, cell in zip(columns, tokens[1:]):
                if cell == "-":
                    continue
                if not is_int(cell):
                    raise ParseError(probe, f"{tokens[0]} {col} is {cell[:20]!r}, not a number", line=n)
                out[f"{tokens[0]}.{col}"] = int(cell)
            continue
        raise ParseError(probe, f"unexpected ss -s line {line[:60]!r}", line=n)
    if "tcp" not in out and "total" not in out:
        raise ParseError(probe, "no 'Total:' or 'TCP:' line (not ss -s output)")
    return out
