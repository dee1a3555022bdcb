"""Issue 9's "Done when", as one test module: a lab fleet built the way production fleets are,
described ONLY by an Ansible inventory directory written the way a team writes one, diagnosed
end to end through the real CLI (`whycant ask --json`, `whycant drift --json`, `whycant probe`).

The fleet (tests/lab/fleet.py): an unprivileged probe user on every host, `bastion`, `db07`
and `db08` reachable only through it, `nosftp01` (OpenSSH without SFTP) and `drop01` (real
dropbear). The inventory (see :func:`write_inventory`) has `children` groups, a host range
`db[07:08]`, `group_vars/all.yml` (the probe user), `group_vars/dc2.yml` (the bastion, as
`ansible_ssh_common_args: -o ProxyJump=bastion`), `host_vars/` (addresses, a per-host key and
port, a service), and names `nosftp01` by a DNS name under `.test`, resolved from a hosts file
the test controls (tests/resolver.py: never real DNS). whycant.yaml only names the inventory,
the SSH key and known_hosts, and the vantage `dmz`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config
from bot.inventory import Inventory
from tests.lab.fleet import FleetLab
from tests.resolver import resolver_unavailable_reason, with_hosts

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(resolver_unavailable_reason() is not None, reason=str(resolver_unavailable_reason())),
]

REPO = Path(__file__).resolve().parents[2]
WHYCANT = [sys.executable, "-m", "bot.cli"]
DNS_NAME = "nosftp01.fleet.test"
BOUND_PORT = 6100  # db08's service, bound to db08's own address only


def write_inventory(fleet: FleetLab, inv: Path, drop01_key: Path) -> None:
    """The inventory directory a team would keep next to its playbooks."""
    (inv / "group_vars").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    (inv / "hosts.ini").write_text(
        "# production-like lab fleet (issue 9)\n"
        "[bastions]\n"
        f"bastion ansible_host={fleet.address('bastion')}\n\n"
        "[dc2]\n"
        "db[07:08]\n\n"
        "[edge]\n"
        f"nosftp01 ansible_host={DNS_NAME}\n"
        "drop01\n\n"
        "[postgres:children]\n"
        "dc2\n"
        "edge\n\n"
        "[fleet:children]\n"
        "bastions\n"
        "postgres\n"
    )
    (inv / "group_vars" / "all.yml").write_text(f"---\nansible_user: {fleet.user}\nansible_port: 22\n")
    (inv / "group_vars" / "dc2.yml").write_text("---\nansible_ssh_common_args: '-o ProxyJump=bastion'\n")
    (inv / "group_vars" / "postgres.yml").write_text("---\nwhycant_services:\n  postgres: 5432\n")
    (inv / "host_vars" / "db07.yml").write_text(f"ansible_host: {fleet.address('db07')}\n")
    (inv / "host_vars" / "db08.yml").write_text(
        f"ansible_host: {fleet.address('db08')}\nwhycant_services:\n  postgres: 5432\n  app: {BOUND_PORT}\n"
    )
    (inv / "host_vars" / "drop01.yml").write_text(
        f"ansible_host: {fleet.address('drop01')}\nansible_port: 22\nansible_ssh_private_key_file: {drop01_key}\n"
    )


@pytest.fixture(scope="module")
def prod(fleet: FleetLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One fleet for the module (the session's), its inventory, whycant.yaml and resolver."""
    tmp = tmp_path_factory.mktemp("prodfleet")
    fleet.reset()
    drop01_key = tmp / "keys" / "drop01_ed25519"  # the key the team keeps for the dropbear host
    drop01_key.parent.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "drop01", "-f", str(drop01_key)], check=True, timeout=30
    )
    # Only drop01's own key opens drop01: the whycant.yaml key's line carries a `from=` option that
    # OpenSSH honours (198.18.0.0/15 covers the bot and the bastion) and dropbear rejects as a bad
    # option line, so dropbear accepts the host_vars key alone (checked: test_drop01_needs_its_host_vars_key).
    authorized = fleet.home / ".ssh" / "authorized_keys"
    original = authorized.read_text()
    main_key = Path(f"{fleet.client_key}.pub").read_text().strip()
    authorized.write_text(f'from="198.18.0.0/15" {main_key}\n' + Path(f"{drop01_key}.pub").read_text())
    inv = tmp / "inventory"
    write_inventory(fleet, inv, drop01_key)
    known = tmp / "known_hosts"  # a team's known_hosts names the DNS-named host as it is dialled
    known.write_text(fleet.known_hosts.read_text() + f"{DNS_NAME} {fleet.hosts['nosftp01'].host_key_pub}\n")
    cfg = {
        "inventory": [str(inv)],
        "ssh": {"client_keys": [str(fleet.client_key)], "known_hosts": str(known), "config": [], "connect_timeout": 3},
        "vantages": {"dmz": {"host": "bastion", "note": "the DMZ jump host"}},
        "probe": {"window_seconds": 1.0, "connect_attempts": 5, "connect_timeout": 0.5, "connect_interval": 0.05},
        "database": f"sqlite:///{tmp}/w.db",
    }
    path = tmp / "whycant.yaml"
    path.write_text(yaml.safe_dump(cfg))
    prefix = with_hosts(tmp / "etc", {DNS_NAME: fleet.address("nosftp01")})
    try:
        yield {"fleet": fleet, "config": path, "prefix": prefix, "inv": inv, "drop01_key": drop01_key, "tmp": tmp}
    finally:
        authorized.write_text(original)
        fleet.reset()


@pytest.fixture
def lab(prod: dict[str, Any]) -> Iterator[FleetLab]:
    fleet: FleetLab = prod["fleet"]
    fleet.reset()
    try:
        yield fleet
    finally:
        fleet.reset()


def run(prod: dict[str, Any], *args: str, ok: tuple[int, ...] = (0,), as_json: bool = True) -> Any:
    """The real CLI, under the test's resolver (names resolve only from its hosts file)."""
    argv = [*prod["prefix"], *WHYCANT, *args, *(["--json"] if as_json else []), "--config", str(prod["config"])]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=REPO, check=False)
    assert r.returncode in ok, (args, r.returncode, r.stderr[-2000:], r.stdout[-2000:])
    return json.loads(r.stdout) if as_json else r.stdout


def ids(out: dict[str, Any]) -> list[str]:
    return [f["id"] for f in out["findings"]]


def test_the_inventory_alone_describes_the_fleet(prod: dict[str, Any]) -> None:
    """Bastion from group_vars, user from group_vars/all, key/port from host_vars, range expanded."""
    fleet: FleetLab = prod["fleet"]
    hosts = Inventory.from_config(load_config(prod["config"])).hosts
    assert set(hosts) == {"bastion", "db07", "db08", "nosftp01", "drop01"}, sorted(hosts)
    for name, h in hosts.items():
        assert h.user == fleet.user, (name, h.user)
    assert hosts["db07"].proxy_jump == hosts["db08"].proxy_jump == "bastion"
    assert not hosts["nosftp01"].proxy_jump and not hosts["bastion"].proxy_jump
    assert hosts["db08"].address == fleet.address("db08") and hosts["db08"].services["app"] == BOUND_PORT
    assert hosts["nosftp01"].address == DNS_NAME
    assert str(hosts["drop01"].client_keys[0]) == str(prod["drop01_key"])
    assert {"dc2", "postgres", "fleet"} <= set(hosts["db07"].groups)


def test_drop01_needs_its_host_vars_key(prod: dict[str, Any], lab: FleetLab) -> None:
    """ansible_ssh_private_key_file from host_vars is what opens drop01: without that line the
    login fails with the key named, while the other hosts still take whycant.yaml's key."""
    assert run(prod, "probe", "drop01")["target"]["file_access"] == "exec"
    inv = prod["tmp"] / "inventory-nokey"
    shutil.copytree(prod["inv"], inv)
    hv = inv / "host_vars" / "drop01.yml"
    hv.write_text("".join(ln for ln in hv.read_text().splitlines(True) if "private_key" not in ln))
    cfg = yaml.safe_load(prod["config"].read_text())
    cfg["inventory"] = [str(inv)]
    alt = prod["tmp"] / "whycant-nokey.yaml"
    alt.write_text(yaml.safe_dump(cfg))
    out = run({**prod, "config": alt}, "drift", "--no-save", ok=(3,))
    errors = {e["host"]: e["error"] for e in out["errors"] if not e.get("probe")}
    assert list(errors) == ["drop01"] and errors["drop01"].startswith("auth: "), out["errors"]
    assert str(lab.client_key) in errors["drop01"], errors  # the key it tried, named
    print("\nwithout its key:", errors["drop01"])


@pytest.mark.parametrize(
    ("host", "vantage", "access"), [("db07", "dmz", "sftp"), ("nosftp01", "bot", "exec"), ("drop01", "bot", "exec")]
)
def test_ask_names_the_reproduced_failure(
    prod: dict[str, Any], lab: FleetLab, host: str, vantage: str, access: str
) -> None:
    lab.accept_queue_overflow(host, 5432, backlog=2)
    out = run(prod, "ask", f"why can't I connect to {host}:5432 from {vantage}")
    assert "target-ssh-unreachable" not in ids(out), out["findings"]
    assert ids(out)[0] == "listen-queue-overflow", out["findings"]
    assert out["counters_delta"].get("TcpExt.ListenOverflows", 0) > 0, out["counters_delta"]
    assert not out.get("probe_errors"), out.get("probe_errors")
    assert out["file_access"] == access
    assert out["unreadable"] == {}
    assert out["drop_reasons_status"] == (
        f"drop reasons unavailable on {host}: whycant logs in as {lab.user}, not root, and ssh.sudo is off"
    )


def test_dns_named_host_shows_name_and_address(prod: dict[str, Any], lab: FleetLab) -> None:
    addr = lab.address("nosftp01")
    out = run(prod, "ask", "why can't I connect to nosftp01:5432")
    assert out["target"]["address"] == DNS_NAME and out["target"]["resolved_address"] == addr, out["target"]
    assert out["counters_delta"] and not out.get("probe_errors"), out.get("probe_errors")
    text = run(prod, "ask", "why can't I connect to nosftp01:5432", as_json=False)
    assert f"nosftp01 ({DNS_NAME}, {addr})" in text, text


def test_service_bound_to_its_own_address_is_not_critical(prod: dict[str, Any], lab: FleetLab) -> None:
    lab.listener("db08", BOUND_PORT, bind="host")
    assert f"{lab.address('db08')}:{BOUND_PORT}" in lab.exec("db08", "ss", "-ltnH").stdout
    out = run(prod, "ask", "why can't I connect to db08 app from dmz")
    assert out["target"]["port"] == BOUND_PORT
    assert [f["id"] for f in out["findings"] if f["severity"] == "critical"] == [], out["findings"]
    assert "target-ssh-unreachable" not in ids(out)
    rows = {row["vantage"]: row for row in out["connect"]}
    assert set(rows) == {"self", "dmz"}, rows  # no "bot" row: the bot has no path behind the bastion
    for row in rows.values():
        assert row["ok"] == row["attempts"] > 0, row


def test_bastion_only_in_the_openssh_config_still_means_no_bot_row(prod: dict[str, Any], lab: FleetLab) -> None:
    """The same fleet with the bastion named only in an OpenSSH client config (``Host db07 db08 /
    ProxyJump bastion``, as many teams keep it), not in the inventory: whycant's SSH takes that
    route, and the bot's own connect row is left out as for an inventory ``proxy_jump``."""
    lab.listener("db08", BOUND_PORT, bind="host")
    inv = prod["tmp"] / "inventory-sshconfig"
    if not inv.exists():
        shutil.copytree(prod["inv"], inv)
        (inv / "group_vars" / "dc2.yml").unlink()
    ssh_config = prod["tmp"] / "ssh_config"
    ssh_config.write_text(f"Host db07 db08\n  ProxyJump bastion\n\nHost bastion\n  HostName {lab.address('bastion')}\n")
    cfg = yaml.safe_load(prod["config"].read_text())
    cfg["inventory"], cfg["ssh"]["config"] = [str(inv)], [str(ssh_config)]
    alt = prod["tmp"] / "whycant-sshconfig.yaml"
    alt.write_text(yaml.safe_dump(cfg))
    out = run({**prod, "config": alt}, "ask", "why can't I connect to db08 app from dmz")
    assert not out.get("probe_errors"), out.get("probe_errors")  # reached through the bastion
    rows = {row["vantage"]: row for row in out["connect"]}
    assert set(rows) == {"self", "dmz"}, rows
    assert [f["id"] for f in out["findings"] if f["severity"] == "critical"] == [], out["findings"]
    explicit = run({**prod, "config": alt}, "ask", "why can't I connect to db08 app from bot")
    assert "bot" in {row["vantage"] for row in explicit["connect"]}  # asked for by name: still tested


def test_drift_reports_every_reachable_host(prod: dict[str, Any], lab: FleetLab) -> None:
    out = run(prod, "drift", "--no-save")
    assert out["hosts"] == 5 and out["errors"] == [], out["errors"]


def test_drift_names_every_unreachable_host_with_the_real_reason(prod: dict[str, Any], lab: FleetLab) -> None:
    lab.stop_sshd("bastion")
    lab.stop_sshd("drop01")
    out = run(prod, "drift", "--no-save", ok=(3,))
    errors = {e["host"]: e["error"] for e in out["errors"] if not e.get("probe")}
    assert set(errors) == {"bastion", "db07", "db08", "drop01"}, out["errors"]
    for h in ("db07", "db08"):
        assert f"bastion (jump host for {h})" in errors[h] and "refused" in errors[h], errors[h]
    assert "refused" in errors["bastion"] and "jump host" not in errors["bastion"], errors["bastion"]
    assert "refused" in errors["drop01"] and "bastion" not in errors["drop01"], errors["drop01"]
    assert out["hosts"] == 5
    print("\ndrift errors:", *(f"  {h}: {e}" for h, e in sorted(errors.items())), sep="\n")


HOSTS = ("bastion", "db07", "db08", "nosftp01", "drop01")


def test_what_the_unprivileged_probe_user_sees(prod: dict[str, Any], lab: FleetLab) -> None:
    """docs/ssh.md's table, checked through `whycant probe HOST --json` on every kind of host:
    every counter file, sysctl and fact the probes read is there, nothing is unreadable, the
    listeners are read but without the owning process (`ss -p` is root's), and the numbers
    are printed for the closing note (`pytest -s`)."""
    lab.listener("db08", BOUND_PORT, bind="host")
    seen: dict[str, str] = {}
    for host in HOSTS:
        ev = run(prod, "probe", host)
        t = ev["target"]
        assert ev["probe_errors"] == [] and t["unreadable"] == {} and t["notes"] == [], (host, ev["probe_errors"], t)
        groups = {k.split(".", 1)[0] for k in t["counters_t0"]}
        assert {"Ip", "Icmp", "Tcp", "Udp", "TcpExt", "IpExt", "Ip6", "Udp6"} <= groups, (host, sorted(groups))
        nulls = sorted(k for k, v in t["sysctls"].items() if v is None)
        assert t["sysctls"] and nulls == [], (host, nulls)
        facts = t["facts"]
        assert facts["conntrack_max"] and facts["mem_total_kb"] and facts["kernel_release"], (host, facts)
        assert (lab.address(host), 22) in {(row["local_address"], row["port"]) for row in t["listeners"]}
        assert not any(row.get("process") for row in t["listeners"]), t["listeners"]  # root only
        seen[host] = (
            f"{t['file_access']}: {len(t['counters_t0'])} counters, {len(t['sysctls'])} sysctls, "
            f"{sum(v is not None for v in facts.values())}/{len(facts)} facts, "
            f"{len(t['listeners'])} listeners, unreadable {len(t['unreadable'])}"
        )
    db08 = {(row["local_address"], row["port"]) for row in run(prod, "probe", "db08")["target"]["listeners"]}
    assert (lab.address("db08"), BOUND_PORT) in db08  # another user's socket: listed, not its process
    print(f"\nprobe user {lab.user} sees:", *(f"  {h}: {v}" for h, v in seen.items()), sep="\n")
