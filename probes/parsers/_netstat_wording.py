"""net-tools ``netstat -s`` wordings, mapped to kernel MIB names.

Written from the tables in net-tools ``statistics.c`` across versions (1.60 of
2001, "2.0 20131004git" as shipped by RHEL 7, the 2015-2019 snapshots, 2.10 of
2021) plus the pre-2003 wordings.  ``%`` stands for the number; matching is
case-insensitive, whitespace-normalised and ignores a trailing period (several
versions print ``bad segments received.``).

Keys are the kernel's field names (``ListenDrops``), not net-tools' own table
titles where those never matched a kernel counter (``TCPLostRetransmits`` ->
``TCPLostRetransmit``, ``TCPDSackUndo`` -> ``TCPDSACKUndo``,
``TCPRenoRecoveryFailed`` -> ``TCPRenoRecoveryFail``).
"""

from __future__ import annotations

# section -> field -> wordings (printed as "<number> <text>" or "<text> <number> <text>")
NUMBER_LINES: dict[str, dict[str, tuple[str, ...]]] = {
    "Ip": {
        "DefaultTTL": ("default ttl is %",),
        "InReceives": ("% total packets received",),
        "InHdrErrors": ("% with invalid headers",),
        "InAddrErrors": ("% with invalid addresses",),
        "ForwDatagrams": ("% forwarded",),
        "InUnknownProtos": ("% with unknown protocol",),
        "InDiscards": ("% incoming packets discarded",),
        "InDelivers": ("% incoming packets delivered",),
        "OutRequests": ("% requests sent out",),
        "OutDiscards": ("% outgoing packets dropped",),
        "OutNoRoutes": ("% dropped because of missing route",),
        "ReasmTimeout": ("% fragments dropped after timeout",),
        "ReasmReqds": ("% reassemblies required",),
        "ReasmOKs": ("% packets reassembled ok",),
        "ReasmFails": ("% packet reassembles failed", "% packet reassemblies failed"),
        # up to 2.0 FragOKs/FragFails read "fragments received ok"/"fragments failed"
        "FragOKs": ("% fragments received ok", "% outgoing packets fragmented ok"),
        "FragFails": ("% fragments failed", "% outgoing packets failed fragmentation"),
        "FragCreates": ("% fragments created",),
    },
    "Ip6": {
        "InReceives": ("% total packets received",),
        "InHdrErrors": ("% with invalid headers",),
        "InTooBigErrors": ("% with packets too big",),
        "InNoRoutes": ("% incoming packets with no route",),
        "InAddrErrors": ("% with invalid addresses",),
        "InUnknownProtos": ("% with unknown protocol",),
        "InTruncatedPkts": ("% with truncated packets",),
        "InDiscards": ("% incoming packets discarded",),
        "InDelivers": ("% incoming packets delivered",),
        "OutForwDatagrams": ("% forwarded",),
        "OutRequests": ("% requests sent out",),
        "OutDiscards": ("% outgoing packets dropped",),
        "OutNoRoutes": ("% dropped because of missing route",),
        "ReasmTimeout": ("% fragments dropped after timeout",),
        "ReasmReqds": ("% reassemblies required",),
        "ReasmOKs": ("% packets reassembled ok",),
        "ReasmFails": ("% packet reassemblies failed", "% packet reassembles failed"),
        "FragOKs": ("% outgoing packets fragmented ok", "% fragments received ok"),
        "FragFails": ("% outgoing packets failed fragmentation", "% fragments failed"),
        "FragCreates": ("% fragments created",),
        "InMcastPkts": ("% incoming multicast packets",),
        "OutMcastPkts": ("% outgoing multicast packets",),
    },
    "Icmp": {
        "InMsgs": ("% icmp messages received",),
        "InErrors": ("% input icmp message failed",),
        "OutMsgs": ("% icmp messages sent",),
        "OutErrors": ("% icmp messages failed",),
    },
    "Icmp6": {
        "InMsgs": ("% icmp messages received",),
        "InErrors": ("% input icmp message failed",),
        "OutMsgs": ("% icmp messages sent",),
        "OutErrors": ("% icmp messages failed",),
    },
    "Tcp": {
        "ActiveOpens": ("% active connections openings", "% active connection openings", "% active opens"),
        "PassiveOpens": ("% passive connection openings", "% passive opens"),
        "AttemptFails": ("% failed connection attempts",),
        "EstabResets": ("% connection resets received",),
        "CurrEstab": ("% connections established",),
        "InSegs": ("% segments received",),
        "OutSegs": ("% segments send out", "% segments sent out"),
        "RetransSegs": ("% segments retransmited", "% segments retransmitted"),
        "InErrs": ("% bad segments received",),
        "OutRsts": ("% resets sent",),
    },
    "Udp": {
        "InDatagrams": ("% packets received",),
        "NoPorts": ("% packets to unknown port received",),
        "InErrors": ("% packet receive errors",),
        "OutDatagrams": ("% packets sent", "% packets send"),
        "RcvbufErrors": ("% receive buffer errors",),
        "SndbufErrors": ("% send buffer errors",),
    },
    "Udp6": {
        "InDatagrams": ("% packets received",),
        "NoPorts": ("% packets to unknown port received",),
        "InErrors": ("% packet receive errors",),
        "OutDatagrams": ("% packets sent",),
        "RcvbufErrors": ("% receive buffer errors",),
        "SndbufErrors": ("% send buffer errors",),
    },
    "TcpExt": {
        "SyncookiesSent": ("% syn cookies sent",),
        "SyncookiesRecv": ("% syn cookies received",),
        "SyncookiesFailed": ("% invalid syn cookies received",),
        "EmbryonicRsts": ("% resets received for embryonic syn_recv sockets",),
        "PruneCalled": ("% packets pruned from receive queue because of socket buffer overrun",),
        "RcvPruned": ("% packets pruned from receive queue",),
        "OfoPruned": ("% packets dropped from out-of-order queue because of socket buffer overrun",),
        "OutOfWindowIcmps": ("% icmp packets dropped because they were out-of-window",),
        "LockDroppedIcmps": ("% icmp packets dropped because socket was locked",),
        "TW": ("% tcp sockets finished time wait in fast timer",),
        "TWRecycled": ("% time wait sockets recycled by time stamp",),
        "TWKilled": ("% tcp sockets finished time wait in slow timer",),
        "PAWSPassive": ("% passive connections rejected because of time stamp",),
        "PAWSActive": ("% active connections rejected because of time stamp",),
        "PAWSEstab": (
            "% packets rejects in established connections because of timestamp",  # 1.60, 2.0-2013
            "% packetes rejected in established connections because of timestamp",  # 2015-2019
            "% packets rejected in established connections because of timestamp",  # 2.10
        ),
        "DelayedACKs": ("% delayed acks sent",),
        "DelayedACKLocked": ("% delayed acks further delayed because of locked socket",),
        "DelayedACKLost": ("quick ack mode was activated % times",),
        "ListenOverflows": ("% times the listen queue of a socket overflowed",),
        "ListenDrops": ("% syns to listen sockets dropped", "% syns to listen sockets ignored"),
        "TCPPrequeued": ("% packets directly queued to recvmsg prequeue",),
        "TCPDirectCopyFromBacklog": (
            "% packets directly received from backlog",
            "% bytes directly in process context from backlog",
        ),
        "TCPDirectCopyFromPrequeue": (
            "% packets directly received from prequeue",
            "% bytes directly received in process context from prequeue",
        ),
        "TCPPrequeueDropped": ("% packets dropped from prequeue",),
        "TCPHPHits": ("% packets header predicted", "% packet headers predicted"),
        "TCPHPHitsToUser": (
            "% packets header predicted and directly queued to user",
            "% packet headers predicted and directly queued to user",
        ),
        "SockMallocOOM": ("ran % times out of system memory during packet sending",),
        "TCPPureAcks": (
            "% acknowledgments not containing data received",
            "% acknowledgments not containing data payload received",
        ),
        "TCPHPAcks": ("% predicted acknowledgments",),
        "TCPRenoRecovery": ("% times recovered from packet loss due to fast retransmit",),
        "TCPSackRecovery": ("% times recovered from packet loss by selective acknowledgements",),
        "TCPSACKReneging": ("% bad sack blocks received",),
        "TCPFACKReorder": ("detected reordering % times using fack",),
        "TCPSACKReorder": ("detected reordering % times using sack",),
        "TCPTSReorder": ("detected reordering % times using time stamp",),
        "TCPRenoReorder": ("detected reordering % times using reno fast retransmit",),
        "TCPFullUndo": (
            "% congestion windows fully recovered",
            "% congestion windows fully recovered without slow start",
        ),
        "TCPPartialUndo": ("% congestion windows partially recovered using hoe heuristic",),
        "TCPDSACKUndo": (
            "% congestion window recovered using dsack",
            "% congestion window recovered without slow start using dsack",
            "% congestion windows recovered without slow start by dsack",
        ),
        "TCPLossUndo": (
            "% congestion windows recovered after partial ack",
            "% congestion windows recovered without slow start after partial ack",
        ),
        "TCPLostRetransmit": ("% retransmits lost",),
        "TCPRenoFailures": ("% timeouts after reno fast retransmit",),
        "TCPSackFailures": ("% timeouts after sack recovery",),
        "TCPLossFailures": ("% timeouts in loss state",),
        "TCPFastRetrans": ("% fast retransmits",),
        "TCPForwardRetrans": ("% forward retransmits",),
        "TCPSlowStartRetrans": ("% retransmits in slow start",),
        "TCPTimeouts": ("% other tcp timeouts",),
        "TCPRenoRecoveryFail": ("% classic reno fast retransmits failed", "% reno fast retransmits failed"),
        "TCPSackRecoveryFail": ("% sack retransmits failed",),
        "TCPSchedulerFailed": ("% times receiver scheduled too late for direct processing",),
        "TCPRcvCollapsed": ("% packets collapsed in receive queue due to low socket buffer",),
        "TCPDSACKOldSent": ("% dsacks sent for old packets",),
        "TCPDSACKOfoSent": ("% dsacks sent for out of order packets",),
        "TCPDSACKRecv": ("% dsacks received",),
        "TCPDSACKOfoRecv": ("% dsacks for out of order packets received",),
        "TCPAbortOnSyn": ("% connections reset due to unexpected syn",),
        "TCPAbortOnData": ("% connections reset due to unexpected data",),
        "TCPAbortOnClose": ("% connections reset due to early user close",),
        "TCPAbortOnMemory": ("% connections aborted due to memory pressure",),
        "TCPAbortOnTimeout": ("% connections aborted due to timeout",),
        "TCPAbortOnLinger": ("% connections aborted after user close in linger timeout",),
        "TCPAbortFailed": ("% times unable to send rst due to no memory",),
        "TCPMemoryPressures": ("tcp ran low on memory % times",),
        "TCPLoss": ("% tcp data loss events",),
    },
}

# section -> direction ("in" after "ICMP input histogram:", "out" after the output one) -> field -> wordings
HISTOGRAM_LINES: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "Icmp": {
        "in": {
            "InDestUnreachs": ("destination unreachable: %",),
            "InTimeExcds": ("timeout in transit: %",),
            "InParmProbs": ("wrong parameters: %",),
            "InSrcQuenchs": ("source quenches: %", "source quenchs: %"),
            "InRedirects": ("redirects: %",),
            "InEchos": ("echo requests: %",),
            "InEchoReps": ("echo replies: %",),
            "InTimestamps": ("timestamp request: %",),
            "InTimestampReps": ("timestamp reply: %",),
            "InAddrMasks": ("address mask request: %",),
            "InAddrMaskReps": ("address mask replies: %",),
        },
        "out": {
            "OutDestUnreachs": ("destination unreachable: %",),
            "OutTimeExcds": ("time exceeded: %",),
            "OutParmProbs": ("wrong parameters: %",),
            "OutSrcQuenchs": ("source quench: %", "source quenches: %"),
            "OutRedirects": ("redirect: %", "redirects: %"),
            "OutEchos": ("echo request: %", "echo requests: %"),
            "OutEchoReps": ("echo replies: %",),
            "OutTimestamps": ("timestamp requests: %",),
            "OutTimestampReps": ("timestamp replies: %",),
            "OutAddrMasks": ("address mask requests: %",),
            "OutAddrMaskReps": ("address mask replies: %",),
        },
    },
    "Icmp6": {
        "in": {
            "InDestUnreachs": ("destination unreachable: %",),
            "InEchoReplies": ("echo replies: %",),
            "InEchos": ("echo requests: %",),
            "InGroupMembQueries": ("group member queries: %",),
            "InGroupMembReductions": ("group member reductions: %",),
            "InGroupMembResponses": ("group member responses: %",),
            "InNeighborAdvertisements": ("neighbour advertisement: %",),
            "InNeighborSolicits": ("neighbour solicits: %",),
            "InParmProblems": ("parameter problem: %",),
            "InPktTooBigs": ("packets too big: %",),
            "InRedirects": ("redirects: %",),
            "InRouterAdvertisements": ("router advertisement: %",),
            "InRouterSolicits": ("router solicits: %",),
            "InTimeExcds": ("received icmpv6 time exceeded: %",),
        },
        "out": {
            "OutDestUnreachs": ("destination unreachable: %",),
            "OutEchoReplies": ("echo replies: %",),
            "OutEchos": ("echo requests: %",),
            "OutGroupMembQueries": ("group member queries: %",),
            "OutGroupMembReductions": ("group member reductions: %",),
            "OutGroupMembResponses": ("group member responses: %",),
            "OutNeighborAdvertisements": ("neighbor advertisements: %",),
            "OutNeighborSolicits": ("neighbor solicits: %",),
            "OutParmProblems": ("parameter problem: %",),
            "OutPktTooBigs": ("packets too big: %",),
            "OutRedirects": ("redirects: %",),
            "OutRouterAdvertisements": ("router advertisement: %",),
            "OutRouterSolicits": ("router solicits: %",),
            "OutTimeExcds": ("sent icmpv6 time exceeded: %",),
        },
    },
}


def _invert(table: dict[str, tuple[str, ...]], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, wordings in table.items():
        for w in wordings:
            if out.get(w, field) != field:  # pragma: no cover - guards the tables above
                raise AssertionError(f"{where}: wording {w!r} maps to both {out[w]} and {field}")
            out[w] = field
    return out


#: section -> normalised wording -> field
NUMBER_INDEX: dict[str, dict[str, str]] = {s: _invert(t, s) for s, t in NUMBER_LINES.items()}
#: (section, direction) -> normalised wording -> field
HISTOGRAM_INDEX: dict[tuple[str, str], dict[str, str]] = {
    (s, d): _invert(t, f"{s} {d}") for s, dirs in HISTOGRAM_LINES.items() for d, t in dirs.items()
}
