"""One retry policy for every call to GitHub, and the backoff the delivery queue uses.

- Requests that are safe to repeat (GET, HEAD, PUT, PATCH, DELETE) are retried by urllib3 on
  connection errors, 5xx and 429, with exponential backoff and jitter, honouring `Retry-After`;
  PyGithub's `GithubRetry` adds the wait until `X-RateLimit-Reset` on a rate-limit 403.
  Docs: https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
- A POST is never repeated blindly (a 500 may come after the write was saved): creations go
  through `create_once`, which looks for the thing by its marker before creating it again.
- A delivery whose handling failed on a transient error is tried again later (`delivery_backoff`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from github import GithubException, GithubRetry

from bot.errors import Interrupted

log = logging.getLogger(__name__)
T = TypeVar("T")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
ATTEMPTS = 5
BACKOFF_S = 0.5  # first wait; doubles each time, with up to 25 % jitter
BACKOFF_MAX_S = 30.0


def github_retry(attempts: int = ATTEMPTS, backoff_s: float = BACKOFF_S) -> GithubRetry:
    """The urllib3 policy PyGithub uses for every request the bot makes."""
    return GithubRetry(
        total=attempts, connect=attempts, read=attempts, status=attempts,
        allowed_methods=IDEMPOTENT, status_forcelist=[429, *range(500, 600)],
        backoff_factor=backoff_s, backoff_jitter=backoff_s / 4, backoff_max=BACKOFF_MAX_S,
        respect_retry_after_header=True, raise_on_status=False, max_rate_limit_wait=3600,
    )


def is_transient(exc: BaseException) -> bool:
    """An outage, a timeout, a 5xx, a rate limit or a shutdown: worth trying the same thing again later."""
    if isinstance(exc, requests.RequestException | Interrupted):
        return True
    if isinstance(exc, GithubException):
        message = str((exc.data or {}).get("message", "")) if isinstance(exc.data, dict) else ""
        return exc.status >= 500 or exc.status == 429 or (exc.status == 403 and "rate limit" in message.lower())
    return False


def pause(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff with full jitter: base·2^attempt, capped, scaled by a random 0.5–1."""
    return min(cap_s, base_s * 2**attempt) * random.uniform(0.5, 1.0)


def create_once(find: Callable[[], T | None], create: Callable[[], T], *, attempts: int = 3,
                base_s: float = BACKOFF_S) -> T:
    """Find, then create; after a failed create, look again before trying, so a lost answer never duplicates."""
    for attempt in range(attempts):
        found = find()
        if found is not None:
            return found
        try:
            return create()
        except Exception as exc:
            if not is_transient(exc) or attempt == attempts - 1:
                raise
            log.warning("a create failed (%s); looking for it before trying again", type(exc).__name__)
            time.sleep(pause(attempt, base_s, BACKOFF_MAX_S))
    raise AssertionError("unreachable")


def delivery_backoff(attempt: int, base_s: float) -> float:
    """How long a delivery waits after its `attempt`-th transient failure (at most 10 minutes)."""
    return pause(attempt, base_s, 600.0)
