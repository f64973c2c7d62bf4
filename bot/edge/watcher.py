"""Follow training jobs: a poll delivery, every few seconds, for each issue whose job is running.

Jobs run elsewhere (a local process, GitHub Actions, Hugging Face Jobs) and most backends send no
webhook the bot can rely on, so the server asks. Which issues to ask about comes from GitHub (the
`ml-intern:training` label mirrors the phase), for every repository the server has had deliveries
from; each poll goes through the inbox like a webhook, so it is handled in order with the issue's
other events and survives a restart. GitHub's `workflow_run` events only make a poll come sooner.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.core.events import POLL_EVENT
from bot.edge.inbox import Inbox
from bot.shell.follow import Lister, poll_payload

log = logging.getLogger(__name__)


class Watcher(threading.Thread):
    """Queues a poll for every training issue each `every_s` seconds, until stopped."""

    def __init__(self, inbox: Inbox, wake: Callable[[], None], lister: Lister, every_s: float):
        super().__init__(name="ml-intern-job-watcher", daemon=True)
        self.inbox, self.wake, self.lister, self.every_s = inbox, wake, lister, every_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 -- GitHub unreachable: the next round tries again
                log.warning("could not look for running jobs (%s); trying again in %.0f s",
                            type(exc).__name__, self.every_s)

    def poll_once(self) -> int:
        """Queue the polls due now; returns how many were queued."""
        queued = 0
        for repo in self.inbox.repos():
            for number in self.lister(repo):
                key = f"{repo}#{number}"
                if self.inbox.pending(key, POLL_EVENT):
                    continue  # the last poll has not been handled yet: one is enough
                delivery = f"poll:{key}:{time.time():.3f}"
                queued += self.inbox.accept(delivery, POLL_EVENT, key, poll_payload(repo, number)) == "accepted"
        if queued:
            self.wake()
        return queued
