"""When a call is tried again, and how long the client waits first.

A call is retried only when a second attempt cannot do anything the first did not:

- **idempotent** calls (every ``decide`` and ``decide_batch``, which always carry a
  ``request_id``; the GETs; ``replay``, which records nothing) are retried on a 503 and on any
  transport failure: a connection refused or dropped, a time-out, an answer lost on the way
  back. If the first attempt was recorded, the server answers the retry with that same
  decision (``created`` False).
- **unsent-only** calls (``resolve``, which records a new resolution each time) are retried
  only when the connection could not be opened, so the request never left: once it may have
  reached the server, a second one could record the resolution twice. A 503 is not retried
  either (a proxy may answer 503 after forwarding); the :class:`UnavailableError` carries
  ``retry_after`` and the caller decides, e.g. after reading the decision's resolution.

Waits grow exponentially from ``backoff`` seconds (doubling per retry, at most ``max_wait``),
each drawn at random between half and all of that ("equal jitter", so clients that failed
together do not come back together). A ``Retry-After`` header is a floor: the client never
comes back sooner, and if it asks for more than ``max_wait`` the error is raised at once.
"""

from __future__ import annotations

import enum
import logging
import random
from dataclasses import dataclass

import httpx

from rulebook_client._errors import TransportError, retry_after

__all__ = ["Attempts", "Retry", "Safety"]

log = logging.getLogger("rulebook_client")

# Failures that may or may not have reached the server, and the ones that surely did not.
RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Safety(enum.Enum):
    """What a second attempt of a call may do."""

    IDEMPOTENT = "idempotent"
    UNSENT_ONLY = "unsent-only"


@dataclass(frozen=True)
class Retry:
    """The retry policy: ``attempts`` tries in all (1 never retries)."""

    attempts: int = 4
    backoff: float = 0.25
    max_wait: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.backoff < 0 or self.max_wait < 0:
            raise ValueError("backoff and max_wait must not be negative")

    def backoff_wait(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first), with jitter."""
        ceiling = min(self.max_wait, self.backoff * 2 ** (retry - 1))
        return random.uniform(ceiling / 2, ceiling)

    def wait(self, retry: int, after: float | None = None) -> float | None:
        """The backoff wait, or longer if a ``Retry-After`` of ``after`` seconds asks for it;
        None when that is more than ``max_wait``."""
        if after is None:
            return self.backoff_wait(retry)
        if after > self.max_wait:
            return None
        return max(self.backoff_wait(retry), after)


class Attempts:
    """The retry state of one call, shared by the sync and async clients: each tells it how
    an attempt ended and gets back how long to wait before the next, or the final outcome."""

    def __init__(self, policy: Retry, safety: Safety, what: str) -> None:
        self.policy = policy
        self.safety = safety
        self.what = what
        self.made = 0

    def answered(self, response: httpx.Response) -> float | None:
        """Seconds to wait before trying again, or None: ``response`` is the final answer."""
        self.made += 1
        if response.status_code != 503 or self.safety is not Safety.IDEMPOTENT:
            return None
        if self.made >= self.policy.attempts:
            return None
        wait = self.policy.wait(self.made, retry_after(response))
        if wait is not None:
            log.info("%s: 503, retry %d in %.2f s", self.what, self.made, wait)
        return wait

    def failed(self, exc: httpx.TransportError) -> float:
        """Seconds to wait before trying again; raises :class:`TransportError` (from ``exc``)
        when the call may not be retried or has no attempts left."""
        self.made += 1
        allowed = RETRYABLE if self.safety is Safety.IDEMPOTENT else UNSENT
        if not isinstance(exc, allowed) or self.made >= self.policy.attempts:
            tries = f" after {self.made} attempts" if self.made > 1 else ""
            raise TransportError(f"{self.what}: no answer{tries}: {exc!r}") from exc
        wait = self.policy.backoff_wait(self.made)
        log.info("%s: %r, retry %d in %.2f s", self.what, exc, self.made, wait)
        return wait
