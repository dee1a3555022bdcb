"""A lab fleet built the way production fleets are (issue 9), on the lab's primitives.

- An unprivileged probe user ``wcfl{slot}`` on every host (one system user: the
  namespaces share /etc/passwd), with its own home and ``~/.ssh/authorized_keys``;
  created at start, removed (``userdel``) at teardown. No root logins anywhere.
- ``bastion``: OpenSSH on the front network (the bot's bridge, 198.18.N.0/24) and on a
  back network 198.18.N.160/27 whose bridge lives *inside* the bastion's namespace. The
  bot's namespace has no path there: its on-link /24 covers those addresses (so nothing
  ever leaves the lab by the default route) but no neighbour answers on its bridge, so a
  connect from the bot fails (EHOSTUNREACH) while the bastion reaches them.
- ``db07``: OpenSSH on the back network only: reachable through the bastion alone.
- ``nosftp01``: OpenSSH without the ``Subsystem sftp`` line.
- ``drop01``: real dropbear (Debian ``dropbear-bin``); its sftp-server is hidden in
  dropbear's own mount namespace, so it has no SFTP either.

Extend it with ``add_openssh(name, behind=..., sftp=...)`` / ``add_dropbear(name)``
(e.g. a host whose service binds its own address: ``lab.listener(name, port, bind="host")``).
``whycant_config()`` returns the inventory as whycant.yaml ``hosts`` (group ``dc2`` reaches
its hosts through ``groups.dc2.proxy_jump: bastion``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

from probes.transports.ssh_exec import SUDO_COMMANDS
from tests.lab.lab import LAB_ROOT, Lab, LabError, LabHost, run_command

DROPBEAR = shutil.which("dropbear") or "/usr/sbin/dropbear"
DROPBEARKEY = shutil.which("dropbearkey") or "/usr/bin/dropbearkey"
BACK_BRIDGE = "back"  # inside the bastion's namespace
BACK_FIRST, BACK_LAST = 160, 191  # the back network: 198.18.N.160/27, inside the slot's /24
BACK_PREFIX = 27
BASTION_BACK_OCTET = 161


_STALLED_SSHD = textwrap.dedent(
    """
    import signal, socket, sys, threading
    addr, port, life = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    signal.alarm(life)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)
    print("READY {}", flush=True)
    held = []
    for _ in range(64):
        c, _ = s.accept()
        c.sendall(b"SSH-2.0-OpenSSH_9.2p1 stalled\\r\\n")
        held.append(c)
    signal.pause()
    """
)


def fleet_unavailable_reason() -> str | None:
    for tool in (DROPBEAR, DROPBEARKEY):
        if not os.access(tool, os.X_OK):
            return f"the fleet lab needs dropbear ({tool}; Debian package dropbear-bin)"
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        return "the fleet lab needs useradd/userdel (passwd)"
    return None


def sudoers_lines(user: str) -> str:
    """The sudoers lines docs/ssh.md gives for ``ssh.sudo: true`` (the fixed root-only commands)."""
    ss = shutil.which("ss") or "/usr/bin/ss"
    return "".join(f"{user} ALL=(root) NOPASSWD: {ss} {' '.join(argv[1:])}\n" for argv in sorted(SUDO_COMMANDS))


class FleetLab(Lab):
    """A :class:`Lab` whose hosts are OpenSSH (with or without SFTP) or dropbear, on the
    front network or behind the bastion, logged in to as an unprivileged user."""

    def __init__(self, *, slot: int | None = None):
        super().__init__(hosts={}, slot=slot)
        self.kinds: dict[str, str] = {}  # host -> openssh | nosftp | dropbear
        self.behind: dict[str, str] = {}  # host -> its jump host
        self.bastion: str | None = None

    # ------------------------------------------------------------------ names
    @property
    def user(self) -> str:
        return f"wcfl{self.slot}"

    @property
    def sudoers(self) -> Path:
        return Path("/etc/sudoers.d") / f"whycant-lab-{self.user}"

    @property
    def home(self) -> Path:
        return LAB_ROOT / f"fleet{self.slot}-home"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FleetLab:
        reason = fleet_unavailable_reason()
        if reason:
            raise LabError(reason)
        super().start()
        try:
            self._add_user()
        except BaseException:
            self.close()
            raise
        return self

    def _add_user(self) -> None:
        self._del_user()  # what a crashed run with this slot left
        self.home.mkdir(mode=0o755, parents=True, exist_ok=True)
        run_command(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                str(self.home),
                "--shell",
                "/bin/sh",
                "--comment",
                f"whycant lab probe user (slot {self.slot})",
                "--user-group",
                "--password",
                "*",
                self.user,
            ]
        )  # "*": no password, but not locked (sshd refuses locked accounts)
        pw = pwd.getpwnam(self.user)
        ssh = self.home / ".ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        (ssh / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
        os.chmod(ssh / "authorized_keys", 0o600)
        for p in (self.home, ssh, ssh / "authorized_keys"):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        if self.sudoers.parent.is_dir():  # the lines docs/ssh.md gives, for this user
            self.sudoers.write_text(sudoers_lines(self.user))
            os.chmod(self.sudoers, 0o440)

    def _del_user(self) -> None:
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            pass
        else:
            run_command(["userdel", self.user], check=False)
        shutil.rmtree(self.home, ignore_errors=True)
        self.sudoers.unlink(missing_ok=True)

    def close(self) -> None:
        if self._closed or not self._started:
            return
        super().close()  # kills everything in our namespaces first (the user's sessions too)
        if self.slot >= 0:
            self._del_user()

    # ------------------------------------------------------------------ hosts
    def add_bastion(self, name: str = "bastion", octet: int = 5) -> LabHost:
        """The jump host: front address 198.18.N.octet, back bridge 198.18.N.161/27 in its namespace."""
        self.bastion = name  # before its sshd_config is written: it allows TCP forwarding
        h = self.add_openssh(name, octet)
        self.netns_exec(h.netns, "ip", "link", "add", BACK_BRIDGE, "type", "bridge")
        self.netns_exec(
            h.netns, "ip", "addr", "add", f"{self.net}.{BASTION_BACK_OCTET}/{BACK_PREFIX}", "dev", BACK_BRIDGE
        )
        self.netns_exec(h.netns, "ip", "link", "set", BACK_BRIDGE, "up")
        return h

    def add_openssh(
        self, name: str, octet: int | None = None, *, sftp: bool = True, behind: str | None = None
    ) -> LabHost:
        self.kinds[name] = "openssh" if sftp else "nosftp"
        return self._add(name, octet, behind)

    def add_dropbear(self, name: str, octet: int | None = None, *, behind: str | None = None) -> LabHost:
        self.kinds[name] = "dropbear"
        return self._add(name, octet, behind)

    def _add(self, name: str, octet: int | None, behind: str | None) -> LabHost:
        if behind is None:
            return self.add_host(name, octet)
        if behind != self.bastion:
            raise LabError(f"{name}: only the bastion ({self.bastion}) has a back network")
        octet = octet or next(
            o for o in range(BASTION_BACK_OCTET + 1, BACK_LAST) if o not in {h.octet for h in self.hosts.values()}
        )
        if not BASTION_BACK_OCTET < octet < BACK_LAST:
            raise LabError(
                f"{name}: a host behind the bastion needs an octet in {BASTION_BACK_OCTET + 1}..{BACK_LAST - 1}"
            )
        return self._add_back_host(name, octet, behind)

    def _add_back_host(self, name: str, octet: int, behind: str) -> LabHost:
        """A namespace on the bastion's back bridge only (the bot has no route to it)."""
        if name in self.hosts:
            raise LabError(f"lab host {name!r} exists")
        b = self.lab_host(behind)
        ns = f"{self.prefix}-{name}"
        peer = f"b-{name}"
        host = LabHost(name, octet, f"{self.net}.{octet}", ns, peer, self.dir / name)
        self.hosts[name] = host
        self.behind[name] = behind
        host.dir.mkdir(parents=True, exist_ok=True)
        run_command(["ip", "netns", "add", ns])
        run_command(["ip", "link", "add", peer, "netns", b.netns, "type", "veth", "peer", "name", "eth0", "netns", ns])
        self.netns_exec(b.netns, "ip", "link", "set", peer, "master", BACK_BRIDGE)
        self.netns_exec(b.netns, "ip", "link", "set", peer, "up")
        self.netns_exec(ns, "ip", "link", "set", "lo", "up")
        self.netns_exec(ns, "ip", "addr", "add", f"{host.address}/{BACK_PREFIX}", "dev", "eth0")
        self.netns_exec(ns, "ip", "link", "set", "eth0", "up")
        self._host_key(host)
        (host.dir / "sshd_config").write_text(self.sshd_config(host))
        self.start_sshd(name)
        self.write_known_hosts()
        return host

    def _host_key(self, host: LabHost) -> None:
        key = host.dir / "ssh_host_ed25519_key"
        if self.kinds.get(host.name) == "dropbear":
            run_command([DROPBEARKEY, "-t", "ed25519", "-f", str(key)])
            pub = run_command([DROPBEARKEY, "-y", "-f", str(key)]).stdout
            line = next(ln for ln in pub.splitlines() if ln.startswith("ssh-ed25519 "))
            host.host_key_pub = " ".join(line.split()[:2])
        else:
            self.keygen(key, f"{host.name}@whycant-fleet")
            host.host_key_pub = " ".join(Path(f"{key}.pub").read_text().split()[0:2])

    def add_host(
        self, name: str, octet: int | None = None, *, sshd: bool = True, _write_known_hosts: bool = True
    ) -> LabHost:
        if octet is None:  # front hosts stay out of the back network's addresses
            used = {h.octet for h in self.hosts.values()}
            octet = next(o for o in range(40, 250) if o not in used and not BACK_FIRST <= o <= BACK_LAST)
        if sshd and self.kinds.get(name) == "dropbear":
            host = super().add_host(name, octet, sshd=False)
            host.sshd_wanted = True
            self._host_key(host)
            self.start_sshd(name)
            if _write_known_hosts:
                self.write_known_hosts()
            return host
        return super().add_host(name, octet, sshd=sshd, _write_known_hosts=_write_known_hosts)

    def sshd_config(self, host: LabHost) -> str:
        sftp = "" if self.kinds.get(host.name) == "nosftp" else "Subsystem sftp internal-sftp\n"
        return (
            textwrap.dedent(
                f"""\
            # whycant fleet sshd for {host.name} (slot {self.slot}): probe user {self.user}, no root
            ListenAddress {host.address}:22
            HostKey {host.dir}/ssh_host_ed25519_key
            PidFile {host.dir}/sshd.pid
            AuthorizedKeysFile .ssh/authorized_keys
            PermitRootLogin no
            AllowUsers {self.user}
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            UseDNS no
            PrintMotd no
            PrintLastLog no
            AllowTcpForwarding {"yes" if host.name == self.bastion else "no"}
            MaxStartups 100:30:200
            MaxSessions 64
            LogLevel INFO
            """
            )
            + sftp
        )

    def start_sshd(self, host: str) -> None:
        if self.kinds.get(host) != "dropbear":
            return super().start_sshd(host)
        h = self.lab_host(host)
        if h.sshd is not None and h.sshd.poll() is None:
            return
        # dropbear finds /usr/lib/sftp-server; hide it in dropbear's own mount namespace
        # (ip netns exec gives every command a private one), so this host has no SFTP
        script = 'mount --bind /dev/null "$(readlink -f /usr/lib/sftp-server)" && exec "$@"'
        log = open(h.dir / "sshd.log", "ab")
        try:
            h.sshd = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    h.netns,
                    "sh",
                    "-c",
                    script,
                    "dropbear",
                    DROPBEAR,
                    "-F",
                    "-E",
                    "-s",
                    "-w",
                    "-p",
                    f"{h.address}:22",
                    "-r",
                    str(h.dir / "ssh_host_ed25519_key"),
                    "-P",
                    str(h.dir / "dropbear.pid"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if h.sshd.poll() is not None:
                log_tail = (h.dir / "sshd.log").read_text()[-500:]
                raise LabError(f"dropbear on {host} exited {h.sshd.returncode}: {log_tail}")
            if h.address in self.netns_exec(h.netns, "ss", "-ltnH", "sport = :22", check=False).stdout:
                return
            time.sleep(0.02)
        raise LabError(f"dropbear on {host} did not listen within 5 s")

    # ------------------------------------------------------------------ failure modes
    def stalled_sshd(self, host: str, port: int) -> int:
        """A server on host:port that sends an SSH banner and then nothing (bounded like every helper)."""
        return self.spawn_helper(host, "stalled-sshd", port, _STALLED_SSHD, self.address(host), port, 300).proc.pid

    # ------------------------------------------------------------------ failures behind the bastion
    def accept_queue_overflow(self, host: str, port: int, backlog: int = 2) -> dict[str, int]:
        """As :meth:`Lab.accept_queue_overflow`; a host behind the bastion is filled from the bastion."""
        if host not in self.behind:
            return super().accept_queue_overflow(host, port, backlog)
        self.set_sysctl(host, "net.core.somaxconn", backlog)
        self.listener(host, port, backlog=4096, mode="noaccept")
        return self.hold_connections(self.behind[host], host, port, backlog + 1, timeout=0.5)

    def _target_address(self, target: str) -> str:
        if target in self.hosts:
            return self.address(target)
        return super()._target_address(target)

    # ------------------------------------------------------------------ config for whycant
    def whycant_config(self, **ssh: Any) -> dict[str, Any]:
        """The fleet as whycant.yaml: probe user, known_hosts, key, bastion group, vantage ``dmz``."""
        hosts: dict[str, Any] = {}
        for h in self.hosts.values():
            if not h.sshd_wanted:
                continue
            groups = ["fleet", self.kinds.get(h.name, "openssh")]
            if h.name in self.behind:
                groups.append("dc2")
            hosts[h.name] = {"address": h.address, "groups": groups, "services": {"postgres": 5432}}
        cfg: dict[str, Any] = {
            "ssh": {
                "user": self.user,
                "known_hosts": str(self.known_hosts),
                "client_keys": [str(self.client_key)],
                "config": [],
                "connect_timeout": 3,
                **ssh,
            },
            "hosts": hosts,
            "groups": {"dc2": {"proxy_jump": self.bastion}} if self.bastion else {},
            "vantages": {"dmz": {"host": self.bastion}} if self.bastion else {},
            "probe": {"window_seconds": 1.0, "connect_attempts": 5, "connect_timeout": 0.5, "connect_interval": 0.05},
        }
        return cfg


def build_fleet(slot: int | None = None) -> FleetLab:
    """The standard fleet: bastion, db07 and db08 behind it, nosftp01, drop01."""
    fleet = FleetLab(slot=slot).start()
    try:
        fleet.add_bastion("bastion", 5)
        fleet.add_openssh("db07", 167, behind="bastion")
        fleet.add_openssh("db08", 168, behind="bastion")
        fleet.add_openssh("nosftp01", 11, sftp=False)
        fleet.add_dropbear("drop01", 12)
    except BaseException:
        fleet.close()
        raise
    return fleet


if __name__ == "__main__":  # pragma: no cover - manual demo aid
    import signal

    import yaml

    f = build_fleet()
    try:
        print(yaml.safe_dump(f.whycant_config(), sort_keys=False))
        print(f"# fleet slot {f.slot}; Ctrl-C tears it down", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        f.close()
