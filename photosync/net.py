"""What every network connector needs: a request budget and retries.

Retries use tenacity (exponential backoff with random jitter, a bounded number
of attempts, then the last error).  The budget is a token bucket: a service
that allows N calls an hour gets at most N, with a small burst, however the
calls are spread over threads.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")


class TokenBucket:
    """At most ``per_hour`` takes an hour on average, ``burst`` at once."""

    def __init__(self, per_hour: float, burst: int = 50, clock=time.monotonic, sleep=time.sleep):
        self.rate = per_hour / 3600.0
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.stamp = clock()
        self.lock = threading.Lock()
        self.waited = 0.0

    def take(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds slept."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1.0
            wait = 0.0 if self.tokens >= 0 else -self.tokens / self.rate
        if wait > 0:
            self.waited += wait
            self.sleep(wait)
        return wait


def retrying(
    fn: Callable[[], T],
    *,
    transient: Callable[[BaseException], bool],
    attempts: int = 6,
    base: float = 1.0,
    cap: float = 60.0,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """``fn()``, called again after a transient error with exponential backoff
    and jitter (base, 2·base, 4·base … up to ``cap``, each plus up to ``base``
    at random), at most ``attempts`` times; then the last error is raised."""
    import tenacity

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            on_retry(state.outcome.exception(), state.next_action.sleep)

    retry = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, attempts)),
        wait=tenacity.wait_exponential_jitter(multiplier=base, max=cap, jitter=base),
        retry=tenacity.retry_if_exception(transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retry(fn)
