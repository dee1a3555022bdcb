"""Fleet sweep benchmark: whycant's drift sweep vs a bare asyncssh fan-out vs parallel-ssh vs Ansible (docs/architecture.md §Scale and operations).

    python -m bench.bench_sweep [--hosts 100] [--concurrency 50] [--repeat 3] [--skip ansible]

Starts N real sshd processes on 127.0.0.1 (distinct ports, the benchmark's own host key, an
authorized client key, a known_hosts file), then, in one run on the same hosts, collects:

* whycant: ``run_drift`` over the asyncssh transport (what a drift report needs: the sysctls the
  rules need, facts, the persisted sysctl files, each file read over SFTP; no shell);
* bare: a bare asyncssh fan-out (connect, one SFTP session, read FILES until EOF, close), the
  floor any asyncssh-based tool can reach; FILES = /proc/net/netstat, /proc/net/snmp, the net.*
  sysctls and the fact files;
* parallel-ssh: ``ParallelSSHClient.run_command('cat FILES')``;
* Ansible ad-hoc: ``ansible all -m command -a 'cat FILES' -f 50``.

All fresh connections (nothing pooled from a previous round), the same concurrency for all
(``--concurrency``, Ansible's forks). whycant, bare and parallel-ssh run ``--repeat`` rounds,
interleaved, and report the median; Ansible runs once. Prints seconds and ratios (to the bare
fan-out and to whycant) with the load average, and writes bench/results/sweep.json.
Loopback only; every wait is bounded; every process started here (sshd listeners and their
per-connection children) is stopped by its PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
BASE_PORT = 22200
RESULTS = Path(__file__).resolve().parent / "results"


def _free_ports(n: int, start: int) -> list[int]:
    ports: list[int] = []
    p = start
    while len(ports) < n and p < 65000:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                ports.append(p)
            except OSError:
                pass
        p += 1
    if len(ports) < n:
        raise SystemExit("not enough free ports on 127.0.0.1")
    return ports


class Fleet:
    """N sshd on loopback, torn down by PID."""

    def __init__(self, n: int, workdir: Path):
        self.n, self.dir = n, workdir
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.user = os.environ.get("USER") or "root"
        import pwd

        self.user = pwd.getpwuid(os.getuid()).pw_name

    def keygen(self, path: Path) -> None:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30)

    def start(self) -> None:
        d = self.dir
        self.keygen(d / "host_ed25519")
        self.keygen(d / "client_ed25519")
        (d / "authorized_keys").write_text((d / "client_ed25519.pub").read_text())
        os.chmod(d / "authorized_keys", 0o600)
        hostpub = (d / "host_ed25519.pub").read_text().split()
        self.ports = _free_ports(self.n, BASE_PORT)
        (d / "known_hosts").write_text("".join(f"[127.0.0.1]:{p} {hostpub[0]} {hostpub[1]}\n" for p in self.ports))
        for p in self.ports:
            cfg = d / f"sshd_{p}.conf"
            cfg.write_text(
                "\n".join(
                    [
                        f"Port {p}",
                        "ListenAddress 127.0.0.1",
                        f"HostKey {d / 'host_ed25519'}",
                        f"AuthorizedKeysFile {d / 'authorized_keys'}",
                        "PasswordAuthentication no",
                        "KbdInteractiveAuthentication no",
                        "PubkeyAuthentication yes",
                        "UsePAM no",
                        "PermitRootLogin prohibit-password",
                        "StrictModes no",
                        f"PidFile {d / f'sshd_{p}.pid'}",
                        "Subsystem sftp internal-sftp",
                        "MaxStartups 200:30:400",
                        "MaxSessions 50",
                        "LogLevel ERROR",
                        "UseDNS no",
                        "PrintMotd no",
                        "",
                    ]
                )
            )
            self.procs.append(
                subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", str(cfg)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=open(d / f"sshd_{p}.log", "wb"),
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 30
        pending = set(self.ports)
        while pending and time.monotonic() < deadline:
            for p in list(pending):
                with socket.socket() as s:
                    s.settimeout(0.2)
                    if s.connect_ex(("127.0.0.1", p)) == 0:
                        pending.discard(p)
            if pending:
                time.sleep(0.1)
        if pending:
            raise SystemExit(f"{len(pending)} sshd did not start (see {d}/sshd_*.log)")

    @staticmethod
    def _children(pids: set[int]) -> list[int]:
        """Descendants of *pids* (sshd's per-connection children and theirs), from /proc."""
        parent: dict[int, int] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    stat = f.read().decode("ascii", "replace")
                ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parent[int(d)] = ppid
        found: set[int] = set()
        frontier = set(pids)
        for _ in range(8):  # bounded depth
            frontier = {pid for pid, pp in parent.items() if pp in frontier and pid not in found}
            if not frontier:
                break
            found |= frontier
        return sorted(found)

    def stop(self) -> None:
        """Stop every sshd started here, and the per-connection children they forked, by PID."""
        ours = {pr.pid for pr in self.procs}
        children = self._children(ours) if ours else []
        for pr in self.procs:
            if pr.poll() is None:
                pr.terminate()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for pr in self.procs:
            try:
                pr.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pr.kill()
                pr.wait(timeout=5)
        for pid in children:  # not our children: poll until gone (bounded), then SIGKILL
            while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.procs.clear()


def files_to_read() -> list[str]:
    from probes.collect import FACT_FILES
    from probes.parsers.sysctl import sysctl_proc_path
    from probes.sysctl_keys import keys_for

    return (
        ["/proc/net/netstat", "/proc/net/snmp"]
        + [sysctl_proc_path(k) for k in keys_for([])]
        + list(FACT_FILES.values())
    )


# ------------------------------------------------------------------------------ whycant


def whycant_config(fleet: Fleet, concurrency: int):
    from bot.config import parse_config

    return parse_config(
        {
            "ssh": {
                "user": fleet.user,
                "client_keys": [str(fleet.dir / "client_ed25519")],
                "known_hosts": str(fleet.dir / "known_hosts"),
                "connect_timeout": 20,
                "command_timeout": 30,
                "max_concurrency": concurrency,
            },
            "hosts": {
                f"h{i:03d}": {"address": "127.0.0.1", "port": p, "groups": ["fleet"]} for i, p in enumerate(fleet.ports)
            },
        },
        "bench",
    )


def whycant_sweep(fleet: Fleet, concurrency: int = 50, profile: Path | None = None, pooled: bool = False) -> dict:
    """``run_drift`` over every host with a fresh service (fresh connections), no database.

    *pooled*: time a second sweep on the same service (connections pooled, as a repeat sweep in `serve`)."""
    from bot.drift.report import run_drift
    from bot.service import Whycant

    cfg = whycant_config(fleet, concurrency)

    async def go() -> tuple[float, dict]:
        svc = Whycant(cfg)
        try:
            if pooled:
                await run_drift(svc, ["all"], record=False)
            t = time.perf_counter()
            report = await run_drift(svc, ["all"], record=False)
            return time.perf_counter() - t, report
        finally:
            await svc.close()

    if profile is not None:
        import cProfile

        prof = cProfile.Profile()
        secs, report = prof.runcall(asyncio.run, go())
        prof.dump_stats(str(profile))
    else:
        secs, report = asyncio.run(go())
    return {
        "seconds": round(secs, 3),
        "hosts_ok": report["hosts"] - len({e["host"] for e in report["errors"] if not e.get("probe")}),
        "errors": report["errors"][:5],
        "drifts": len(report["drifts"]),
    }


# ------------------------------------------------------------------------------ bare asyncssh


def bare_sweep(fleet: Fleet, concurrency: int = 50) -> dict:
    """The floor: connect, one SFTP session, read FILES until EOF, close -- nothing else."""
    import asyncssh

    from probes.transports.ssh_wire import cipher_list

    files = files_to_read()
    kh = asyncssh.read_known_hosts(str(fleet.dir / "known_hosts"))
    key = asyncssh.read_private_key(str(fleet.dir / "client_ed25519"))
    ciphers = cipher_list()

    async def read(sftp, path: str) -> bytes | None:
        try:
            async with await sftp.open(path, "rb", block_size=0) as f:
                chunks, off = [], 0
                while True:
                    data = await f.read(65536, off)
                    if not data:
                        return b"".join(chunks)
                    chunks.append(data)
                    off += len(data)
        except asyncssh.SFTPError:
            return None

    async def one(port: int, sem: asyncio.Semaphore, conns: list) -> int:
        async with sem:
            conn = await asyncio.wait_for(
                asyncssh.connect(
                    "127.0.0.1",
                    port,
                    username=fleet.user,
                    known_hosts=kh,
                    client_keys=[key],
                    agent_path=None,
                    config=None,
                    preferred_auth="publickey",
                    encryption_algs=ciphers,
                    compression_algs=None,
                ),
                60,
            )
            conns.append(conn)
            sftp = await conn.start_sftp_client()
            got = await asyncio.wait_for(asyncio.gather(*(read(sftp, p) for p in files)), 60)
            sftp.exit()
            conn.close()
            return sum(1 for g in got if g)

    async def go() -> tuple[float, list]:
        sem = asyncio.Semaphore(concurrency)
        conns: list = []
        t = time.perf_counter()
        try:
            res = await asyncio.gather(*(one(p, sem, conns) for p in fleet.ports), return_exceptions=True)
            return time.perf_counter() - t, res
        finally:
            for c in conns:
                c.close()
            for c in conns:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(c.wait_closed(), 5)

    secs, res = asyncio.run(go())
    bad = [r for r in res if isinstance(r, BaseException)]
    return {
        "seconds": round(secs, 3),
        "hosts_ok": len(res) - len(bad),
        "files": len(files),
        "errors": [f"{type(e).__name__}: {e}" for e in bad[:3]],
    }


# ------------------------------------------------------------------------------ ansible


def ansible_sweep(fleet: Fleet, forks: int = 50) -> dict:
    exe = shutil.which("ansible") or str(Path(sys.executable).parent / "ansible")
    if not Path(exe).exists():
        return {"skipped": "ansible is not installed (pip install -e '.[bench]')"}
    inv = fleet.dir / "inventory.ini"
    inv.write_text(
        "[fleet]\n" + "".join(f"h{i:03d} ansible_host=127.0.0.1 ansible_port={p}\n" for i, p in enumerate(fleet.ports))
    )
    cfgf = fleet.dir / "ansible.cfg"
    cfgf.write_text(
        "[defaults]\nhost_key_checking = True\ninterpreter_python = "
        + ("/usr/bin/python3" if Path("/usr/bin/python3").exists() else "auto_silent")
        + "\n"
        "gathering = explicit\nretry_files_enabled = False\n"
        f"[ssh_connection]\nssh_args = -o UserKnownHostsFile={fleet.dir / 'known_hosts'} "
        "-o ControlMaster=no -o IdentitiesOnly=yes\n"
    )
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(cfgf),
        "ANSIBLE_LOCAL_TEMP": str(fleet.dir / "ans_local"),
        "ANSIBLE_REMOTE_TEMP": "/tmp/.ansible-bench",
        "ANSIBLE_NOCOLOR": "1",
    }
    argv = [
        exe,
        "all",
        "-i",
        str(inv),
        "-u",
        fleet.user,
        "--private-key",
        str(fleet.dir / "client_ed25519"),
        "-m",
        "command",
        "-a",
        "cat " + " ".join(files_to_read()),
        "-f",
        str(forks),
        "-o",
    ]
    (fleet.dir / "ansible.argv").write_text(" ".join(argv))
    t = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group of the process we started
        proc.communicate(timeout=10)
        return {"error": "ansible did not finish within 900 s"}
    secs = time.monotonic() - t
    text = out.decode("utf-8", "replace")
    (fleet.dir / "ansible.out").write_text(text[:20000])
    ok = sum(1 for line in text.splitlines() if "| CHANGED |" in line or "| SUCCESS |" in line)
    # `cat` of an absent sysctl exits 1 on some hosts: count those as collected too
    failed = sum(1 for line in text.splitlines() if "| FAILED" in line and "rc=1 " in line + " ")
    unreachable = sum(1 for line in text.splitlines() if "UNREACHABLE" in line)
    return {
        "seconds": round(secs, 3),
        "hosts_ok": ok + failed,
        "unreachable": unreachable,
        "forks": forks,
        "rc": proc.returncode,
        "stderr_tail": err.decode("utf-8", "replace")[-300:] if proc.returncode not in (0, 2) else "",
    }


# ------------------------------------------------------------------------------ parallel-ssh


def pssh_sweep(fleet: Fleet, concurrency: int = 50) -> dict:
    try:
        from pssh.clients import ParallelSSHClient
        from pssh.config import HostConfig
    except ImportError:
        return {"skipped": "parallel-ssh is not installed (pip install -e '.[bench]')"}
    hosts = ["127.0.0.1"] * len(fleet.ports)
    host_config = [
        HostConfig(port=p, user=fleet.user, private_key=str(fleet.dir / "client_ed25519")) for p in fleet.ports
    ]
    cmd = "cat " + " ".join(files_to_read()) + " 2>/dev/null; true"
    t = time.perf_counter()
    client = ParallelSSHClient(hosts, host_config=host_config, pool_size=concurrency, timeout=60, num_retries=1)
    output = client.run_command(cmd, stop_on_errors=False)
    client.join(output, timeout=600)
    ok = 0
    for o in output:
        if o.exception is None and sum(len(line) for line in o.stdout) > 0:
            ok += 1
    secs = time.perf_counter() - t
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001
        pass
    return {"seconds": round(secs, 3), "hosts_ok": ok}


TOOLS = ("whycant", "pooled", "bare", "pssh", "ansible")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=50, help="hosts at once, for every tool (Ansible forks)")
    ap.add_argument("--forks", type=int, default=None, help="Ansible forks (default: --concurrency)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of whycant, bare and parallel-ssh (median)")
    ap.add_argument("--skip", action="append", default=[], choices=list(TOOLS))
    ap.add_argument("--profile", type=Path, default=None, help="cProfile whycant's last round into this file")
    args = ap.parse_args(argv)
    if not 1 <= args.hosts <= 1000:
        ap.error("--hosts must be 1..1000")
    if not 1 <= args.repeat <= 20 or not 1 <= args.concurrency <= 500:
        ap.error("--repeat must be 1..20 and --concurrency 1..500")
    forks = args.forks or args.concurrency
    workdir = Path(tempfile.mkdtemp(prefix="whycant-bench-"))
    fleet = Fleet(args.hosts, workdir)
    rounds: dict[str, list[dict]] = {}
    results: dict = {}
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        t = time.monotonic()
        fleet.start()
        print(
            f"{args.hosts} sshd on 127.0.0.1:{fleet.ports[0]}..{fleet.ports[-1]} up in {time.monotonic() - t:.1f} s; "
            f"load average {load_before}",
            flush=True,
        )
        runners = {
            "whycant": lambda last: whycant_sweep(fleet, args.concurrency, args.profile if last else None),
            "pooled": lambda last: whycant_sweep(fleet, args.concurrency, pooled=True),
            "bare": lambda last: bare_sweep(fleet, args.concurrency),
            "pssh": lambda last: pssh_sweep(fleet, args.concurrency),
        }
        for i in range(args.repeat):
            for name, fn in runners.items():
                if name in args.skip:
                    continue
                try:
                    r = fn(i == args.repeat - 1)
                except Exception as e:  # noqa: BLE001 - report it, keep the other tools' numbers
                    r = {"error": f"{type(e).__name__}: {e}"}
                r["load1"] = round(os.getloadavg()[0], 2)
                rounds.setdefault(name, []).append(r)
                print(f"  round {i + 1} {name}: {r}", flush=True)
        for name, rs in rounds.items():
            ok = [r for r in rs if "seconds" in r]
            if not ok:
                results[name] = rs[-1]
                continue
            med = sorted(ok, key=lambda r: r["seconds"])[(len(ok) - 1) // 2]
            results[name] = {
                **med,
                "seconds": round(statistics.median(r["seconds"] for r in ok), 3),
                "rounds_s": [r["seconds"] for r in ok],
            }
        if "ansible" not in args.skip:
            print("sweeping with ansible…", flush=True)
            try:
                results["ansible"] = ansible_sweep(fleet, forks)
            except Exception as e:  # noqa: BLE001
                results["ansible"] = {"error": f"{type(e).__name__}: {e}"}
            print(f"  ansible: {results['ansible']}", flush=True)
    finally:
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = [round(x, 2) for x in os.getloadavg()]

    bare = results.get("bare", {}).get("seconds")
    base = results.get("whycant", {}).get("seconds")
    print(
        f"\n{args.hosts} hosts, concurrency {args.concurrency}, load average before {load_before} after {load_after}"
        f" ({os.cpu_count()} CPUs)"
    )
    print(f"{'tool':<10} {'seconds':>9} {'hosts ok':>9} {'× bare':>8} {'× whycant':>10}   rounds")
    for name in TOOLS:
        r = results.get(name)
        if not r or "seconds" not in r:
            if r:
                print(f"{name:<10} {'-':>9} {'-':>9} {'-':>8} {'-':>10}  {r.get('skipped') or r.get('error')}")
            continue
        r["ratio_to_bare"] = round(r["seconds"] / bare, 2) if bare else None
        r["ratio_to_whycant"] = round(r["seconds"] / base, 2) if base else None
        fmt = lambda x: f"{x:.2f}" if x else "-"  # noqa: E731
        print(
            f"{name:<10} {r['seconds']:>9.2f} {r.get('hosts_ok', '-'):>9} {fmt(r['ratio_to_bare']):>8} "
            f"{fmt(r['ratio_to_whycant']):>10}   {r.get('rounds_s', '')}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {
        "hosts": args.hosts,
        "concurrency": args.concurrency,
        "ansible_forks": forks,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_before": load_before,
        "load_after": load_after,
        "files_read_by_bare_pssh_ansible": len(files_to_read()),
        "results": results,
        "rounds": rounds,
    }
    (RESULTS / "sweep.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {RESULTS / 'sweep.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
