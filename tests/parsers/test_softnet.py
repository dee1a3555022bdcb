"""softnet_stat and neighbour-cache stats, as captured on a real 2-CPU machine."""

from __future__ import annotations

import pytest

from probes.errors import ParseError
from probes.parsers.softnet import parse_neigh_cache_stat, parse_softnet_stat

SOFTNET = (
    "0003ec68 00000002 00000005 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n"
    "0002e4c2 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n"
)
ARP = (
    "entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast "
    "periodic_gc_runs forced_gc_runs unresolved_discards table_fulls\n"
    "00000006 00000109 00000125 00000001   0000031f 000000ca 00000001   00000000         00000000         "
    "00000058         00000000       00000000            0000000a\n"
    "00000006 000000d9 000000b7 00000002   00000286 000000b3 00000001   00000000         00000000         "
    "00000000         00000000       00000000            00000001\n"
)


def test_softnet_sums_cpus():
    got = parse_softnet_stat(SOFTNET)
    assert got == {"Softnet.Processed": 0x3EC68 + 0x2E4C2, "Softnet.Dropped": 3, "Softnet.TimeSqueeze": 5}


def test_arp_cache_table_fulls():
    got = parse_neigh_cache_stat(ARP, "ArpCache")
    assert got["ArpCache.TableFulls"] == 11
    assert got["ArpCache.Entries"] == 6  # the table size, not summed per CPU


@pytest.mark.parametrize("bad", ["", "hello world\n", "0003ec68 zz 00\n", "1 2\n"])
def test_softnet_garbage_is_a_parse_error(bad):
    with pytest.raises(ParseError, match="softnet-stat"):
        parse_softnet_stat(bad)
