"""The chat commands ``watch …``, ``watches`` and ``unwatch N`` (Slack and the console)."""

from __future__ import annotations

from typing import Any

from bot.outcome import Outcome


async def watch_command(svc: Any, intent: str, args: list[str], *, who: str, channel: str | None) -> Outcome:
    mgr = svc.watch_manager
    if mgr is None:
        return Outcome(
            kind="error", text="watches run under `whycant serve` and the console (from a shell: `whycant watch TEXT`)"
        )
    if intent == "watches":
        rows = await mgr.watches()
        if not rows:
            return Outcome(
                kind="text",
                text="No watch is running. Start one: `watch db01:5432 from office for 4h`.",
                data={"watches": []},
            )
        lines = [
            f"{w['id']}: {w['target']} from {', '.join(w['vantages'])} every {w['interval_s']:g}s until "
            f"{w['ends_at'][:19].replace('T', ' ')} UTC · {w['episodes']} episode(s) · asked by "
            f"{', '.join(a for a in w['askers'] if a)}"
            for w in rows
        ]
        return Outcome(kind="text", text="\n".join(lines), data={"watches": rows})
    if intent == "unwatch":
        rec = await mgr.unwatch(int(args[0]), who)
        return Outcome(
            kind="text",
            text=f"Watch {rec.id} on {rec.host}:{rec.port} stopped by {who}; its summary follows in its thread.",
            data={"watch": rec.as_dict()},
        )
    rec, joined, _run = await mgr.watch(
        args[0] if args else "", who=who, channel=channel, default_interval=svc.config.watch.interval_seconds
    )
    what = "You joined watch" if joined else "Watching"
    return Outcome(
        kind="text",
        text=f"{what} {rec.id}: {rec.host}:{rec.port} from {', '.join(rec.request.vantages)} "
        f"every {rec.interval_s:g}s until {rec.ends_at:%Y-%m-%d %H:%M} UTC. "
        f"`unwatch {rec.id}` stops it.",
        data={"watch": rec.as_dict(), "joined": joined},
    )
