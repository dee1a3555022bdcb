"""The kfree_skb trace parser and the attribution of drops (pure functions)."""

from __future__ import annotations

import pytest

from probes.drop_reasons import (
    aggregate,
    script_argv,
    split_stop_output,
    unavailable_line,
)
from probes.errors import ParseError
from probes.parsers.drop_trace import TraceDrop, parse_trace, symbol
from tests.parsers.conftest import read

HEADER = "# tracer: nop\n#\n# entries-in-buffer/entries-written: {kept}/{written}   #P:2\n#\n"


def test_captured_nftables_drop_has_its_device_and_addresses():
    res = parse_trace(read("drop_reasons/lab-nft-drop-shared.trace"))
    nft = [d for d in res.drops if d.reason == "NETFILTER_DROP"]
    assert nft == [
        TraceDrop(
            cpu=1,
            ts=529.95518,
            reason="NETFILTER_DROP",
            location="nft_do_chain",
            received=True,
            dev="eth0",
            src="198.18.1.20",
            dst="198.18.1.10",
        )
    ]
    assert res.lost == 0
    assert {d.reason for d in res.drops} == {"NETFILTER_DROP", "NOT_SPECIFIED", "QUEUE_PURGE"}


def test_captured_rp_filter_drop_takes_the_forward_lookup_not_the_reverse_check():
    res = parse_trace(read("drop_reasons/lab-rp-filter-multihomed.trace"))
    rp = [d for d in res.drops if d.reason == "IP_RPFILTER"]
    assert len(rp) == 4
    assert {(d.dev, d.src, d.dst, d.location) for d in rp} == {
        ("eth1", "198.18.1.20", "198.18.1.40", "ip_rcv_finish_core")
    }


def test_lines_without_irq_flags_and_without_reason():
    text = HEADER.format(kept=3, written=10) + (
        "          <idle>-0       [000] 100.000001: netif_receive_skb: dev=ens3 skbaddr=ffff9a1 len=60\n"
        "          <idle>-0       [000] 100.000002: fib_table_lookup: table 254 oif 0 iif 2 proto 0 "
        "10.0.0.9/0 -> 10.0.0.5/0 tos 0 scope 0 flags 0 ==> dev ens3 gw 0.0.0.0/:: err 0\n"
        "          <idle>-0       [000] 100.000003: kfree_skb: skbaddr=ffff9a1 protocol=2048 "
        "location=0xffffffff81a2b3c4\n"
    )
    res = parse_trace(text)
    assert res.drops == [
        TraceDrop(
            cpu=0,
            ts=100.000003,
            reason="UNKNOWN",
            location="0xffffffff81a2b3c4",
            received=True,
            dev="ens3",
            src="10.0.0.9",
            dst="10.0.0.5",
        )
    ]
    assert res.lost == 7  # the ring overran: 10 written, 3 kept


def test_locally_generated_drop_takes_the_same_tasks_output_lookup():
    text = HEADER.format(kept=3, written=3) + (
        "  python3-4242  [001] .....  5.000001: fib_table_lookup: table 254 oif 0 iif 1 proto 6 "
        "198.18.1.20/40000 -> 198.18.1.10/5432 tos 0 scope 0 flags 8 ==> dev eth0 gw 0.0.0.0/:: err 0\n"
        "  python3-4242  [001] .....  5.000002: kfree_skb: skbaddr=00000000aa rx_sk=0000000000000000 "
        "protocol=2048 location=nft_do_chain+0x46f/0x690 reason: NETFILTER_DROP\n"
        "  other-77      [001] .....  5.000003: kfree_skb: skbaddr=00000000bb rx_sk=0000000000000000 "
        "protocol=2048 location=nft_do_chain+0x46f/0x690 reason: NETFILTER_DROP\n"
    )
    a, b = parse_trace(text).drops
    assert (a.received, a.src, a.dst, a.dport) == (False, "198.18.1.20", "198.18.1.10", 5432)
    assert (b.src, b.dst) == (None, None)  # another task: no lookup of its own in the trace


def test_empty_trace_and_junk_lines():
    assert parse_trace(HEADER.format(kept=0, written=0)).drops == []
    assert parse_trace(HEADER.format(kept=0, written=0) + "garbage line\n  x-1 [0] cut mid-li").drops == []
    with pytest.raises(ParseError, match="binary"):
        parse_trace("\x00\x01\x02" * 100)


def test_symbol():
    assert symbol("nft_do_chain+0x46f/0x690") == "nft_do_chain"
    assert symbol("0xffffffffc0a1b2c3") == "0xffffffffc0a1b2c3"


def _d(reason="NETFILTER_DROP", received=True, dev="eth0", src="198.18.1.20", dst="198.18.1.10"):
    return TraceDrop(
        cpu=0, ts=1.0, reason=reason, location="nft_do_chain", received=received, dev=dev, src=src, dst=dst
    )


def test_attribution_on_a_kernel_of_its_own_takes_every_drop():
    reasons, elsewhere, ignored = aggregate(
        "db01", [_d(), _d(src=None, dst=None, dev=None, received=False)], {"198.18.1.10"}, {"eth0", "lo"}, shared=False
    )
    assert [(r.reason, r.count, r.attribution) for r in reasons] == [("NETFILTER_DROP", 2, "target")]
    assert (elsewhere, ignored) == ([], 0)


def test_attribution_on_a_shared_kernel_goes_by_address_and_device():
    drops = [
        _d(),  # to the target, received on its device: the target's
        _d(),
        _d(dev="wc9br"),  # to the target's address but on a device the target does not have
        _d(dst="198.18.7.10", src="198.18.7.20"),  # another lab's traffic
        _d(src=None, dst=None),  # no addresses known
        _d(received=False, src="198.18.1.20"),  # the sender's own output hook: before the target
        _d(reason="TCP_ABORT_ON_DATA", src="198.18.1.10", dst="198.18.1.20"),  # the target's packet, elsewhere
    ]
    reasons, elsewhere, ignored = aggregate("db01", drops, ["198.18.1.10"], ["eth0", "lo"], shared=True)
    assert [(r.reason, r.count, r.attribution) for r in reasons] == [
        ("NETFILTER_DROP", 2, "target"),
        ("NETFILTER_DROP", 2, "uncertain"),
    ]
    assert reasons[0].sources == ["198.18.1.20"] and reasons[0].devices == ["eth0"]
    assert sorted((r.reason, r.count) for r in elsewhere) == [("NETFILTER_DROP", 1), ("TCP_ABORT_ON_DATA", 1)]
    assert ignored == 1


def test_script_argv_takes_only_a_hex_id_and_bounded_seconds():
    argv = script_argv("start", "0123456789ab", 60)
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["whycant-drop-reasons", "start", "0123456789ab", "60"]
    assert script_argv("stop", "0123456789ab", sudo=True)[:3] == ["sudo", "-n", "sh"]
    for bad in ("../../x", "0123456789aB", "0123456789ab; rm", ""):
        with pytest.raises(ValueError, match="12 hex digits"):
            script_argv("start", bad, 60)
    with pytest.raises(ValueError, match="outside"):
        script_argv("start", "0123456789ab", 100000)
    with pytest.raises(ValueError, match="action"):
        script_argv("mount", "0123456789ab")


@pytest.mark.parametrize(
    "status,line",
    [
        ("unavailable no-tracefs", "drop reasons unavailable on db01: tracefs is not mounted at /sys/kernel/tracing"),
        (
            "unavailable not-root probe",
            "drop reasons unavailable on db01: whycant logs in as probe, not root, and ssh.sudo is off",
        ),
        (
            "unavailable no-reason 5.15.0-91-generic",
            "the kernel (5.15.0-91-generic) is too old: skb:kfree_skb has no drop reason before Linux 5.17",
        ),
        ("unavailable lockdown", "drop reasons unavailable on db01: kernel lockdown (confidentiality) forbids tracing"),
        (
            "unavailable mkdir mkdir: cannot create directory: Operation not permitted",
            "could not create a tracing instance: mkdir: cannot create directory: Operation not permitted",
        ),
    ],
)
def test_unavailable_lines(status, line):
    assert line in unavailable_line("db01", status)


def test_split_stop_output():
    trace, status = split_stop_output("trace-begin\n# tracer: nop\nx\n\ntrace-end\nremoved /sys/x\n")
    assert trace == "# tracer: nop\nx\n\n" and status == ["removed /sys/x"]
    assert split_stop_output("gone /sys/x\n") == (None, ["gone /sys/x"])
