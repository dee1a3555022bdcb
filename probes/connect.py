"""TCP connect tests from a vantage to target:port.

N attempts, started ``interval`` apart and overlapping, each classified as
ok / refused / timeout / reset / unreachable / addr_not_avail / error with its
latency. Remote vantages run a fixed script (python3 when present, else bash
``/dev/tcp`` under ``timeout``); the only arguments are a validated IP address
and integers, never text from chat.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import time

from probes.evidence import ConnectAttempt, ConnectResult, Outcome

_ERRNO_OUTCOME: dict[int, Outcome] = {
    errno.ECONNREFUSED: "refused",
    errno.ETIMEDOUT: "timeout",
    errno.ECONNRESET: "reset",
    errno.EHOSTUNREACH: "unreachable",
    errno.ENETUNREACH: "unreachable",
    errno.EHOSTDOWN: "unreachable",
    errno.EADDRNOTAVAIL: "addr_not_avail",
}

# One connect attempt, as both remote scripts run it (this one and connect_batch.MULTI_PY_SCRIPT): the
# i-th attempt starts i * gap seconds in and returns the dict a JSON line prints. Python 3.6+.
ATTEMPT_PY = r"""
import asyncio, errno, json, sys, time
M = {errno.ECONNREFUSED: "refused", errno.ETIMEDOUT: "timeout", errno.ECONNRESET: "reset",
     errno.EHOSTUNREACH: "unreachable", errno.ENETUNREACH: "unreachable", errno.EHOSTDOWN: "unreachable",
     errno.EADDRNOTAVAIL: "addr_not_avail"}
async def attempt(addr, port, i, gap, tmo):
    await asyncio.sleep(i * gap)
    t = time.monotonic()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(addr, port), tmo)
        w.close()
        res = ("ok", None)
    except asyncio.TimeoutError:
        res = ("timeout", "no answer within %gs" % tmo)
    except OSError as e:
        res = (M.get(e.errno, "error"), errno.errorcode.get(e.errno, str(e)))
    return {"outcome": res[0], "latency_ms": round((time.monotonic() - t) * 1000, 2), "detail": res[1]}
"""

# Executed as `python3 - ADDR PORT N TIMEOUT INTERVAL` with this text on stdin.
PY_SCRIPT = (
    ATTEMPT_PY
    + r"""
addr, port, n, tmo, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
async def main():
    for r in await asyncio.gather(*(attempt(addr, port, i, gap, tmo) for i in range(n))):
        print(json.dumps(r))
asyncio.run(main())
"""
)

# Executed as `bash -c SCRIPT whycant-connect ADDR PORT N TIMEOUT INTERVAL` (overlapping attempts).
BASH_SCRIPT = r"""
addr=$1; port=$2; n=$3; tmo=$4; gap=$5
one() {
  t0=$(date +%s%N)
  err=$(timeout "$tmo" bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$addr" "$port" 2>&1); rc=$?
  t1=$(date +%s%N)
  case "$rc:$err" in
    0:*) o=ok ;;
    124:*) o=timeout ;;
    *refused*) o=refused ;;
    *"timed out"*) o=timeout ;;
    *reset*) o=reset ;;
    *"No route"*|*unreachable*) o=unreachable ;;
    *"assign requested address"*) o=addr_not_avail ;;
    *) o=error ;;
  esac
  printf '{"outcome": "%s", "latency_ms": %s, "detail": null}\n' "$o" "$(( (t1 - t0) / 1000000 ))"
}
i=0
while [ "$i" -lt "$n" ]; do one & i=$((i + 1)); sleep "$gap"; done
wait
"""


def validate_target(address: str, port: int) -> tuple[str, int]:
    """Only literal IP addresses and valid ports ever reach a command line."""
    ip = ipaddress.ip_address(address)  # raises ValueError for anything else
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} out of range")
    return str(ip), int(port)


def connect_argv(runner: str, address: str, port: int, attempts: int, timeout: float, interval: float) -> list[str]:
    addr, port = validate_target(address, port)
    args = [addr, str(port), str(int(attempts)), f"{float(timeout):g}", f"{float(interval):g}"]
    if runner == "python3":
        return ["python3", "-", *args]
    return ["bash", "-c", BASH_SCRIPT, "whycant-connect", *args]


def parse_attempts(stdout: str) -> list[ConnectAttempt]:
    """Parse the JSON lines both scripts print; junk lines are ignored."""
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
            out.append(ConnectAttempt(outcome=d["outcome"], latency_ms=float(d["latency_ms"]), detail=d.get("detail")))
        except (ValueError, KeyError, TypeError):
            continue
    return out


async def local_connect(
    address: str, port: int, attempts: int, timeout: float, interval: float
) -> list[ConnectAttempt]:
    """The same test, in-process (the bot's own vantage)."""
    addr, port = validate_target(address, port)

    async def one(i: int) -> ConnectAttempt:
        await asyncio.sleep(i * interval)
        t = time.monotonic()
        try:
            _r, w = await asyncio.wait_for(asyncio.open_connection(addr, port), timeout)
            w.close()
            outcome: Outcome = "ok"
            detail: str | None = None
        except asyncio.TimeoutError:
            outcome, detail = "timeout", f"no answer within {timeout:g}s"
        except OSError as e:
            outcome = _ERRNO_OUTCOME.get(e.errno or 0, "error")
            detail = errno.errorcode.get(e.errno or 0, str(e))
        return ConnectAttempt(outcome=outcome, latency_ms=round((time.monotonic() - t) * 1000, 2), detail=detail)

    return list(await asyncio.gather(*(one(i) for i in range(attempts))))


def empty_result(vantage: str, vantage_host: str, address: str, port: int) -> ConnectResult:
    return ConnectResult(vantage=vantage, vantage_host=vantage_host, target_address=address, port=port)
