"""A second lab network as zone B: the bot (root namespace) cannot reach it; a runner namespace inside it
reaches PostgreSQL through a TCP relay on a point-to-point link (started and stopped by PID)."""

from __future__ import annotations

import select
import subprocess
from typing import Any

from tests.lab.lab import PYTHON, Lab, LabError, run_command

RELAY_PORT = 15432
ROUTE_METRIC = "4242"
RELAY_LIFETIME = 600  # seconds: the relay exits on its own after this

# 198.19.N.0/30 for slot N (inside 198.18.0.0/15): root side .1, runner side .2
_RELAY = r"""
import asyncio, sys, time
listen, port, up_host, up_port, lifetime = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(r, w):
    try:
        ur, uw = await asyncio.wait_for(asyncio.open_connection(up_host, up_port), 5)
    except Exception:
        w.close(); return
    await asyncio.gather(pipe(r, uw), pipe(ur, w))
async def main():
    srv = await asyncio.start_server(handle, listen, port)
    print("READY", flush=True)
    await asyncio.sleep(lifetime)
    srv.close()
asyncio.run(main())
"""


class ZoneB:
    """Zone B: a Lab whose bridge has no address in the root namespace, a runner namespace, a relay."""

    def __init__(self, hosts: dict[str, int]):
        self.lab = Lab(hosts)
        self.relay: subprocess.Popen | None = None
        self._route = False

    @property
    def runner_ns(self) -> str:
        return f"{self.lab.prefix}-runner"

    @property
    def link(self) -> str:
        return f"{self.lab.prefix}-rl"  # the Lab's own cleanup removes links with its prefix

    @property
    def relay_address(self) -> str:
        return f"198.19.{self.lab.slot}.1"

    def start(self) -> ZoneB:
        lab = self.lab.start()
        try:
            lab.add_host("runner", 5, sshd=False)
            # the bot loses zone B: no address on its bridge, and an `unreachable` route so that nothing for
            # zone B leaves by the default route (metric 4242: a later lab's connected route always wins)
            run_command(["ip", "route", "del", "unreachable", lab.subnet, "metric", ROUTE_METRIC], check=False)
            run_command(["ip", "route", "add", "unreachable", lab.subnet, "metric", ROUTE_METRIC])
            self._route = True
            run_command(["ip", "addr", "del", f"{lab.bot_address}/24", "dev", lab.bridge])
            run_command(
                ["ip", "link", "add", self.link, "type", "veth", "peer", "name", "rl0", "netns", self.runner_ns]
            )
            run_command(["ip", "addr", "add", f"{self.relay_address}/30", "dev", self.link])
            run_command(["ip", "link", "set", self.link, "up"])
            ns = ["ip", "netns", "exec", self.runner_ns]
            run_command([*ns, "ip", "addr", "add", f"198.19.{lab.slot}.2/30", "dev", "rl0"])
            run_command([*ns, "ip", "link", "set", "rl0", "up"])
            run_command([*ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"])  # the runner never routes for the bot
            self.relay = subprocess.Popen(
                [PYTHON, "-c", _RELAY, self.relay_address, str(RELAY_PORT), "127.0.0.1", "5432", str(RELAY_LIFETIME)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            r, _, _ = select.select([self.relay.stdout], [], [], 10)
            if not r or not self.relay.stdout.readline().startswith(b"READY"):  # type: ignore[union-attr]
                raise LabError("the PostgreSQL relay did not start")
        except BaseException:
            self.close()
            raise
        return self

    def database_url(self, url: str) -> str:
        """*url* (a database on 127.0.0.1:5432) as seen from the runner namespace, through the relay."""
        return url.replace("127.0.0.1:5432", f"{self.relay_address}:{RELAY_PORT}")

    def runner_config(self, database: str) -> dict[str, Any]:
        cfg = self.lab.whycant_config()
        cfg["database"] = self.database_url(database)
        return cfg

    def close(self) -> None:
        if self.relay is not None:
            if self.relay.poll() is None:
                self.relay.terminate()
                try:
                    self.relay.wait(5)
                except subprocess.TimeoutExpired:
                    self.relay.kill()
                    self.relay.wait(5)
            for s in (self.relay.stdout, self.relay.stderr):
                if s:
                    s.close()
            self.relay = None
        if self._route:
            run_command(["ip", "route", "del", "unreachable", self.lab.subnet, "metric", ROUTE_METRIC], check=False)
            self._route = False
        self.lab.close()  # kills what still runs in its namespaces, deletes links (ours too) and namespaces

    def __enter__(self) -> ZoneB:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def unreachable(address: str) -> bool:
    """True when the root namespace has no way to *address* (checked by the routing table, no packet sent)."""
    out = run_command(["ip", "route", "get", address], check=False)
    return out.returncode != 0 and "no route to host" in (out.stderr + out.stdout).lower()
