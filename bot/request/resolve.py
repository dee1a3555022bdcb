"""``resolve_request(parsed, inventory)``: a parsed diagnosis -> inventory ``Request``s (target, address,
service, port, vantages, every string taken from the inventory); ``resolve_hosts`` for drift and history."""

from __future__ import annotations

from bot.inventory import BOT_VANTAGE, Inventory, UnknownHost, with_bot_vantage
from bot.request.grammar import ParsedRequest
from bot.request.tokens import EXAMPLE, show_token, split_hostport
from probes.errors import BadInput
from probes.evidence import Request
from probes.inventory import Host

MAX_SERVICES = 5  # no port given and the host has more services than this: ask which
MAX_VANTAGES = 10


def _services_text(host: Host) -> str:
    if not host.services:
        return f"{host.name} has no known services; give a port, e.g. {host.name}:5432"
    listed = ", ".join(f"{n} ({p})" for n, p in sorted(host.services.items(), key=lambda kv: (kv[1], kv[0])))
    return f"known services of {host.name}: {listed}"


def _find_service(host: Host, token: str) -> str | None:
    low = token.lower()
    return next((n for n in sorted(host.services) if n.lower() == low), None)


def _resolve_target(parsed: ParsedRequest, inv: Inventory) -> tuple[Host, list[str]]:
    """The target host, and the extra tokens left over. "postgres on db01" swaps."""
    assert parsed.target_token is not None
    try:
        return inv.resolve(parsed.target_token), list(parsed.extra_tokens)
    except UnknownHost:
        for k, tok in enumerate(parsed.extra_tokens):
            host = _try_host(inv, tok)
            if host is not None and _find_service(host, parsed.target_token):
                rest = [parsed.target_token, *parsed.extra_tokens[:k], *parsed.extra_tokens[k + 1 :]]
                return host, rest
        raise


def _try_host(inv: Inventory, tok: str) -> Host | None:
    try:
        name, _, _ = split_hostport(tok)
        return inv.lookup(name)
    except BadInput:
        return None


def resolve_request(parsed: ParsedRequest, inventory: Inventory) -> list[Request]:
    """Inventory objects for a ``diagnose`` request: one Request per service when no
    port was given and the host has several (at most MAX_SERVICES). Other intents
    give ``[]`` (see ``resolve_hosts`` for drift and history)."""
    if parsed.intent != "diagnose":
        return []
    if not parsed.target_token:
        raise BadInput(f"which host? {EXAMPLE}")
    host, extras = _resolve_target(parsed, inventory)

    service: str | None = None
    if parsed.service is not None:
        service = _find_service(host, parsed.service)
        if service is None:
            raise BadInput(f"{host.name} has no service {show_token(parsed.service)}; {_services_text(host)}")
    known_anywhere = inventory.all_services()
    for tok in extras:
        other = _try_host(inventory, tok)
        if other is not None and other.name != host.name:
            raise BadInput(
                f"one target at a time: {host.name} and {other.name} are both hosts "
                f"(say 'from {other.name}' to test from it)"
            )
        svc = _find_service(host, tok)
        if svc is not None:
            if service is not None and svc != service:
                raise BadInput(f"two services given ({service} and {svc}): ask about one at a time")
            service = svc
        elif tok.lower() in known_anywhere:
            raise BadInput(f"{host.name} has no service {show_token(tok)}; {_services_text(host)}")

    port = parsed.port
    if service is not None:
        sport = host.services[service]
        if port is not None and port != sport:
            raise BadInput(f"{service} on {host.name} is port {sport}, not {port}")
        port = sport
    elif port is not None:
        service = next((n for n, p in sorted(host.services.items()) if p == port), None)

    vantages = _resolve_vantages(parsed.vantage_tokens, inventory, host)

    def req(p: int | None, s: str | None) -> Request:
        return Request(text=parsed.text, target=host.name, address=host.address, port=p, service=s, vantages=vantages)

    if port is not None:
        return [req(port, service)]
    if host.adhoc:
        raise BadInput(
            f"{host.name} is not an inventory host, so only connect tests can run: give a port, e.g. {host.name}:443"
        )
    if len(host.services) > MAX_SERVICES:
        raise BadInput(
            f"{host.name} has {len(host.services)} services; name one or give a port. {_services_text(host)}"
        )
    return [req(p, n) for n, p in sorted(host.services.items(), key=lambda kv: (kv[1], kv[0]))] or [req(None, None)]


def _resolve_vantages(tokens: list[str], inventory: Inventory, target: Host) -> list[str]:
    """Vantage names (configured names or inventory host names), ``bot`` first
    (not for a target behind a jump host unless asked for: ``with_bot_vantage``).

    None given: every configured vantage. Use ``inventory.resolve_vantage(name)``
    to get the Vantage for each returned name."""
    configured = list(inventory.vantages())
    names: list[str] = []
    explicit_bot = False
    for tok in tokens or ["all"]:
        if tok == "all":
            names.extend(configured)
        else:
            names.append(inventory.resolve_vantage(tok).name)
            explicit_bot = explicit_bot or names[-1] == BOT_VANTAGE
    names = with_bot_vantage(names, target, explicit_bot=explicit_bot, behind_jump=inventory.behind_jump(target))
    if len(names) > MAX_VANTAGES:
        raise BadInput(f"too many vantages ({len(names)}); at most {MAX_VANTAGES} at a time")
    return names


def resolve_hosts(parsed: ParsedRequest, inventory: Inventory) -> list[Host]:
    """Hosts for ``drift`` (selectors, default ``all``) and ``history`` (one host)."""
    if parsed.intent == "drift":
        return inventory.select(parsed.args or ["all"])
    if parsed.intent == "history":
        return [inventory.lookup(parsed.args[0]) or _raise(inventory.unknown(parsed.args[0]))]
    return []


def _raise(e: BaseException) -> Host:
    raise e
