# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one retry policy of every registry request: bounded exponential backoff with jitter that honours Retry-After.

Which answers are worth another try follows the distribution-spec (a 429 TOOMANYREQUESTS, the 5xx of a registry or
proxy under load) and RFC 9110 section 10.2.3 (Retry-After, in seconds or as an HTTP date).
"""
from __future__ import annotations

import email.utils
import random
import time

# Statuses that say "try again later": request timeout, too many requests, server errors a proxy or a busy registry give.
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header value (delay-seconds or HTTP-date), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryPolicy:
    """How often and how long to wait: `retries` further tries after the first; before try n (1-based) the wait is
    base * 2**n seconds, at most `cap`, less a random share of up to `jitter` (so that parallel workers spread out),
    and never shorter than a Retry-After the registry sent, which is itself bounded by `max_retry_after` seconds."""

    def __init__(self, retries: int = 4, base: float = 0.25, cap: float = 8.0, jitter: float = 0.25,  # noqa: PLR0917 - plain settings
                 max_retry_after: float = 60.0) -> None:
        self.retries = retries
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.max_retry_after = max_retry_after

    def allows(self, attempt: int) -> bool:
        """True when retry number `attempt` (1-based) is still within the budget."""
        return attempt <= self.retries

    def delay(self, attempt: int, retry_after: str | float | None = None) -> float:
        """Seconds to wait before retry number `attempt`; `retry_after` is the header value or seconds, if any."""
        wait = min(self.base * 2 ** attempt, self.cap)
        wait -= wait * self.jitter * random.random()  # noqa: S311 - spreading retries, not cryptography
        asked = parse_retry_after(retry_after) if isinstance(retry_after, str) else retry_after
        if asked is not None:
            wait = max(wait, min(asked, self.max_retry_after))
        return wait

    def sleep(self, attempt: int, retry_after: str | float | None = None) -> None:
        """Wait before retry number `attempt` (see delay)."""
        time.sleep(self.delay(attempt, retry_after))
