"""The Slack Web API client: base URL, counted retries (429, 5xx, connection errors), calls that never raise."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import metrics

log = logging.getLogger("whycant.slack")

DEFAULT_API_URL = "https://slack.com/api/"


def api_url(explicit: str | None = None) -> str:
    """``SLACK_API_URL`` (docs/architecture.md §Front ends and contracts) or Slack's own, always ending in ``/``."""
    url = explicit or os.environ.get("SLACK_API_URL") or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


class _Counted:
    """Counts each retry in ``whycant_slack_api_retries_total{reason}`` before slack_sdk's own wait."""

    reason = "other"

    async def prepare_for_next_attempt_async(self, **kw: Any) -> None:
        metrics.API_RETRIES.labels(self.reason).inc()
        await super().prepare_for_next_attempt_async(**kw)  # type: ignore[misc]


class _RateLimitRetry(_Counted, AsyncRateLimitErrorRetryHandler):
    reason = "ratelimited"


class _ServerErrorRetry(_Counted, AsyncServerErrorRetryHandler):
    reason = "server_error"


class _ConnectionErrorRetry(_Counted, AsyncConnectionErrorRetryHandler):
    reason = "connection_error"


def retry_handlers(*, rate_limit_retries: int = 3, server_retries: int = 2, connection_retries: int = 2) -> list:
    """429 (honouring Retry-After), 500/503 and connection errors, via slack_sdk's handlers (each retry counted)."""
    return [
        _RateLimitRetry(max_retry_count=rate_limit_retries),
        _ServerErrorRetry(max_retry_count=server_retries),
        _ConnectionErrorRetry(max_retry_count=connection_retries),
    ]


def make_client(token: str | None = None, *, base_url: str | None = None, timeout: int = 30) -> AsyncWebClient:
    return AsyncWebClient(
        token=token or os.environ.get("SLACK_BOT_TOKEN"),
        base_url=api_url(base_url),
        timeout=timeout,
        retry_handlers=retry_handlers(),
    )


async def call(method: str, coro: Awaitable[Any]) -> Any | None:
    """Run one Web API call; log and count failures instead of raising."""
    try:
        return await coro
    except SlackApiError as e:
        error = api_error(e)
        metrics.API_ERRORS.labels(method, error).inc()
        if error in ("channel_not_found", "not_in_channel", "is_archived", "user_not_found"):
            log.warning("slack %s failed: %s", method, error)
        else:
            log.error("slack %s failed: %s", method, error)
    except (SlackClientError, asyncio.TimeoutError, OSError, ValueError) as e:  # ValueError: a body that is not JSON
        metrics.API_ERRORS.labels(method, type(e).__name__).inc()
        log.error("slack %s failed: %s: %s", method, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    return None


def api_error(e: SlackApiError) -> str:
    """Slack's ``error`` code, or ``http_500`` when the body was not a JSON object (HTML page, empty, truncated)."""
    resp = e.response
    data = getattr(resp, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = getattr(resp, "status_code", None)
    return f"http_{status}" if status else "unknown"
