"""A fixed pool of workers draining the inbox: one delivery per goal issue at a time, in order.

Different issues proceed in parallel, up to the pool's size (no thread per issue). A handler that
fails on a transient error (GitHub down, rate limit) is tried again later with backoff; one that
fails otherwise is tried a few times, then kept aside until someone redelivers it. Stopping lets
running handlers finish within a grace period; whatever did not finish stays pending for the next
start.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable

from bot.edge.inbox import Delivery, Inbox
from bot.shell.retry import delivery_backoff, is_transient

log = logging.getLogger(__name__)
BUG_ATTEMPTS = 3  # a handler that crashes this often on the same delivery is a bug, not an outage
Work = Callable[[Delivery], None]


class WorkerPool:
    """`size` threads taking ready deliveries from the inbox; `redact` cleans what reaches the log."""

    def __init__(self, inbox: Inbox, work: Work, *, size: int = 4, retry_base_s: float = 5.0,
                 redact: Callable[[str], str] = str) -> None:
        self.inbox, self.work, self.size = inbox, work, size
        self.retry_base_s, self.redact = retry_base_s, redact
        self._cond = threading.Condition()
        self._busy: set[str] = set()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def start(self) -> WorkerPool:
        """Start the workers; deliveries left pending by an earlier process are picked up first."""
        for n in range(self.size):
            thread = threading.Thread(target=self._loop, name=f"ml-intern-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def wake(self) -> None:
        """A delivery arrived: let an idle worker look."""
        with self._cond:
            self._cond.notify_all()

    def busy(self) -> int:
        """How many goal issues are being worked on right now."""
        with self._cond:
            return len(self._busy)

    def idle(self) -> bool:
        """Nothing running and nothing pending, postponed deliveries included."""
        with self._cond:
            return not self._busy and not self.inbox.counts().get("pending")

    def join(self, timeout: float | None = None) -> bool:
        """Wait until idle; False when the timeout came first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.idle():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, grace_s: float = 30.0) -> list[str]:
        """Take no more work; wait up to `grace_s` for running handlers. Returns the keys still running."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + grace_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._cond:
            return sorted(self._busy)

    def _loop(self) -> None:
        while True:
            delivery = self._take()
            if delivery is None:
                return
            try:
                self._run(delivery)
            finally:
                with self._cond:
                    self._busy.discard(delivery.key)
                    self._cond.notify_all()

    def _take(self) -> Delivery | None:
        """The next ready delivery (its key marked busy), or None when stopping."""
        with self._cond:
            while not self._stopping:
                delivery = self.inbox.ready(self._busy)
                if delivery is not None:
                    self._busy.add(delivery.key)
                    return delivery
                due = self.inbox.next_due()
                wait = 1.0 if due is None else min(1.0, max(0.05, due - time.time()))
                self._cond.wait(wait)
            return None

    def _run(self, delivery: Delivery) -> None:
        try:
            self.work(delivery)
        except Exception as exc:  # noqa: BLE001 -- every failure is kept for another try, never dropped
            self._failed(delivery, exc)
        else:
            self.inbox.done(delivery.id)

    def _failed(self, delivery: Delivery, exc: Exception) -> None:
        error = self.redact(f"{type(exc).__name__}: {exc}")[:500]
        if is_transient(exc):
            delay = delivery_backoff(delivery.attempts, self.retry_base_s)
            log.warning("delivery %s (%s) hit a transient error, retrying in %.0f s: %s",
                        delivery.id, delivery.event, delay, error)
            self.inbox.postpone(delivery.id, delay, error)
            return
        log.error("handler failed on %s (delivery %s):\n%s", delivery.event, delivery.id,
                  self.redact(traceback.format_exc()))
        if delivery.attempts + 1 >= BUG_ATTEMPTS:
            log.error("delivery %s set aside after %d failures; redeliver it to try again", delivery.id, BUG_ATTEMPTS)
            self.inbox.bury(delivery.id, error)
        else:
            self.inbox.postpone(delivery.id, delivery_backoff(delivery.attempts, self.retry_base_s), error)
