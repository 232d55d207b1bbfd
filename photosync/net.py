"""What every network connector needs: a request budget, retries, and a
checked download.

Retries use tenacity (exponential backoff with random jitter, a bounded number
of attempts, then the last error).  The budget is a token bucket: a service
that allows N calls an hour gets at most N, with a small burst, however the
calls are spread over threads.  ``download`` streams a file into a temporary
file, checks its length and retries what a network does to a download (429,
5xx, dropped connections, a body cut short), so each connector does not write
its own.
"""

from __future__ import annotations

import threading
import time
from typing import IO, Any, Callable, TypeVar

T = TypeVar("T")


class TokenBucket:
    """At most ``per_hour`` takes in any hour: tokens refill at 80 % of that rate
    into a bucket holding the other 20 % (so a burst of up to a fifth of the
    hour's budget goes at once, and burst + refill never pass the limit).

    With ``state_path`` the bucket is shared by every process using it, one after
    the other (the file keeps how many tokens are left and when), so running a
    command twice in a minute does not get two bursts.
    """

    def __init__(self, per_hour: float, state_path=None, clock=time.time, sleep=time.sleep):
        self.rate = 0.8 * per_hour / 3600.0
        self.capacity = max(1.0, 0.2 * per_hour)
        self.clock = clock
        self.sleep = sleep
        self.state_path = state_path
        if state_path is not None:
            import os

            try:
                os.makedirs(os.path.dirname(state_path), exist_ok=True)
            except OSError:
                pass
        self.tokens = self.capacity
        self.stamp = clock()
        self.lock = threading.Lock()
        self.waited = 0.0
        #: tokens taken by this process
        self.taken = 0
        self._load()

    def _load(self) -> None:
        if self.state_path is None:
            return
        import json

        try:
            with open(self.state_path, encoding="utf-8") as f:
                d = json.load(f)
            tokens, stamp = float(d["tokens"]), float(d["stamp"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        if stamp <= self.clock() + 1:
            self.tokens = min(self.capacity, tokens)
            self.stamp = min(stamp, self.clock())

    def save(self) -> None:
        if self.state_path is None:
            return
        import json
        import os

        try:
            os.makedirs(os.path.dirname(self.state_path), exist_ok=True)
            tmp = f"{self.state_path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"tokens": self.tokens, "stamp": self.stamp}, f)
            os.replace(tmp, self.state_path)
        except OSError:
            pass  # the budget then restarts full next time: still under the hourly limit per process

    def take(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds slept.
        With a state file, the take is made under a lock on it, from its current
        contents: processes running at the same time share one budget."""
        with self.lock:
            if self.state_path is None:
                wait = self._take_locked()
            else:
                import fcntl

                try:
                    with open(self.state_path + ".lock", "a+") as lockf:
                        fcntl.lockf(lockf, fcntl.LOCK_EX)
                        self._load()
                        wait = self._take_locked()
                        self.save()
                except OSError:  # no lock file possible: this process's own budget still holds
                    wait = self._take_locked()
        if wait > 0:
            self.waited += wait
            self.sleep(wait)
        return wait

    def _take_locked(self) -> float:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1.0
        self.taken += 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


#: the longest a server's Retry-After is waited for before one attempt (a longer ask is cut to this:
#: the next attempt then either works or asks again, and the attempts stay bounded)
RETRY_AFTER_CAP = 300.0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (RFC 9110 section 10.2.3: delay-seconds or an
    HTTP-date), or None when there is none or it cannot be read."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retrying(
    fn: Callable[[], T],
    *,
    transient: Callable[[BaseException], bool],
    attempts: int = 6,
    base: float = 1.0,
    cap: float = 60.0,
    on_retry: Callable[[BaseException, float], None] | None = None,
    retry_after: Callable[[BaseException], float | None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """``fn()``, called again after a transient error with exponential backoff
    and jitter (base, 2·base, 4·base … up to ``cap``, each plus up to ``base``
    at random), at most ``attempts`` times; then the last error is raised.
    ``retry_after(error)`` gives the wait a server asked for (a 429's or 503's
    Retry-After): the next attempt waits at least that long (at most
    RETRY_AFTER_CAP)."""
    import tenacity

    backoff = tenacity.wait_exponential_jitter(multiplier=base, max=cap, jitter=base)

    def wait(state: tenacity.RetryCallState) -> float:
        delay = backoff(state)
        error = state.outcome.exception() if state.outcome is not None else None  # None: not a failure
        if retry_after is not None and error is not None:
            asked = retry_after(error)
            if asked:
                delay = max(delay, min(float(asked), RETRY_AFTER_CAP))
        return delay

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and error is not None and state.next_action is not None:
            on_retry(error, state.next_action.sleep)

    retry = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, attempts)),
        wait=wait,
        retry=tenacity.retry_if_exception(transient),
        before_sleep=before_sleep,
        reraise=True,
        sleep=sleep if sleep is not None else tenacity.nap.sleep,  # tenacity's own default
    )
    return retry(fn)


class Transient(Exception):
    """A failure that may go away when tried again: an HTTP 429 or 5xx, a body cut short."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        #: seconds the server asked to wait (its Retry-After), if it said
        self.retry_after = retry_after


def retry_after_of(e: BaseException) -> float | None:
    """The wait a failure carries (a Transient's, or any error given a ``retry_after``)."""
    return getattr(e, "retry_after", None)


def transient_network_error(e: BaseException) -> bool:
    """Whether ``e`` is worth another attempt: a Transient, or what requests raises when a
    connection cannot be made, times out, or ends inside a body."""
    import requests

    return isinstance(e, (Transient, requests.ConnectionError, requests.Timeout,
                          requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError))


#: a download is written in pieces of this size (and never held whole in memory)
DOWNLOAD_CHUNK = 1 << 20


def download(
    session: Any,
    url: str,
    *,
    attempts: int = 8,
    base: float = 1.0,
    timeout: float = 60.0,
    headers: dict | None = None,
    on_retry: Callable[[BaseException, float], None] | None = None,
    dir: str | None = None,
    sleep: Callable[[float], None] | None = None,
) -> IO[bytes]:
    """The body at ``url``, fetched with ``session`` (a ``requests.Session``: the caller's
    connection pool, its auth and hooks), in a temporary file rewound to its start (closing
    it removes it).  Streamed in DOWNLOAD_CHUNK pieces, so memory does not grow with the file.

    The body's length is checked against the Content-Length (the bytes on the wire when the
    body is content-encoded: requests gives it decoded); a body cut short, a dropped
    connection, a timeout, HTTP 429 and 5xx are tried again with exponential backoff and
    jitter (``retrying``), waiting at least what a Retry-After asks.  After the last attempt,
    or at once for another HTTP status, a SourceError says what went wrong and where."""
    import tempfile
    from urllib.parse import urlsplit

    import requests

    from .errors import SourceError

    host = urlsplit(url).netloc

    def once() -> IO[bytes]:
        tmp = tempfile.TemporaryFile(dir=dir)
        try:
            with session.get(url, stream=True, timeout=timeout, headers=headers) as r:
                if r.status_code == 429 or r.status_code >= 500:
                    raise Transient(f"HTTP {r.status_code} from {host}", retry_after_seconds(r.headers.get("Retry-After")))
                if r.status_code != 200:
                    raise SourceError(f"the file could not be downloaded (HTTP {r.status_code})")
                expected = r.headers.get("Content-Length")
                encoded = r.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
                got = 0
                for chunk in r.iter_content(DOWNLOAD_CHUNK):
                    tmp.write(chunk)
                    got += len(chunk)
                if encoded:
                    got = r.raw.tell()  # urllib3: bytes read from the wire, before decoding
            if expected is not None and expected.strip().isdigit() and got != int(expected):
                raise Transient(f"download cut short ({got} of {expected} bytes)")
            tmp.seek(0)
            return tmp
        except BaseException:
            tmp.close()
            raise

    try:
        return retrying(once, transient=transient_network_error, attempts=attempts, base=base,
                        on_retry=on_retry, retry_after=retry_after_of, sleep=sleep)
    except Transient as e:
        raise SourceError(f"the file could not be downloaded after {attempts} attempts: {e}") from None
    except requests.RequestException as e:
        raise SourceError(f"the file could not be downloaded: cannot reach {host} after {attempts} attempts "
                          f"({type(e).__name__})") from None
