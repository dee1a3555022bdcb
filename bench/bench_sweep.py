"""Fleet sweep benchmark: whycant's drift collection vs Ansible ad-hoc vs parallel-ssh (DESIGN §8).

    python -m bench.bench_sweep --hosts 100

Starts N real sshd processes on 127.0.0.1 (distinct ports, the benchmark's own host key, an
authorized client key, a known_hosts file), then collects the same data from all of them with:

* whycant: ``run_drift`` over the asyncssh transport (sysctls the rules need, facts, the persisted
  sysctl files; files read over SFTP, no shell);
* Ansible ad-hoc: ``ansible all -m command -a 'cat FILES' -f 50`` (the same files, plus
  /proc/net/netstat and /proc/net/snmp);
* parallel-ssh: ``ParallelSSHClient.run_command('cat FILES')``.

Prints seconds and ratios and writes bench/results/sweep.json. Loopback only; every wait is
bounded; every process started here is stopped by its PID at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
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
            cfg.write_text("\n".join([
                f"Port {p}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_ed25519'}",
                f"AuthorizedKeysFile {d / 'authorized_keys'}", "PasswordAuthentication no",
                "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", "UsePAM no",
                "PermitRootLogin prohibit-password", "StrictModes no", f"PidFile {d / f'sshd_{p}.pid'}",
                "Subsystem sftp internal-sftp", "MaxStartups 200:30:400", "MaxSessions 50", "LogLevel ERROR",
                "UseDNS no", "PrintMotd no", "",
            ]))
            self.procs.append(subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=open(d / f"sshd_{p}.log", "wb"),
                                               start_new_session=True))
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

    def stop(self) -> None:
        for pr in self.procs:
            if pr.poll() is None:
                pr.terminate()
        deadline = time.monotonic() + 10
        for pr in self.procs:
            try:
                pr.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pr.kill()
                pr.wait(timeout=5)
        self.procs.clear()


def files_to_read() -> list[str]:
    from probes.collect import FACT_FILES
    from probes.parsers.sysctl import sysctl_proc_path
    from probes.sysctl_keys import keys_for

    return ["/proc/net/netstat", "/proc/net/snmp"] + [sysctl_proc_path(k) for k in keys_for([])] \
        + list(FACT_FILES.values())


# ------------------------------------------------------------------------------ whycant


def whycant_sweep(fleet: Fleet) -> dict:
    from bot.config import parse_config
    from bot.drift.report import run_drift
    from bot.service import Whycant

    cfg = parse_config({
        "ssh": {"user": fleet.user, "client_keys": [str(fleet.dir / "client_ed25519")],
                "known_hosts": str(fleet.dir / "known_hosts"), "connect_timeout": 20, "command_timeout": 30,
                "max_concurrency": 200},
        "hosts": {f"h{i:03d}": {"address": "127.0.0.1", "port": p, "groups": ["fleet"]}
                  for i, p in enumerate(fleet.ports)},
    }, "bench")

    async def go() -> tuple[float, dict]:
        svc = Whycant(cfg)
        try:
            t = time.monotonic()
            report = await run_drift(svc, ["all"], record=False)
            return time.monotonic() - t, report
        finally:
            await svc.close()

    secs, report = asyncio.run(go())
    return {"seconds": round(secs, 3), "hosts_ok": report["hosts"] - len({e["host"] for e in report["errors"]
                                                                          if not e.get("probe")}),
            "errors": report["errors"][:5], "drifts": len(report["drifts"])}


# ------------------------------------------------------------------------------ ansible


def ansible_sweep(fleet: Fleet, forks: int = 50) -> dict:
    exe = shutil.which("ansible") or str(Path(sys.executable).parent / "ansible")
    if not Path(exe).exists():
        return {"skipped": "ansible is not installed (pip install -e '.[bench]')"}
    inv = fleet.dir / "inventory.ini"
    inv.write_text("[fleet]\n" + "".join(f"h{i:03d} ansible_host=127.0.0.1 ansible_port={p}\n"
                                         for i, p in enumerate(fleet.ports)))
    cfgf = fleet.dir / "ansible.cfg"
    cfgf.write_text("[defaults]\nhost_key_checking = True\ninterpreter_python = " + ("/usr/bin/python3" if Path("/usr/bin/python3").exists() else "auto_silent") + "\n"
                    "gathering = explicit\nretry_files_enabled = False\n"
                    f"[ssh_connection]\nssh_args = -o UserKnownHostsFile={fleet.dir / 'known_hosts'} "
                    "-o ControlMaster=no -o IdentitiesOnly=yes\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(cfgf), "ANSIBLE_LOCAL_TEMP": str(fleet.dir / "ans_local"),
           "ANSIBLE_REMOTE_TEMP": "/tmp/.ansible-bench", "ANSIBLE_NOCOLOR": "1"}
    argv = [exe, "all", "-i", str(inv), "-u", fleet.user, "--private-key", str(fleet.dir / "client_ed25519"),
            "-m", "command", "-a", "cat " + " ".join(files_to_read()), "-f", str(forks), "-o"]
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
    return {"seconds": round(secs, 3), "hosts_ok": ok + failed, "unreachable": unreachable, "forks": forks,
            "rc": proc.returncode, "stderr_tail": err.decode("utf-8", "replace")[-300:] if proc.returncode not in (0, 2)
            else ""}


# ------------------------------------------------------------------------------ parallel-ssh


def pssh_sweep(fleet: Fleet) -> dict:
    try:
        from pssh.clients import ParallelSSHClient
        from pssh.config import HostConfig
    except ImportError:
        return {"skipped": "parallel-ssh is not installed (pip install -e '.[bench]')"}
    hosts = ["127.0.0.1"] * len(fleet.ports)
    host_config = [HostConfig(port=p, user=fleet.user, private_key=str(fleet.dir / "client_ed25519"))
                   for p in fleet.ports]
    cmd = "cat " + " ".join(files_to_read()) + " 2>/dev/null; true"
    t = time.monotonic()
    client = ParallelSSHClient(hosts, host_config=host_config, pool_size=len(hosts), timeout=60, num_retries=1)
    output = client.run_command(cmd, stop_on_errors=False)
    client.join(output, timeout=600)
    ok = 0
    for o in output:
        if o.exception is None and sum(len(line) for line in o.stdout) > 0:
            ok += 1
    secs = time.monotonic() - t
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001
        pass
    return {"seconds": round(secs, 3), "hosts_ok": ok}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--forks", type=int, default=50, help="Ansible forks")
    ap.add_argument("--skip", action="append", default=[], choices=["whycant", "ansible", "pssh"])
    args = ap.parse_args(argv)
    if not 1 <= args.hosts <= 1000:
        ap.error("--hosts must be 1..1000")
    workdir = Path(tempfile.mkdtemp(prefix="whycant-bench-"))
    fleet = Fleet(args.hosts, workdir)
    results: dict = {}
    try:
        t = time.monotonic()
        fleet.start()
        print(f"{args.hosts} sshd on 127.0.0.1:{fleet.ports[0]}..{fleet.ports[-1]} up in {time.monotonic() - t:.1f} s",
              flush=True)
        for name, fn in (("whycant", whycant_sweep), ("pssh", pssh_sweep), ("ansible", lambda f: ansible_sweep(f, args.forks))):
            if name in args.skip:
                continue
            print(f"sweeping with {name}…", flush=True)
            try:
                results[name] = fn(fleet)
            except Exception as e:  # noqa: BLE001 - report it, keep the other tools' numbers
                results[name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"  {name}: {results[name]}", flush=True)
    finally:
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    base = results.get("whycant", {}).get("seconds")
    print(f"\n{'tool':<10} {'seconds':>9} {'hosts ok':>9} {'× whycant':>10}")
    for name in ("whycant", "pssh", "ansible"):
        r = results.get(name)
        if not r or "seconds" not in r:
            if r:
                print(f"{name:<10} {'-':>9} {'-':>9} {'-':>10}  {r.get('skipped') or r.get('error')}")
            continue
        ratio = r["seconds"] / base if base else None
        r["ratio_to_whycant"] = round(ratio, 2) if ratio else None
        print(f"{name:<10} {r['seconds']:>9.2f} {r.get('hosts_ok', '-'):>9} {ratio:>10.2f}" if ratio else
              f"{name:<10} {r['seconds']:>9.2f} {r.get('hosts_ok', '-'):>9}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {"hosts": args.hosts, "cpus": os.cpu_count(), "python": platform.python_version(),
           "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results}
    (RESULTS / "sweep.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {RESULTS / 'sweep.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
