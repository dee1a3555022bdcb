"""A lab of real Linux hosts in network namespaces, with real OpenSSH sshd.

One ``Lab`` owns one /24 slot ``198.18.N.0/24`` (N from a lock file under
``/run/whycant-lab/``), a bridge ``wc{N}br`` in the root namespace holding
``198.18.N.1`` (the "bot" host), and one namespace per host (``wc{N}-db01``…)
attached to the bridge by a veth pair (``wc{N}-db01`` in the root namespace,
``eth0`` inside). Every host runs ``sshd -D -e -f <cfg>`` with its own
generated ed25519 host key; the lab writes a known_hosts file and a client key.

Failure modes are created on demand (``accept_queue_overflow``, ``listener``,
``nft_drop_from``/``nft_reject_from``, ``no_route``, ``exhaust_ephemeral_ports``,
``syn_queue_overflow``, ``tw_bucket_overflow``, ``set_sysctl``) and undone by
``reset()``. Only per-namespace sysctls are touched, never the root namespace's.

Teardown kills only the processes the lab started (its Popen objects, then
whatever still runs inside its own namespaces, found with ``ip netns pids`` on
names carrying its prefix and slot) and deletes only its own namespaces and
links; it runs from ``close()``, the pytest fixture finalizer and ``atexit``.
A lab that takes a slot first removes what a crashed earlier run left there.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

LAB_ROOT = Path("/run/whycant-lab")
PREFIX = "wc"
SLOTS = range(0, 256)  # 198.18.N.0/24; all inside 198.18.0.0/15
SSHD = "/usr/sbin/sshd"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3") or sys.executable
DEFAULT_HOSTS: dict[str, int] = {"db01": 10, "office1": 20, "app01": 30}
# `ip netns exec` gives each command a fresh mount namespace and /sys: mount tracefs there, then exec sshd
_TRACEFS_EXEC = ("sh", "-c", 'mount -t tracefs nodev /sys/kernel/tracing && exec "$@"', "lab-tracefs")
LOADGEN = "loadgen"  # helper namespace for load (queue fills, churn); no sshd
LOADGEN_OCTET = 250
HELPER_LIFETIME = 300  # seconds; every helper process exits on its own after this
_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,8}$")  # wc255- + 9 chars = 15 = IFNAMSIZ-1


class LabError(RuntimeError):
    pass


NETNS_ETC = Path("/etc/netns")  # `ip netns exec NS` bind-mounts /etc/netns/NS/* over /etc/*


def _lab_passwd(passwd: str) -> str:
    """/etc/passwd as lab hosts see it: root's login shell is /bin/sh.

    sshd runs every command through the user's login shell, and Debian's bash sources
    ~/.bashrc when started by sshd; root's .bashrc on a developer machine may run slow or
    lock-taking tools (pyenv rehash). A lab host, like a production host, logs in with a
    plain shell, so the probes' timing and the tests do not depend on the machine's root.
    """
    out = []
    for line in passwd.splitlines():
        f = line.split(":")
        if len(f) == 7 and f[0] == "root":
            f[6] = "/bin/sh"
            line = ":".join(f)
        out.append(line)
    return "\n".join(out) + "\n"


def lab_unavailable_reason() -> str | None:
    """Why the lab cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "the network-namespace lab needs root (ip netns, veth, sshd)"
    for tool in ("ip", "nft", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"the lab needs `{tool}` (iproute2 / nftables / openssh-client)"
    if not os.access(SSHD, os.X_OK):
        return f"the lab needs OpenSSH's sshd at {SSHD} (openssh-server)"
    if not PYTHON or not os.access(PYTHON, os.X_OK):
        return "the lab needs python3 for its helper processes"
    return None


def run_command(
    argv: Sequence[str], *, check: bool = True, timeout: float = 30, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run *argv* on the machine (no shell); LabError on a non-zero exit when *check*."""
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise LabError(f"{' '.join(argv)} -> exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p


# --------------------------------------------------------------------------- helper scripts
# Each runs as `python3 -c SCRIPT args...`, prints one "READY {...}" line, is bounded in
# count and time (signal.alarm), and is killed by PID at reset/teardown.

_LISTENER = textwrap.dedent(
    """
    import signal, socket, sys
    bind, port, backlog, mode, life = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    signal.alarm(life)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port))
    s.listen(backlog)
    print("READY {}", flush=True)
    if mode == "noaccept":
        while True:
            signal.pause()
    while True:
        c, _ = s.accept()
        try:
            if mode == "banner":
                c.sendall(b"whycant-lab\\n")
        except OSError:
            pass
        c.close()
    """
)

_HOLDER = textwrap.dedent(
    """
    import errno, json, signal, socket, sys, time
    addr, port, count, timeout, stop_on, life = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    signal.alarm(life)
    names = {errno.ECONNREFUSED: "refused", errno.EHOSTUNREACH: "unreachable", errno.ENETUNREACH: "unreachable",
             errno.EADDRNOTAVAIL: "addr_not_avail", errno.ECONNRESET: "reset"}
    held, res = [], {}
    deadline = time.monotonic() + 20
    for i in range(count):
        if time.monotonic() > deadline:
            break
        s = socket.socket()
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
            held.append(s)
            r = "ok"
        except socket.timeout:
            r = "timeout"; s.close()
        except OSError as e:
            r = names.get(e.errno, "error"); s.close()
        res[r] = res.get(r, 0) + 1
        if r == stop_on:
            break
    print("READY " + json.dumps(res), flush=True)
    while True:
        signal.pause()
    """
)

_CHURN = textwrap.dedent(
    """
    import json, socket, sys, time
    addr, port, count, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    deadline = time.monotonic() + budget
    res = {"ok": 0, "error": 0}
    for i in range(count):
        if time.monotonic() > deadline:
            break
        s = socket.socket()
        s.settimeout(1.0)
        try:
            s.connect((addr, port))
            while s.recv(4096):
                pass
            res["ok"] += 1
        except OSError:
            res["error"] += 1
        finally:
            s.close()
    print(json.dumps(res))
    """
)

CONNECT_SCRIPT = textwrap.dedent(
    """
    import errno, socket, sys, time
    addr, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    names = {errno.ECONNREFUSED: "refused", errno.EHOSTUNREACH: "unreachable", errno.ENETUNREACH: "unreachable",
             errno.EADDRNOTAVAIL: "addr_not_avail", errno.ECONNRESET: "reset"}
    s = socket.socket()
    s.settimeout(timeout)
    t = time.monotonic()
    try:
        s.connect((addr, port)); r = "ok"
    except socket.timeout:
        r = "timeout"
    except OSError as e:
        r = names.get(e.errno, "error:" + errno.errorcode.get(e.errno, str(e.errno)))
    finally:
        s.close()
    print(r, round((time.monotonic() - t) * 1000, 1))
    """
)


@dataclass
class LabHost:
    name: str
    octet: int
    address: str
    netns: str
    veth: str
    dir: Path
    sshd_wanted: bool = True
    tracefs: bool = False  # sshd (and its sessions) see tracefs at /sys/kernel/tracing
    host_key_pub: str = ""
    sshd: subprocess.Popen | None = None


@dataclass
class Helper:
    host: str
    kind: str
    port: int | None
    proc: subprocess.Popen
    info: dict[str, Any] = field(default_factory=dict)


class Lab:
    """Network-namespace lab; use as a context manager or call start()/close()."""

    def __init__(self, hosts: dict[str, int] | None = None, *, slot: int | None = None):
        self._want_hosts = dict(DEFAULT_HOSTS if hosts is None else hosts)
        self._want_slot = slot
        self.slot: int = -1
        self.hosts: dict[str, LabHost] = {}
        self._lock_fd: int | None = None
        self._helpers: list[Helper] = []
        self._sysctl_orig: dict[tuple[str, str], str] = {}
        self._routes: list[tuple[str, str]] = []
        self._nft_hosts: set[str] = set()
        self._started = False
        self._closed = False

    # ------------------------------------------------------------------ names
    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.slot}"

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    @property
    def net(self) -> str:
        return f"198.18.{self.slot}"

    @property
    def subnet(self) -> str:
        return f"{self.net}.0/24"

    @property
    def bot_address(self) -> str:
        return f"{self.net}.1"

    @property
    def dir(self) -> Path:
        return LAB_ROOT / f"slot{self.slot}"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def client_key(self) -> Path:
        return self.dir / "client_ed25519"

    @property
    def nft_table(self) -> str:
        return f"{self.prefix}lab"

    def address(self, host: str) -> str:
        if host == "bot":
            return self.bot_address
        return self.lab_host(host).address

    def lab_host(self, name: str) -> LabHost:
        """The lab host called *name* (LabError if there is none)."""
        try:
            return self.hosts[name]
        except KeyError:
            raise LabError(f"no lab host {name!r} (have: {', '.join(self.hosts)})") from None

    def _netns(self, host: str) -> str:
        if host == "bot":
            raise LabError("'bot' is the root namespace: the lab never changes it")
        return self.lab_host(host).netns

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> "Lab":
        if self._started:
            return self
        reason = lab_unavailable_reason()
        if reason:
            raise LabError(reason)
        self._acquire_slot()
        self._started = True
        atexit.register(self.close)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
            self.keygen(self.client_key, f"whycant-lab-client-slot{self.slot}")
            (self.dir / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
            run_command(["ip", "link", "add", self.bridge, "type", "bridge"])
            run_command(["ip", "link", "set", "dev", self.bridge, "addrgenmode", "none"])
            run_command(["ip", "addr", "add", f"{self.bot_address}/24", "dev", self.bridge])
            run_command(["ip", "link", "set", self.bridge, "up"])
            for name, octet in self._want_hosts.items():
                self.add_host(name, octet, _write_known_hosts=False)
            self.write_known_hosts()
        except BaseException:
            self.close()
            raise
        return self

    def _acquire_slot(self) -> None:
        LAB_ROOT.mkdir(parents=True, exist_ok=True)
        slots = [self._want_slot] if self._want_slot is not None else list(SLOTS)
        for n in slots:
            fd = os.open(LAB_ROOT / f"slot{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.slot = n
            self._cleanup_stale()
            if self._subnet_in_use():
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                self.slot = -1
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._lock_fd = fd
            return
        raise LabError(f"no free lab slot under {LAB_ROOT} (all of 198.18.{slots[0]}-{slots[-1]}.0/24 busy)")

    def _subnet_in_use(self) -> bool:
        out = run_command(["ip", "-4", "-o", "addr", "show"]).stdout
        return any(f" {self.net}." in line for line in out.splitlines())

    def _own_netns(self) -> list[str]:
        out = run_command(["ip", "netns", "list"], check=False).stdout
        names = [line.split()[0] for line in out.splitlines() if line.strip()]
        return [n for n in names if n.startswith(f"{self.prefix}-")]

    def _own_links(self) -> list[str]:
        out = run_command(["ip", "-o", "link", "show"], check=False).stdout
        links = []
        for line in out.splitlines():
            parts = line.split(":", 2)
            if len(parts) < 2:
                continue
            name = parts[1].strip().split("@")[0]
            if name == self.bridge or name.startswith(f"{self.prefix}-"):
                links.append(name)
        return links

    def _kill_netns_pids(self, netns: str) -> None:
        """Kill what runs inside one of *our* namespaces (identified by its name)."""
        for _ in range(3):
            out = run_command(["ip", "netns", "pids", netns], check=False).stdout.split()
            pids = [int(p) for p in out if p.isdigit() and int(p) != os.getpid()]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def _remove_netns_etc(self) -> None:
        """Remove /etc/netns/<our prefix>-* (the per-namespace files this slot wrote)."""
        if NETNS_ETC.is_dir():
            for d in NETNS_ETC.iterdir():
                if d.name.startswith(f"{self.prefix}-"):
                    shutil.rmtree(d, ignore_errors=True)

    def _cleanup_stale(self) -> None:
        """Remove what a crashed run left in this slot (by name prefix + slot only)."""
        for ns in self._own_netns():
            self._kill_netns_pids(ns)
        for link in self._own_links():
            run_command(["ip", "link", "del", link], check=False)
        for ns in self._own_netns():
            run_command(["ip", "netns", "del", ns], check=False)
        self._remove_netns_etc()
        shutil.rmtree(self.dir, ignore_errors=True)

    def close(self) -> None:
        if self._closed or not self._started:
            return
        self._closed = True
        for h in list(self._helpers):
            self._stop_proc(h.proc)
        self._helpers.clear()
        for host in self.hosts.values():
            if host.sshd is not None:
                self._stop_proc(host.sshd)
                host.sshd = None
        for ns in self._own_netns():
            self._kill_netns_pids(ns)  # sshd sessions and their children
        # links first: deleting a veth removes both ends at once (netns teardown is asynchronous)
        for link in self._own_links():
            run_command(["ip", "link", "del", link], check=False)
        for ns in self._own_netns():
            run_command(["ip", "netns", "del", ns], check=False)
        self._remove_netns_etc()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None
        try:
            atexit.unregister(self.close)
        except Exception:  # pragma: no cover
            pass

    @staticmethod
    def _stop_proc(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(2)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()

    # ------------------------------------------------------------------ hosts
    def keygen(self, path: Path, comment: str) -> None:
        """A new ed25519 key pair at *path* (no passphrase)."""
        run_command(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])

    def add_host(
        self,
        name: str,
        octet: int | None = None,
        *,
        sshd: bool = True,
        _write_known_hosts: bool = True,
        tracefs: bool = False,
    ) -> LabHost:
        """Add a namespace host on the bridge (with its own sshd unless sshd=False).

        ``tracefs``: mount tracefs at /sys/kernel/tracing in sshd's own mount namespace
        (private to it and its sessions), as a real host has it.
        """
        if not _NAME_RE.match(name) or name == "bot":
            raise LabError(f"lab host name {name!r}: 1-9 lowercase letters/digits, not 'bot'")
        if name in self.hosts:
            raise LabError(f"lab host {name!r} exists")
        used = {h.octet for h in self.hosts.values()} | {1}
        if octet is None:
            octet = next(o for o in range(40, 250) if o not in used)
        if not 2 <= octet <= 254 or octet in used:
            raise LabError(f"lab host {name!r}: address octet {octet} is taken or invalid")
        ns = f"{self.prefix}-{name}"
        host = LabHost(name, octet, f"{self.net}.{octet}", ns, ns, self.dir / name, sshd_wanted=sshd, tracefs=tracefs)
        self.hosts[name] = host
        host.dir.mkdir(parents=True, exist_ok=True)
        run_command(["ip", "netns", "add", ns])
        etc = NETNS_ETC / ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "passwd").write_text(_lab_passwd(Path("/etc/passwd").read_text()))
        run_command(["ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run_command(["ip", "link", "set", "dev", host.veth, "addrgenmode", "none"])
        run_command(["ip", "link", "set", host.veth, "master", self.bridge])
        run_command(["ip", "link", "set", host.veth, "up"])
        self.netns_exec(ns, "ip", "link", "set", "lo", "up")
        self.netns_exec(ns, "ip", "link", "set", "dev", "eth0", "addrgenmode", "none")
        self.netns_exec(ns, "ip", "addr", "add", f"{host.address}/24", "dev", "eth0")
        self.netns_exec(ns, "ip", "link", "set", "eth0", "up")
        if sshd:
            key = host.dir / "ssh_host_ed25519_key"
            self.keygen(key, f"{name}@whycant-lab")
            host.host_key_pub = " ".join(Path(f"{key}.pub").read_text().split()[0:2])
            (host.dir / "sshd_config").write_text(self.sshd_config(host))
            self.start_sshd(name)
            if _write_known_hosts:
                self.write_known_hosts()
        return host

    def remove_host(self, name: str) -> None:
        """Remove a host: its helpers, sshd, what runs in its namespace, its veth and namespace."""
        h = self.lab_host(name)
        self.stop_helpers(host=name)
        self.stop_sshd(name)
        self._kill_netns_pids(h.netns)
        run_command(["ip", "link", "del", h.veth], check=False)
        run_command(["ip", "netns", "del", h.netns], check=False)
        shutil.rmtree(NETNS_ETC / h.netns, ignore_errors=True)
        self._nft_hosts.discard(name)
        self._routes = [r for r in self._routes if r[0] != name]
        self._sysctl_orig = {k: v for k, v in self._sysctl_orig.items() if k[0] != name}
        shutil.rmtree(h.dir, ignore_errors=True)
        del self.hosts[name]
        self.write_known_hosts()

    def sshd_config(self, host: LabHost) -> str:
        """The sshd_config text of *host* (FleetLab overrides it)."""
        return textwrap.dedent(
            f"""\
            # whycant lab sshd for {host.name} (slot {self.slot})
            ListenAddress {host.address}:22
            HostKey {host.dir}/ssh_host_ed25519_key
            PidFile {host.dir}/sshd.pid
            AuthorizedKeysFile {self.dir}/authorized_keys
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            UseDNS no
            PrintMotd no
            PrintLastLog no
            MaxStartups 100:30:200
            MaxSessions 64
            LogLevel INFO
            Subsystem sftp internal-sftp
            """
        )

    def write_known_hosts(self) -> None:
        """The known_hosts file whycant uses: every lab host's name, address and host key."""
        lines = [f"{h.name},{h.address} {h.host_key_pub}" for h in self.hosts.values() if h.host_key_pub]
        self.known_hosts.write_text("\n".join(lines) + "\n")

    def host_key_line(self, host: str) -> str:
        h = self.lab_host(host)
        return f"{h.address} {h.host_key_pub}"

    def netns_exec(
        self, ns: str, *argv: str, check: bool = True, timeout: float = 30, input: str | None = None
    ) -> subprocess.CompletedProcess:
        """Run *argv* inside network namespace *ns* (by namespace name; :meth:`exec` takes a host name)."""
        return run_command(["ip", "netns", "exec", ns, *argv], check=check, timeout=timeout, input=input)

    def exec(
        self, host: str, *argv: str, check: bool = True, timeout: float = 30, input: str | None = None
    ) -> subprocess.CompletedProcess:
        """Run argv inside *host*'s namespace (``ip netns exec``); 'bot' runs in the root namespace."""
        if host == "bot":
            return run_command(list(argv), check=check, timeout=timeout, input=input)
        return self.netns_exec(self._netns(host), *argv, check=check, timeout=timeout, input=input)

    def start_sshd(self, host: str) -> None:
        h = self.lab_host(host)
        if h.sshd is not None and h.sshd.poll() is None:
            return
        log = open(h.dir / "sshd.log", "ab")
        try:
            h.sshd = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    h.netns,
                    *(_TRACEFS_EXEC if h.tracefs else ()),
                    SSHD,
                    "-D",
                    "-e",
                    "-f",
                    str(h.dir / "sshd_config"),
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
                raise LabError(f"sshd on {host} exited {h.sshd.returncode}: {(h.dir / 'sshd.log').read_text()[-500:]}")
            out = self.netns_exec(h.netns, "ss", "-ltnH", "sport = :22", check=False).stdout
            if h.address in out:
                return
            time.sleep(0.02)
        raise LabError(f"sshd on {host} did not listen within 5 s")

    def stop_sshd(self, host: str) -> None:
        """Stop the listening sshd (existing sessions live on, like systemd's KillMode=process)."""
        h = self.lab_host(host)
        if h.sshd is not None:
            self._stop_proc(h.sshd)
            h.sshd = None

    def sshd_running(self, host: str) -> bool:
        h = self.lab_host(host)
        return h.sshd is not None and h.sshd.poll() is None

    def sshd_pid(self, host: str) -> int | None:
        h = self.lab_host(host)
        return h.sshd.pid if h.sshd is not None and h.sshd.poll() is None else None

    def netns_pids(self, host: str) -> list[int]:
        out = run_command(["ip", "netns", "pids", self._netns(host)], check=False).stdout.split()
        return [int(p) for p in out if p.isdigit()]

    # ------------------------------------------------------------------ config for whycant
    def whycant_config(self, **ssh: Any) -> dict[str, Any]:
        """A whycant config dict (docs/architecture.md §Configuration) pointing at the lab hosts."""
        hosts: dict[str, Any] = {}
        for h in self.hosts.values():
            if not h.sshd_wanted:
                continue
            entry: dict[str, Any] = {"address": h.address, "port": 22, "user": "root", "groups": ["lab"]}
            if h.name == "db01":
                entry.update(groups=["lab", "db"], services={"postgres": 5432})
            elif h.name == "app01":
                entry.update(groups=["lab", "app"])
            elif h.name == "office1":
                entry.update(groups=["lab", "office"])
            hosts[h.name] = entry
        vantages: dict[str, Any] = {}
        if "office1" in self.hosts:
            vantages["office"] = {"host": "office1", "note": "office LAN (lab)"}
        if "app01" in self.hosts:
            vantages["dc"] = {"host": "app01", "note": "data centre (lab)"}
        ssh_cfg: dict[str, Any] = {
            "user": "root",
            "client_keys": [str(self.client_key)],
            "known_hosts": str(self.known_hosts),
            "connect_timeout": 1,
            "command_timeout": 5,
            "keepalive_interval": 5,
        }
        ssh_cfg.update(ssh)
        return {
            "ssh": ssh_cfg,
            "hosts": hosts,
            "vantages": vantages,
            "allowed_targets": [self.subnet],
            "probe": {"window_seconds": 1, "connect_attempts": 3, "connect_timeout": 1, "connect_interval": 0.05},
        }

    # ------------------------------------------------------------------ helpers
    def spawn_helper(
        self, host: str, kind: str, port: int | None, script: str, *args: Any, ready_timeout: float = 30
    ) -> Helper:
        """Run Python *script* with *args* inside *host*'s namespace; returns once it prints that it is ready."""
        # helpers run inside lab namespaces only (_netns refuses 'bot')
        argv = ["ip", "netns", "exec", self._netns(host), PYTHON, "-c", script, *map(str, args)]
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        helper = Helper(host, kind, port, proc)
        self._helpers.append(helper)
        deadline = time.monotonic() + ready_timeout
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([proc.stdout], [], [], 0.05)
            if r:
                line = proc.stdout.readline()
                break
            if proc.poll() is not None:
                break
        if not line.startswith(b"READY"):
            err = proc.stderr.read1(2000).decode(errors="replace") if proc.poll() is not None else ""
            self._stop_proc(proc)
            self._helpers.remove(helper)
            raise LabError(f"{kind} helper on {host} did not start: {line.decode(errors='replace')!r} {err}")
        helper.info = json.loads(line[5:].decode().strip() or "{}")
        return helper

    def stop_helpers(self, host: str | None = None, kind: str | None = None, port: int | None = None) -> None:
        for h in list(self._helpers):
            if (
                (host is None or h.host == host)
                and (kind is None or h.kind == kind)
                and (port is None or h.port == port)
            ):
                self._stop_proc(h.proc)
                self._helpers.remove(h)

    def helper_pids(self) -> list[int]:
        return [h.proc.pid for h in self._helpers if h.proc.poll() is None]

    def loadgen(self) -> str:
        """The helper namespace used to generate load (created on first use, no sshd)."""
        if LOADGEN not in self.hosts:
            self.add_host(LOADGEN, LOADGEN_OCTET, sshd=False)
        return LOADGEN

    # ------------------------------------------------------------------ sysctls
    def get_sysctl(self, host: str, key: str) -> str:
        path = "/proc/sys/" + key.replace(".", "/")
        return self.exec(host, "cat", path).stdout.strip()

    def set_sysctl(self, host: str, key: str, value: Any) -> None:
        """Set a per-namespace sysctl in *host*'s namespace (restored by reset())."""
        self._netns(host)  # refuses 'bot' (root namespace)
        if not key.startswith(("net.", "net/")):
            raise LabError(f"{key}: the lab only sets per-namespace net.* sysctls")
        if (host, key) not in self._sysctl_orig:
            self._sysctl_orig[(host, key)] = self.get_sysctl(host, key)
        val = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        self.exec(host, "sysctl", "-q", "-w", f"{key}={val}")

    # ------------------------------------------------------------------ failure modes
    def listener(
        self, host: str, port: int, bind: str = "0.0.0.0", *, backlog: int = 4096, mode: str = "banner"
    ) -> int:
        """A real accepting TCP server on host:port (bind "127.0.0.1" = loopback only). Returns its PID.

        mode: "banner" (send a line, close), "close" (close at once: server-side TIME-WAIT),
        "noaccept" (listen() and never accept).
        """
        if bind == "host":
            bind = self.address(host)
        h = self.spawn_helper(host, f"listener-{mode}", port, _LISTENER, bind, port, backlog, mode, HELPER_LIFETIME)
        return h.proc.pid

    def hold_connections(
        self, vantage: str, target: str, port: int, count: int, *, timeout: float = 0.5, stop_on: str = "-"
    ) -> dict[str, int]:
        """Open up to *count* connections from vantage to target:port and hold them (bounded)."""
        h = self.spawn_helper(
            vantage,
            "holder",
            port,
            _HOLDER,
            self.address(target),
            port,
            min(count, 5000),
            timeout,
            stop_on,
            HELPER_LIFETIME,
        )
        return h.info

    def accept_queue_overflow(self, host: str, port: int, backlog: int = 2) -> dict[str, int]:
        """Small somaxconn, a listener that never accepts, its accept queue pre-filled.

        After this, new connects to host:port time out and TcpExt.ListenOverflows /
        ListenDrops rise on *host*. Returns the pre-fill results (from the loadgen namespace).
        """
        self.set_sysctl(host, "net.core.somaxconn", backlog)
        self.listener(host, port, backlog=4096, mode="noaccept")  # capped by somaxconn
        # the accept queue holds backlog+1 connections
        return self.hold_connections(self.loadgen(), host, port, backlog + 1, timeout=0.5)

    def _nft(self, host: str, script: str) -> None:
        self.exec(host, "nft", "-f", "-", input=script)
        self._nft_hosts.add(host)

    def nft_rule(self, host: str, hook: str, rule: str) -> None:
        """Add nftables *rule* to *hook* (input/output) in the lab's table on *host*."""
        t = self.nft_table
        self._nft(
            host,
            f"add table inet {t}\nadd chain inet {t} {hook} {{ type filter hook {hook} priority 0; policy accept; }}\nadd rule inet {t} {hook} {rule}\n",
        )

    def nft_drop_from(self, host: str, src_host: str, port: int) -> None:
        """On *host*, silently drop TCP to *port* from *src_host*'s address (timeouts there)."""
        self.nft_rule(host, "input", f"ip saddr {self.address(src_host)} tcp dport {port} counter drop")

    def nft_reject_from(self, host: str, src_host: str, port: int, with_: str = "icmp") -> None:
        """On *host*, reject TCP to *port* from *src_host* (icmp port-unreachable, or with_="tcp reset")."""
        how = "reject with tcp reset" if with_ == "tcp reset" else "reject with icmp type port-unreachable"
        self.nft_rule(host, "input", f"ip saddr {self.address(src_host)} tcp dport {port} counter {how}")

    def no_route(self, vantage: str, target: str, kind: str = "unreachable") -> None:
        """In *vantage*'s namespace, `ip route add unreachable|prohibit|blackhole <target>/32`."""
        if kind not in ("unreachable", "prohibit", "blackhole"):
            raise LabError(f"route kind {kind!r}")
        dst = f"{self.address(target)}/32"
        self.exec(vantage, "ip", "route", "add", kind, dst)
        self._routes.append((vantage, dst))

    def exhaust_ephemeral_ports(self, vantage: str, target: str, port: int, ports: int = 4) -> dict[str, int]:
        """Tiny ip_local_port_range on *vantage*, all of it held open towards target:port.

        A listener is started on target:port if the lab has none there. A further
        connect from vantage to target:port then fails with EADDRNOTAVAIL.
        """
        if not any(h.host == target and h.port == port and h.kind.startswith("listener") for h in self._helpers):
            self.listener(target, port)
        lo = 40000
        self.set_sysctl(vantage, "net.ipv4.ip_local_port_range", f"{lo} {lo + ports - 1}")
        return self.hold_connections(vantage, target, port, ports + 2, timeout=1.0, stop_on="addr_not_avail")

    def syn_queue_overflow(self, target: str, port: int, syncookies: bool, backlog: int = 8) -> dict[str, int]:
        """Fill target:port's SYN queue with half-open connections.

        The target gets somaxconn=*backlog* (since 4.4 that bounds the SYN queue too), a
        small tcp_max_syn_backlog and tcp_syncookies 0/1, and an accepting listener. The
        loadgen namespace connects with an nftables output rule that drops every non-SYN
        packet to target:port, so the final ACK of each handshake never arrives and the
        requests stay in SYN_RECV (the kernel retransmits SYN-ACKs for ~60 s). No raw sockets.
        Afterwards: syncookies off -> new SYNs dropped (TcpExt.TCPReqQFullDrop, timeouts);
        on -> answered with cookies (TcpExt.SyncookiesSent / TCPReqQFullDoCookies, connects ok).
        """
        self.set_sysctl(target, "net.core.somaxconn", backlog)
        self.set_sysctl(target, "net.ipv4.tcp_max_syn_backlog", max(4 * backlog, 32))
        self.set_sysctl(target, "net.ipv4.tcp_syncookies", 1 if syncookies else 0)
        self.listener(target, port, backlog=4096, mode="banner")
        lg = self.loadgen()
        self.nft_rule(
            lg, "output", f"ip daddr {self.address(target)} tcp dport {port} tcp flags & syn == 0 counter drop"
        )
        return self.hold_connections(lg, target, port, backlog + 3, timeout=0.3)

    def tw_bucket_overflow(self, host: str, port: int, buckets: int = 4, connections: int = 60) -> dict[str, int]:
        """Tiny tcp_max_tw_buckets on *host*, a listener that closes first (server-side
        TIME-WAIT), and a bounded churn of short connections from loadgen:
        TcpExt.TCPTimeWaitOverflow rises on *host*."""
        self.set_sysctl(host, "net.ipv4.tcp_max_tw_buckets", buckets)
        self.listener(host, port, mode="close")
        out = self.exec(
            self.loadgen(),
            PYTHON,
            "-c",
            _CHURN,
            self.address(host),
            str(port),
            str(min(connections, 2000)),
            "8",
            timeout=20,
        )
        return json.loads(out.stdout)

    # ------------------------------------------------------------------ observation
    def try_connect(self, vantage: str, target: str, port: int, timeout: float = 1.0) -> str:
        """One plain python socket connect from *vantage* ('bot' = root namespace).

        Returns ok | refused | timeout | reset | unreachable | addr_not_avail | error:ERRNO.
        """
        out = self.exec(
            vantage,
            PYTHON,
            "-c",
            CONNECT_SCRIPT,
            self._target_address(target),
            str(port),
            str(timeout),
            timeout=timeout + 10,
        )
        return out.stdout.split()[0]

    def _target_address(self, target: str) -> str:
        """A lab host name, 'bot', or an address that is loopback or inside this lab's /24."""
        import ipaddress

        try:
            ip = ipaddress.ip_address(target)
        except ValueError:
            return self.address(target)
        if ip.is_loopback or ip in ipaddress.ip_network(self.subnet):
            return target
        raise LabError(f"{target}: the lab only connects to loopback or {self.subnet}")

    def nstat(self, host: str) -> dict[str, int]:
        """Counters of *host*'s namespace straight from /proc (Group.Name keys), for cross-checks."""
        counters: dict[str, int] = {}
        for f in ("/proc/net/netstat", "/proc/net/snmp"):
            lines = self.exec(host, "cat", f).stdout.splitlines()
            for head, vals in zip(lines[::2], lines[1::2]):
                group, names = head.split(":", 1)
                for n, v in zip(names.split(), vals.split(":", 1)[1].split()):
                    counters[f"{group}.{n}"] = int(v)
        return counters

    # ------------------------------------------------------------------ reset
    def reset(self) -> None:
        """Undo every failure mode: helpers killed, nft tables and routes deleted,
        sysctls restored, every sshd running again."""
        for h in list(self._helpers):
            self._stop_proc(h.proc)
        self._helpers.clear()
        for host in list(self._nft_hosts):
            self.exec(host, "nft", "delete", "table", "inet", self.nft_table, check=False)
        self._nft_hosts.clear()
        for vantage, dst in self._routes:
            self.exec(vantage, "ip", "route", "del", dst, check=False)
        self._routes.clear()
        for (host, key), val in self._sysctl_orig.items():
            self.exec(host, "sysctl", "-q", "-w", f"{key}={val}", check=False)
        self._sysctl_orig.clear()
        for h in self.hosts.values():
            if h.sshd_wanted and not self.sshd_running(h.name):
                self.start_sshd(h.name)


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - manual demo aid
    """`python -m tests.lab.lab up` keeps a lab up until Ctrl-C and prints its config."""
    import yaml

    lab = Lab().start()
    try:
        print(yaml.safe_dump(lab.whycant_config(), sort_keys=False))
        print(f"# lab slot {lab.slot}: {lab.subnet}; Ctrl-C tears it down", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        lab.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
