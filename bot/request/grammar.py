"""``parse_request(text)``: a chat line -> ``ParsedRequest`` (intent, raw target, port or service, vantage
tokens), before the inventory is consulted. Commands come from the registry (``bot.commands``); anything
else is a diagnosis. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot import commands
from bot.request.tokens import EXAMPLE, PORT_RE, SERVICE_RE, as_port, show_token, split_hostport, tokenize
from probes.errors import BadInput

INTENTS = tuple(c.name for c in commands.COMMANDS if c.phrasings or c.name == "diagnose")
MAX_PASTE = 256 * 1024  # characters of one pasted analyze block or attached file


@dataclass
class ParsedRequest:
    """What the text asks, before the inventory is consulted (all tokens raw)."""

    target_token: str | None = None
    port: int | None = None
    service: str | None = None  # given explicitly: "db01:postgres", "service postgres"
    vantage_tokens: list[str] = field(default_factory=list)
    intent: str = "diagnose"
    args: list[str] = field(default_factory=list)  # incident number, drift selectors, history host
    extra_tokens: list[str] = field(default_factory=list)  # other words that may name a service
    text: str = ""
    paste: str | None = None  # analyze: the pasted output, raw


_GREETING = r"(?:(?:hey|hi|hello|yo|whycant|please|pls)[\s,:]+)*"
_ANALYZE = re.compile(
    r"\s*(?:<@[A-Z0-9]+(?:\|[^>]*)?>[\s,:]*)*" + _GREETING + r"analy[sz]e\b:?(.*)\Z", re.IGNORECASE | re.DOTALL
)
_FENCE = re.compile(r"```[ \t]*(?:[A-Za-z0-9_+-]*[ \t]*\n)?(.*?)```", re.DOTALL)


# --------------------------------------------------------------------------- vocabulary

_MODALS = {
    "can't",
    "cant",
    "cannot",
    "can",
    "not",
    "couldn't",
    "couldnt",
    "could",
    "won't",
    "wont",
    "doesn't",
    "doesnt",
    "does",
    "don't",
    "dont",
    "do",
    "isn't",
    "isnt",
    "is",
    "are",
    "aren't",
    "arent",
    "why",
    "how",
    "come",
    "still",
    "suddenly",
    "no",
    "longer",
    "never",
    "unable",
}
_VERBS = {
    "connect",
    "connecting",
    "connects",
    "reach",
    "reaching",
    "reaches",
    "access",
    "accessing",
    "talk",
    "talking",
    "get",
    "getting",
    "hit",
    "ping",
    "contact",
    "open",
    "see",
    "ssh",
    "login",
    "log",
    "use",
}
_PRONOUNS = {
    "i",
    "we",
    "you",
    "they",
    "he",
    "she",
    "it",
    "me",
    "us",
    "users",
    "user",
    "people",
    "anyone",
    "someone",
    "nobody",
    "clients",
    "client",
    "customers",
    "folks",
    "everyone",
    "this",
    "that",
}
_FILLER = (
    {
        "why",
        "what",
        "what's",
        "whats",
        "where",
        "when",
        "how",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "the",
        "a",
        "an",
        "to",
        "into",
        "with",
        "at",
        "of",
        "for",
        "in",
        "on",
        "over",
        "via",
        "using",
        "by",
        "and",
        "or",
        "but",
        "so",
        "please",
        "pls",
        "plz",
        "hey",
        "hi",
        "hello",
        "yo",
        "ok",
        "okay",
        "whycant",
        "ask",
        "check",
        "diagnose",
        "debug",
        "look",
        "again",
        "now",
        "today",
        "anymore",
        "any",
        "more",
        "reachable",
        "unreachable",
        "reachability",
        "up",
        "down",
        "working",
        "work",
        "works",
        "broken",
        "failing",
        "fails",
        "fail",
        "failed",
        "slow",
        "timing",
        "times",
        "timeout",
        "timeouts",
        "out",
        "refused",
        "refusing",
        "refuses",
        "connection",
        "connections",
        "host",
        "server",
        "there",
        "here",
        "my",
        "our",
        "your",
        "their",
        "its",
        "both",
        "either",
        "all",
        "some",
        "just",
        "even",
        "only",
        "also",
        "tcp",
        "me?",
        "thanks",
        "thx",
        "port",
        "service",
        "from",
        "have",
        "has",
        "had",
        "keep",
        "keeps",
        "randomly",
        "intermittent",
        "intermittently",
        "sometimes",
        "always",
        "lately",
        "suddenly",
        "else",
    }
    | _MODALS
    | _VERBS
    | _PRONOUNS
)
_LIST_FILLER = {"and", "or", "&", "+", "both", "the", "either", "nor", "also", "our", "my", "vantage", "vantages"}
_ALL_VANTAGES = {"everywhere", "anywhere", "all", "every", "*"}


# --------------------------------------------------------------------------- intents


def _command(words: list[str]) -> ParsedRequest | None:
    """A registry command (``bot.commands``) named by the first words, or None (a diagnosis)."""
    if not words:
        return ParsedRequest(intent="help")
    m = commands.match(words)
    if m is None:
        return None
    return ParsedRequest(intent=m.command.name, args=commands.read_args(m, words))


def _paste(text: str) -> ParsedRequest | None:
    """``analyze`` + pasted output: the raw text after the word, before any tokenising."""
    m = _ANALYZE.match(text)
    if m is None:
        return None
    body = m.group(1)
    fenced = _FENCE.findall(body)
    if fenced:
        body = "\n".join(fenced)
    body = body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")  # Slack's escaping
    body = body.strip("\n")
    if not body.strip():
        raise BadInput(
            "analyze needs the output to read: paste it after `analyze` (a code block is best) or attach a text file"
        )
    if len(body) > MAX_PASTE:
        raise BadInput(
            f"the paste is too large ({len(body):,} characters; at most {MAX_PASTE:,}): "
            "keep only the command outputs, or run `whycant analyze FILE` on the host"
        )
    return ParsedRequest(intent="analyze", paste=body, text=text)


# --------------------------------------------------------------------------- parse


def parse_request(text: str) -> ParsedRequest:
    """Parse one chat line. Pure; raises BadInput for malformed ports and commands."""
    pasted = _paste(text)
    if pasted is not None:
        return pasted
    words = tokenize(text)
    while words and words[0].lower() in ("hey", "hi", "hello", "yo", "whycant", "please", "pls"):
        words = words[1:]
    if words and words[0].lower() == "ask":
        words = words[1:]
    cmd = _command(words)
    if cmd is not None:
        cmd.text = text
        return cmd

    low = [w.lower() for w in words]
    used: set[int] = set()
    vantages: list[str] = []

    # "from dc and office", "from everywhere"
    i = 0
    while i < len(words):
        if low[i] != "from":
            i += 1
            continue
        used.add(i)
        j = i + 1
        while j < len(words):
            w = low[j]
            if w in _LIST_FILLER:
                used.add(j)
            elif w in _ALL_VANTAGES:
                vantages.append("all")
                used.add(j)
            elif w in _FILLER or PORT_RE.match(w):
                break
            else:
                vantages.append(words[j])
                used.add(j)
            j += 1
        i = j

    # The subject of "why can't app01 reach ...", "office can't connect to ..."
    verb = next((k for k, w in enumerate(low) if w in _VERBS and k not in used), None)
    if verb is not None:
        k = verb - 1
        while k >= 0 and low[k] in _MODALS:
            k -= 1
        if k >= 0 and k not in used and low[k] not in _FILLER and not PORT_RE.match(low[k]):
            vantages.insert(0, words[k])
            used.add(k)

    # Explicit ports and services: "on 443", "port 5432", "service postgres", bare numbers.
    port: int | None = None
    service: str | None = None
    ports: list[int] = []
    for k, w in enumerate(low):
        if k in used:
            continue
        p = as_port(w)
        if p is not None:
            ports.append(p)
            used.add(k)
        elif w in ("service", "port") and k + 1 < len(words) and k + 1 not in used:
            nxt = words[k + 1]
            if PORT_RE.match(nxt):
                continue
            if not SERVICE_RE.match(nxt):
                raise BadInput(f"{show_token(nxt)} is not a port number or a service name")
            service = nxt
            used.update((k, k + 1))

    # The target: the first candidate after the verb, else the first candidate.
    cands = [k for k, w in enumerate(low) if k not in used and w not in _FILLER]
    after = [k for k in cands if verb is not None and k > verb]
    target: str | None = None
    extras: list[str] = []
    if cands:
        tk = after[0] if after else cands[0]
        target, tport, tservice = split_hostport(words[tk])
        if tport is not None:
            ports.insert(0, tport)
        if tservice is not None:
            if service is not None and service.lower() != tservice.lower():
                raise BadInput(
                    f"two services given ({show_token(tservice)} and {show_token(service)}): ask about one at a time"
                )
            service = tservice
        extras = [words[k] for k in cands if k != tk]
    uniq = list(dict.fromkeys(ports))
    if len(uniq) > 1:
        raise BadInput(f"several ports given ({', '.join(map(str, uniq))}): ask about one at a time")
    port = uniq[0] if uniq else None
    if target is None:
        if port is not None or service is not None or vantages or verb is not None or set(low) & _MODALS:
            raise BadInput(f"which host? {EXAMPLE}")
        return ParsedRequest(intent="help", args=words[:1], text=text)
    return ParsedRequest(
        target_token=target,
        port=port,
        service=service,
        vantage_tokens=list(dict.fromkeys(vantages)),
        intent="diagnose",
        extra_tokens=extras,
        text=text,
    )
