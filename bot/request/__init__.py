"""The chat grammar: free text -> intent, target, port or service, vantages.

Two steps, apart from any capability (StackStorm style):

* ``parse_request(text)`` (``grammar``) is pure and knows nothing of the
  inventory: it undoes Slack's wrapping (mentions, ``<http://db01|db01>``
  links, curly quotes: ``tokens``), finds the intent in the command registry
  (``bot.commands``) and picks out the tokens.
* ``resolve_request(parsed, inventory)`` (``resolve``) turns tokens into
  inventory objects. Every string in a returned ``Request`` (target, address,
  service, vantages) is taken from the inventory, never from the text, so
  nothing typed in chat can reach a command line. Only ``Request.text``
  carries the original words (for display and storage; never pass it to a
  shell).

Errors are ``BadInput`` (exit 2) with a one-line reason.
"""

from __future__ import annotations

from bot.request.grammar import INTENTS, MAX_PASTE, ParsedRequest, parse_request
from bot.request.resolve import MAX_SERVICES, MAX_VANTAGES, resolve_hosts, resolve_request
from bot.request.tokens import split_hostport

__all__ = [
    "INTENTS",
    "MAX_PASTE",
    "MAX_SERVICES",
    "MAX_VANTAGES",
    "ParsedRequest",
    "parse_request",
    "resolve_request",
    "resolve_hosts",
    "split_hostport",
]
