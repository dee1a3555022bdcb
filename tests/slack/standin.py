"""A local Slack stand-in: Web API + Socket Mode + the sending side of HTTP mode.

An aiohttp server on a random 127.0.0.1 port. The bot under test points
``SLACK_API_URL`` (``standin.api_url``) at it and talks to it over real HTTP
and WebSocket; the stand-in records every call, checks tokens, applies a
Block Kit limits and injection check to everything the bot sends (recorded in
``violations``, which tests assert empty), and can be told to fail:

    standin.fail("chat.postMessage", "ratelimited", retry_after=1)   # 429 + Retry-After
    standin.fail("chat.update", "500")                               # HTTP 500
    standin.fail("chat.update", "500:html", times=99)                # HTTP 500, an HTML page (also :empty, :json-garbage)
    standin.missing_channels.add("C0GONE")                           # channel_not_found

Socket Mode: ``apps.connections.open`` hands out ``ws://`` URLs on itself;
each socket gets ``hello``; envelopes go round-robin to live sockets; unacked
envelopes are re-delivered with ``retry_attempt`` + 1; ``disconnect()`` sends
``disconnect`` frames then closes; ``mute()`` makes sockets go silent (no
pongs, no envelopes) to exercise the bot's watchdog.

HTTP mode: ``deliver_http(url, kind, payload)`` signs (or mis-signs) and posts
events, slash commands and interactivity like Slack does, with
``X-Slack-Retry-Num`` when asked.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
from aiohttp import WSMsgType, web

from tests.slack.limits import check_message

BOT_TOKEN = "xoxb-standin-bot"
APP_TOKEN = "xapp-standin-app"
SIGNING_SECRET = "standin-signing-secret"
TEAM_ID = "T0STANDIN"
APP_ID = "A0STANDIN"
BOT_USER = "U0WHYCANT"
BOT_ID = "B0WHYCANT"

MESSAGE_METHODS = {"chat.postMessage", "chat.update", "chat.postEphemeral"}
# error bodies real proxies and load balancers send (fail(method, "500:html"))
ERROR_BODIES = {
    "html": (
        (
            "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
            "<body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>\n"
        ),
        "text/html",
    ),
    "empty": ("", "text/plain"),
    "json-garbage": ('{"ok": tru', "application/json"),
}


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None

    def blocks(self) -> list:
        b = self.args.get("blocks")
        if isinstance(b, str):
            b = json.loads(b)
        return b or []

    def dump(self) -> str:
        """Everything sent, as one string (for "appears in the reply" assertions)."""
        return json.dumps(self.args, ensure_ascii=False)


@dataclass
class Sock:
    id: int
    ws: web.WebSocketResponse
    muted: bool = False
    draining: bool = False


class StandIn:
    def __init__(
        self,
        *,
        redeliver_after: float = 2.0,
        max_redeliveries: int = 3,
        close_after_disconnect: float = 0.3,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        signing_secret: str = SIGNING_SECRET,
    ):
        self.bot_token, self.app_token, self.signing_secret = bot_token, app_token, signing_secret
        self.redeliver_after = redeliver_after
        self.max_redeliveries = max_redeliveries
        self.close_after_disconnect = close_after_disconnect
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.missing_channels: set[str] = set()
        self.usergroups: dict[str, list[str]] = {}
        self.uploads: dict[str, bytes] = {}
        self.files: dict[str, dict] = {}
        self.shared: dict[str, tuple[bytes, str]] = {}  # files people "uploaded": id -> (content, mimetype)
        self.acks: dict[str, dict] = {}
        self.sockets: list[Sock] = []
        self.connections_opened = 0
        self._failures: dict[str, list[tuple[str, float]]] = {}
        self.delays: dict[str, float] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._rr = itertools.count()
        self._pending: dict[str, dict] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> "StandIn":
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/ws", self._ws)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        app.router.add_get("/files-pri/{file_id}/download/{name}", self._download)
        app.router.add_post("/response/{rid}", self._response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._spawn(self._redeliver_loop())
        return self

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        for s in list(self.sockets):
            await s.ws.close()
        if self._runner:
            await self._runner.cleanup()

    def _spawn(self, coro) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    # ------------------------------------------------------------ switches
    def fail(self, method: str, kind: str, *, times: int = 1, retry_after: float = 1) -> None:
        """Make the next ``times`` calls of ``method`` fail: ratelimited | 500 | channel_not_found | <error>."""
        self._failures.setdefault(method, []).extend([(kind, retry_after)] * times)

    # ------------------------------------------------------------ recording
    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent(self) -> list[Call]:
        """Every message-like call the bot made (for escaping checks)."""
        return [
            c
            for c in self.calls
            if c.method in MESSAGE_METHODS | {"views.publish", "response_url", "files.completeUploadExternal"}
        ]

    async def wait_for(self, pred: Callable[[Call], bool], timeout: float = 5.0, *, what: str = "call") -> Call:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for c in self.calls:
                if pred(c):
                    return c
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; calls: {[c.method for c in self.calls]}")

    async def wait_call(self, method: str, pred: Callable[[Call], bool] = lambda c: True, timeout: float = 5.0) -> Call:
        return await self.wait_for(lambda c: c.method == method and c.ok and pred(c), timeout, what=method)

    # ------------------------------------------------------------ Web API
    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    args.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
            else:
                raw = await request.text()
                if raw:
                    args.update(dict(urllib.parse.parse_qsl(raw)))
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else args.pop("token", None)
        args.pop("token", None)
        call = Call(method, args, token)
        self.calls.append(call)
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            call.error = "invalid_auth" if token else "not_authed"
            return web.json_response({"ok": False, "error": call.error})
        if self.delays.get(method):  # a slow Slack: standin.delays["chat.update"] = 3.0
            await asyncio.sleep(self.delays[method])
        queue = self._failures.get(method)
        if queue:
            kind, retry_after = queue.pop(0)
            if kind == "ratelimited":
                call.status, call.error = 429, "ratelimited"
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(int(retry_after))}
                )
            if kind.isdigit():
                call.status, call.error = int(kind), f"http {kind}"
                return web.Response(status=int(kind), text="stand-in server error")
            status, _, body = kind.partition(":")
            if status.isdigit() and body in ERROR_BODIES:  # "500:html", "502:empty", "200:html" (a proxy's page)
                call.status, call.error = int(status), f"http {kind}"
                text, ctype = ERROR_BODIES[body]
                return web.Response(status=int(status), text=text, content_type=ctype)
            call.error = kind
            return web.json_response({"ok": False, "error": kind})
        channel = args.get("channel") or args.get("channel_id")
        if channel in self.missing_channels:
            call.error = "channel_not_found"
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if method in MESSAGE_METHODS:
            self.violations += [f"{method}: {v}" for v in check_message(args)]
        elif method == "views.publish":
            self.violations += [f"{method}: {v}" for v in check_message(args, surface="home")]
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            call.error = "unknown_method"
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        result = handler(args)
        if isinstance(result, dict) and result.get("ok") is False:
            call.error = result.get("error")
        return web.json_response(result)

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def m_auth_test(self, args):
        return {
            "ok": True,
            "url": "https://standin.slack.example/",
            "team": "Stand-in",
            "user": "whycant",
            "team_id": TEAM_ID,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def m_apps_connections_open(self, args):
        self.connections_opened += 1
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/ws?ticket={self.connections_opened}"}

    def m_chat_postMessage(self, args):
        ts = self._next_ts()
        return {
            "ok": True,
            "channel": args.get("channel"),
            "ts": ts,
            "message": {"ts": ts, "text": args.get("text"), "thread_ts": args.get("thread_ts")},
        }

    def m_chat_update(self, args):
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text")}

    def m_chat_postEphemeral(self, args):
        return {"ok": True, "message_ts": self._next_ts()}

    def m_reactions_add(self, args):
        return {"ok": True}

    def m_views_publish(self, args):
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        return {"ok": True, "view": {"id": f"V{next(self._ids)}", **(view or {})}}

    def m_conversations_info(self, args):
        return {"ok": True, "channel": {"id": args.get("channel"), "name": "ops", "is_member": True}}

    def m_users_info(self, args):
        return {"ok": True, "user": {"id": args.get("user"), "name": "someone", "tz": "UTC"}}

    def m_usergroups_list(self, args):
        return {"ok": True, "usergroups": [{"id": g, "users": users} for g, users in self.usergroups.items()]}

    def m_files_getUploadURLExternal(self, args):
        file_id = f"F{next(self._ids):06d}"
        self.files[file_id] = {
            "filename": args.get("filename"),
            "length": int(args.get("length", 0)),
            "completed": False,
        }
        return {"ok": True, "upload_url": f"{self.base_url}upload/{file_id}", "file_id": file_id}

    def m_files_completeUploadExternal(self, args):
        files = args.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        out = []
        for f in files or []:
            meta = self.files.get(f.get("id"))
            if meta is None or f.get("id") not in self.uploads:
                return {"ok": False, "error": "file_not_found"}
            meta.update(
                completed=True,
                title=f.get("title"),
                channel=args.get("channel_id"),
                thread_ts=args.get("thread_ts"),
                initial_comment=args.get("initial_comment"),
            )
            out.append({"id": f["id"], "title": f.get("title"), "name": meta["filename"]})
        return {"ok": True, "files": out}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        self.calls.append(Call("upload", {"file_id": file_id, "bytes": len(data)}, None))
        if file_id not in self.files:
            return web.Response(status=404, text="unknown upload")
        self.uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}")

    # ------------------------------------------------------------ files people share (files:read)
    def share_file(
        self,
        content: bytes | str,
        *,
        name: str = "paste.txt",
        mimetype: str = "text/plain",
        filetype: str = "text",
        size: int | None = None,
    ) -> dict:
        """A file as Slack describes it in a message event; its ``url_private`` serves it over HTTP
        to the bot token only (like Slack: a request without the token gets an HTML login page)."""
        data = content.encode() if isinstance(content, str) else content
        file_id = f"F{next(self._ids):06d}"
        self.shared[file_id] = (data, mimetype)
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "size": len(data) if size is None else size,
            "mode": "hosted",
            "url_private": f"{self.base_url}files-pri/{file_id}/{name}",
            "url_private_download": f"{self.base_url}files-pri/{file_id}/download/{name}",
        }

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        auth = request.headers.get("Authorization", "")
        self.calls.append(
            Call("files.download", {"file_id": file_id}, auth[7:] if auth.startswith("Bearer ") else None)
        )
        if auth != f"Bearer {self.bot_token}":
            return web.Response(status=200, content_type="text/html", text="<html><body>Sign in to Slack</body></html>")
        if file_id not in self.shared:
            return web.Response(status=404, text="file not found")
        data, mimetype = self.shared[file_id]
        return web.Response(body=data, content_type=mimetype)

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(Call("response_url", body, None))
        self.violations += [f"response_url: {v}" for v in check_message(body)] if body.get("blocks") else []
        return web.Response(text="ok")

    # ------------------------------------------------------------ Socket Mode
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, heartbeat=None)
        await ws.prepare(request)
        sock = Sock(next(self._ids), ws)
        self.sockets.append(sock)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.live_sockets()),
                "debug_info": {"host": "standin"},
                "connection_info": {"app_id": APP_ID},
            }
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    if not sock.muted:
                        await ws.pong(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                    except ValueError:
                        continue
                    eid = data.get("envelope_id")
                    if eid:
                        self.acks[eid] = data
                        self._pending.pop(eid, None)
        finally:
            if sock in self.sockets:
                self.sockets.remove(sock)
        return ws

    def live_sockets(self) -> list[Sock]:
        return [s for s in self.sockets if not s.muted and not s.draining and not s.ws.closed]

    async def wait_sockets(self, n: int = 1, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.live_sockets()) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.live_sockets())} live sockets, wanted {n}")
            await asyncio.sleep(0.02)

    async def _send_envelope(self, envelope: dict, timeout: float = 5.0) -> None:
        await self.wait_sockets(1, timeout)
        live = self.live_sockets()
        sock = live[next(self._rr) % len(live)]
        await sock.ws.send_json(envelope)

    async def envelope(
        self,
        etype: str,
        payload: dict,
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
        accepts_response_payload: bool = False,
    ) -> str:
        eid = envelope_id or f"env-{next(self._ids)}"
        env = {
            "envelope_id": eid,
            "type": etype,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        self._pending[eid] = {"envelope": env, "sent": time.monotonic()}
        await self._send_envelope(env)
        return eid

    async def _redeliver_loop(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            for eid, p in list(self._pending.items()):
                env = p["envelope"]
                if now - p["sent"] < self.redeliver_after:
                    continue
                if env["retry_attempt"] >= self.max_redeliveries:
                    self._pending.pop(eid, None)
                    continue
                env = {**env, "retry_attempt": env["retry_attempt"] + 1, "retry_reason": "timeout"}
                p.update(envelope=env, sent=now)
                try:
                    await self._send_envelope(env, timeout=0.5)
                except Exception:  # noqa: BLE001 - no socket yet: try again next round
                    pass

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while envelope_id not in self.acks:
            if time.monotonic() > deadline:
                raise AssertionError(f"envelope {envelope_id} not acked")
            await asyncio.sleep(0.02)
        return self.acks[envelope_id]

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send ``disconnect`` on every socket, stop delivering to them, close them shortly after."""
        old = list(self.sockets)
        for s in old:
            s.draining = True
            await s.ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}})

        async def close_later():
            await asyncio.sleep(self.close_after_disconnect)
            for s in old:
                await s.ws.close()

        self._spawn(close_later())

    def mute(self) -> None:
        """Current sockets go silent: no pongs, no envelopes (the connection stays open)."""
        for s in self.sockets:
            s.muted = True

    # ------------------------------------------------------------ payloads
    def event_callback(self, event: dict, *, event_id: str | None = None) -> dict:
        return {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER, "is_bot": True}],
        }

    def mention(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0OPS",
        ts: str | None = None,
        thread_ts: str | None = None,
        files: list[dict] | None = None,
    ) -> dict:
        ev = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER}> {text}",
            "ts": ts or self._next_ts(),
            "channel": channel,
            "event_ts": self._next_ts(),
        }
        if thread_ts:
            ev["thread_ts"] = thread_ts
        if files:
            ev["files"] = files
        return self.event_callback(ev)

    def dm(
        self, text: str, *, user: str = "U0ALICE", channel: str = "D0ALICE", files: list[dict] | None = None
    ) -> dict:
        ev = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": self._next_ts(),
            "channel": channel,
            "event_ts": self._next_ts(),
        }
        if files:
            ev.update(files=files, subtype="file_share")
        return self.event_callback(ev)

    def home_opened(self, *, user: str = "U0ALICE") -> dict:
        return self.event_callback(
            {"type": "app_home_opened", "user": user, "channel": "D0ALICE", "tab": "home", "event_ts": self._next_ts()}
        )

    def slash(self, text: str, *, user: str = "U0ALICE", channel: str = "C0OPS", command: str = "/whycant") -> dict:
        rid = next(self._ids)
        return {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "team_domain": "standin",
            "channel_id": channel,
            "channel_name": "ops",
            "user_id": user,
            "user_name": "alice",
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "response_url": f"{self.base_url}response/{rid}",
            "trigger_id": f"trig.{rid}",
        }

    def button(
        self,
        action: str,
        value: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0OPS",
        message_ts: str = "1700000000.000001",
        thread_ts: str | None = None,
        home: bool = False,
    ) -> dict:
        body: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": user, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "verification-token",
            "trigger_id": f"trig.{next(self._ids)}",
            "actions": [
                {
                    "type": "button",
                    "action_id": f"whycant_{action}",
                    "block_id": "whycant_actions",
                    "value": value,
                    "action_ts": str(time.time()),
                }
            ],
        }
        if home:
            body["container"] = {"type": "view", "view_id": "V1"}
            body["view"] = {"id": "V1", "type": "home"}
        else:
            body["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            }
            body["channel"] = {"id": channel, "name": "ops"}
            msg = {"type": "message", "ts": message_ts, "text": "reply", "user": BOT_USER}
            if thread_ts:
                msg["thread_ts"] = thread_ts
            body["message"] = msg
        return body

    # ------------------------------------------------------------ HTTP mode (Slack -> bot)
    def sign(self, body: str, timestamp: int | None = None, secret: str | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        base = f"v0:{ts}:{body}".encode()
        sig = "v0=" + hmac.new((secret or self.signing_secret).encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}

    async def deliver_http(
        self,
        url: str,
        kind: str,
        payload: dict,
        *,
        retry_num: int | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> tuple[int, str, float]:
        """POST like Slack: kind = events | command | interactive. Returns (status, body, seconds)."""
        if kind == "events":
            body, ctype = json.dumps(payload), "application/json"
        elif kind == "command":
            body, ctype = urllib.parse.urlencode(payload), "application/x-www-form-urlencoded"
        else:
            body, ctype = urllib.parse.urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        headers = {"Content-Type": ctype, **self.sign(body, timestamp, secret)}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        started = time.monotonic()
        async with aiohttp.ClientSession() as s:
            async with s.post(url, data=body.encode(), headers=headers) as r:
                return r.status, await r.text(), time.monotonic() - started
