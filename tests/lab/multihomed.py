"""Lab topology for drop-reason tests: a multi-homed host and a drop on the sender's side.

```
 bridge wcNbr 198.18.N.0/24 ── eth0 of every lab host (office1 .20, mh .OCTET, ...)
 office1 "mhlink" 198.19.N.20/24 ──veth── mh "eth1" 198.19.N.OCTET/24   (198.19/16 is in 198.18.0.0/15)
```

``multihomed(lab, "mh", peer="office1")`` adds host *mh* (with tracefs visible to its sshd)
with a second link to *peer*, and on *peer* a host route to mh's bridge address through that
link, keeping its bridge address as source. (The peer gets a static neighbour entry for mh's eth1: its ARP requests would carry the
bridge address too and fail the same check.) mh receives those packets on eth1 while its
route back to the source leaves by eth0: with strict rp_filter (``conf.all.rp_filter=1``
in mh's namespace only) the kernel drops them with ``IP_RPFILTER``.
``lab.remove_host("mh")`` removes it all (the veth pair and the peer's route die with mh's
namespace). Only namespaces the lab created are changed.
"""

from __future__ import annotations

from tests.lab.lab import Lab, LabHost

PEER_LINK = "mhlink"


def second_net(lab: Lab) -> str:
    return f"198.19.{lab.slot}"


def add_fixed_host(lab: Lab, name: str, octet: int) -> LabHost:
    """``add_host(tracefs=True)`` with a MAC derived from slot and octet: a host re-created at the
    same address keeps its MAC, so neighbour entries cached by the bot's namespace stay valid."""
    host = lab.add_host(name, octet, tracefs=True)
    lab.exec(name, "ip", "link", "set", "eth0", "address", f"02:77:c6:12:{lab.slot:02x}:{octet:02x}")
    return host


def multihomed(
    lab: Lab, name: str = "mh", peer: str = "office1", *, octet: int = 232, strict_rp_filter: bool = True
) -> LabHost:
    """Add *name* with eth0 on the bridge and eth1 on a point-to-point link to *peer*."""
    host = add_fixed_host(lab, name, octet)
    try:
        p = lab.hosts[peer]
        net2 = second_net(lab)
        lab.exec(name, "ip", "link", "add", "eth1", "type", "veth", "peer", "name", PEER_LINK, "netns", p.netns)
        lab.exec(name, "ip", "addr", "add", f"{net2}.{host.octet}/24", "dev", "eth1")
        lab.exec(name, "ip", "link", "set", "eth1", "up")
        lab.exec(peer, "ip", "addr", "add", f"{net2}.{p.octet}/24", "dev", PEER_LINK)
        lab.exec(peer, "ip", "link", "set", PEER_LINK, "up")
        lab.exec(
            peer,
            "ip",
            "route",
            "add",
            f"{host.address}/32",
            "via",
            f"{net2}.{host.octet}",
            "dev",
            PEER_LINK,
            "src",
            p.address,
        )
        # a static neighbour: an ARP request from the bridge address would itself fail rp_filter on eth1
        mac = lab.exec(name, "cat", "/sys/class/net/eth1/address").stdout.strip()
        lab.exec(
            peer, "ip", "neigh", "replace", f"{net2}.{host.octet}", "lladdr", mac, "dev", PEER_LINK, "nud", "permanent"
        )
        if strict_rp_filter:
            lab.set_sysctl(name, "net.ipv4.conf.all.rp_filter", 1)
            lab.set_sysctl(name, "net.ipv4.conf.eth1.rp_filter", 1)
    except Exception:
        lab.remove_host(name)
        raise
    return host


def nft_drop_output(lab: Lab, host: str, dst_host: str, port: int) -> None:
    """On *host* (a sender), drop its own TCP packets to *dst_host*:*port* in the output hook."""
    lab.nft_rule(host, "output", f"ip daddr {lab.address(dst_host)} tcp dport {port} counter drop")
