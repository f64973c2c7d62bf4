"""Leases on slow steps: who is working on an issue, and whether that worker is still alive.

A slow step (research, smoke test, training, publishing) runs under a lease written into the state
marker before it starts and refreshed by a heartbeat. Any process that later reads the state can
tell a live step from a dead one: its own leases it knows; another process on this machine is
checked by PID and start time; a process elsewhere is alive while its heartbeat is fresh.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

log = logging.getLogger(__name__)

BEAT_S = 30.0  # how often a running step refreshes its lease
TTL_S = 120.0  # a lease from another machine without a heartbeat for this long is dead

_active: set[str] = set()
_active_lock = threading.Lock()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """GitHub's timestamp format, so leases read like the rest of the issue."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux /proc), "" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


HOLDER = f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}"


def take(step: str, **details: str) -> dict:
    """A new lease held by this process, registered as running until `release`."""
    token = uuid.uuid4().hex[:12]
    with _active_lock:
        _active.add(token)
    stamp = iso(now())
    return {"step": step, "holder": HOLDER, "token": token, "since": stamp, "beat": stamp, **details}


def release(lease: dict | None) -> None:
    """The step ended, however it ended."""
    if lease:
        with _active_lock:
            _active.discard(lease.get("token"))


def beat(lease: dict) -> dict:
    """The same lease with a fresh heartbeat."""
    return {**lease, "beat": iso(now())}


def alive(lease: dict) -> bool:
    """Whether the lease's holder may still be working on its step."""
    holder = str(lease.get("holder", ""))
    if holder == HOLDER:
        with _active_lock:
            return lease.get("token") in _active
    host, _, rest = holder.partition(":")
    pid, _, ticks = rest.partition(":")
    if host == socket.gethostname() and pid.isdigit():
        return _process_alive(int(pid), ticks)
    return _fresh(str(lease.get("beat", "")))


def _process_alive(pid: int, ticks: str) -> bool:
    """A process on this machine: alive when the PID exists and started when the holder did."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not ticks or _start_ticks(pid) == ticks


def _fresh(stamp: str) -> bool:
    try:
        beat_at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return now() - beat_at < timedelta(seconds=TTL_S)


class Heartbeat(threading.Thread):
    """Calls `pulse` every `every_s` seconds until stopped (a step refreshing its lease)."""

    def __init__(self, pulse: Callable[[], None], every_s: float = BEAT_S):
        super().__init__(name="lease-heartbeat", daemon=True)
        self.pulse, self.every_s, self.stopped = pulse, every_s, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                self.pulse()
            except Exception as exc:  # noqa: BLE001 -- a missed beat is retried at the next one
                log.warning("a lease heartbeat failed (%s); trying again in %.0f s", type(exc).__name__, self.every_s)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
