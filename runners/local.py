"""Run the generated scripts as local subprocesses: the demo, the smoke test and CPU training.

Each script runs in its own process group (so a budget overrun or /cancel can stop it and any
children), with cwd = the PR's source folder and an environment scrubbed of credentials. The group
is written to `OUT/.runner.pid`, so a later process can stop scripts a killed bot left behind
(`reap`), and `stop_all` stops every script of this process when the bot shuts down.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from runners.base import ProgressCallback, RunResult, Status, scrub_env, with_dataset

log = logging.getLogger(__name__)

SCRIPTS = ("train.py", "evaluate.py")
TAIL_LINES = 40
PID_FILE = ".runner.pid"
_live: set[LocalRunner] = set()
_live_lock = threading.Lock()


def stop_all() -> None:
    """The bot is shutting down: stop every running script; their runs end as `interrupted`."""
    with _live_lock:
        runners = list(_live)
    for runner in runners:
        runner.interrupted.set()
        runner.cancel()


def reap(out_dir: Path) -> bool:
    """Stop scripts an earlier, killed bot process left running for `out_dir`; True when there were some."""
    try:
        pid, ticks = (Path(out_dir) / PID_FILE).read_text().split()
    except (OSError, ValueError):
        return False
    if _start_ticks(int(pid)) != ticks:
        return False  # that process is gone (or its PID now belongs to another one)
    try:
        os.killpg(int(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _start_ticks(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


class LocalRunner:
    """Runner that executes train.py then evaluate.py with this machine's Python."""

    def __init__(self, extra_args: Sequence[str] = (), grace_s: float = 10.0, python: str | None = None):
        self.extra_args = list(extra_args)
        self.grace_s = grace_s
        self.python = python or sys.executable
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._cancelled = threading.Event()
        self.interrupted = threading.Event()  # set by stop_all: the run ends as `interrupted`

    def cancel(self) -> None:
        """Stop the running script (safe from any thread); the pending run returns 'cancelled'."""
        self._cancelled.set()
        with self._lock:
            proc = self._proc
        if proc is not None:
            _stop_group(proc, self.grace_s)

    def run(
        self,
        src_dir: Path,
        out_dir: Path,
        *,
        budget_s: float,
        on_progress: ProgressCallback | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RunResult:
        """train.py then evaluate.py within budget_s seconds in all; never raises for script failures."""
        self._cancelled.clear()
        with _live_lock:
            _live.add(self)
        try:
            return self._run_all(Path(src_dir), Path(out_dir), budget_s, on_progress, env)
        finally:
            with _live_lock:
                _live.discard(self)

    def _run_all(self, src_dir: Path, out_dir: Path, budget_s: float, on_progress, env) -> RunResult:
        started = time.monotonic()
        deadline = started + budget_s
        out_dir = Path(out_dir).resolve()
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        events: list[dict] = []
        status: Status = "succeeded"
        message = ""
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            clean_env = with_dataset(scrub_env(env), src_dir)  # a catalogued Hub ID reads its offline copy
            for script in SCRIPTS:
                status, message = self._run_script(
                    script, Path(src_dir), out_dir, deadline, clean_env, tail, events, on_progress
                )
                if status != "succeeded":
                    break
            if script == "evaluate.py" and status in ("timed_out", "failed"):  # training finished: say what it got
                message = unfinished_evaluation(out_dir, status, message)
        except OSError as exc:  # cannot start the interpreter, unreadable folder...
            status, message = "failed", f"could not run the scripts: {exc}"
            tail.append(message)
        metrics = _read_metrics(out_dir) if status == "succeeded" else None
        if status == "succeeded" and metrics is None:
            status, message = "failed", "evaluate.py finished without writing metrics.json"
        return RunResult(
            ok=status == "succeeded", status=status, out_dir=out_dir, metrics=metrics,
            log_tail="\n".join(tail), seconds=round(time.monotonic() - started, 2),
            message=message, events=events,
        )

    def _run_script(self, script, src_dir, out_dir, deadline, env, tail, events, on_progress):
        """One script to completion, budget or cancel; returns (status, message)."""
        if self.interrupted.is_set():
            return "interrupted", "the bot shut down before it started"
        if self._cancelled.is_set():
            return "cancelled", "cancelled before it started"
        if not (src_dir / script).is_file():
            tail.append(f"{script} not found in {src_dir}")
            return "failed", f"{script} not found"
        cmd = [self.python, "-u", script, "--config", "config.yaml", "--output", str(out_dir), *self.extra_args]
        proc = subprocess.Popen(
            cmd, cwd=src_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace", bufsize=1,
            start_new_session=True,
        )
        with self._lock:
            self._proc = proc
        (out_dir / PID_FILE).write_text(f"{proc.pid} {_start_ticks(proc.pid)}")
        reader = threading.Thread(target=_pump, args=(proc, tail, events, on_progress), daemon=True)
        reader.start()
        timed_out = self._wait(proc, deadline)
        reader.join(timeout=5)
        with self._lock:
            self._proc = None
        if timed_out:
            tail.append(f"[runner] {script} stopped: time budget exhausted")
            return "timed_out", f"{script} ran out of the time budget"
        if self.interrupted.is_set():
            tail.append(f"[runner] {script} stopped: the bot is shutting down")
            return "interrupted", f"{script} was stopped because the bot shut down"
        if self._cancelled.is_set():
            tail.append(f"[runner] {script} cancelled")
            return "cancelled", f"{script} was cancelled"
        if proc.returncode != 0:
            errors = [e.get("message", "") for e in events if e.get("event") == "error"]
            return "failed", errors[-1] if errors else f"{script} exited with status {proc.returncode}"
        return "succeeded", ""

    def _wait(self, proc: subprocess.Popen, deadline: float) -> bool:
        """Wait for proc; on deadline stop its process group and return True."""
        while True:
            try:
                proc.wait(timeout=0.2)
                return False
            except subprocess.TimeoutExpired:
                pass
            if self._cancelled.is_set():
                _stop_group(proc, self.grace_s)
                proc.wait()
                return False
            if time.monotonic() >= deadline:
                _stop_group(proc, self.grace_s)
                proc.wait()
                return True


def _pump(proc: subprocess.Popen, tail: deque, events: list, on_progress: ProgressCallback | None) -> None:
    """Read merged stdout/stderr: keep the tail, hand each JSON event line to on_progress."""
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        tail.append(line)
        event = _parse_event(line)
        if event is None:
            continue
        events.append(event)
        if on_progress is not None:
            try:
                on_progress(event)
            except Exception:  # a broken progress consumer must not kill the run
                log.exception("on_progress failed for %s", event.get("event"))


def _parse_event(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and "event" in obj else None


def _stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the script's process group, SIGKILL it after grace_s."""
    if proc.poll() is not None:
        return
    try:
        pgid = os.getpgid(proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


STOPPED = {"completed": "as planned", "early_stopping": "stopped early", "time_budget": "stopped at the time budget"}


def unfinished_evaluation(out_dir: Path, status: str, message: str) -> str:
    """Why the run has no test score although train.py finished, led by what training achieved
    (train_metrics.json: epochs run, best validation macro-F1, why it stopped) and how to run it again."""
    try:
        train = json.loads((out_dir / "train_metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        train = None
    facts = []
    if isinstance(train, dict):  # written by generated code: only numbers and known words are repeated
        epochs, best, reason = train.get("epochs_run"), train.get("best_val_macro_f1"), train.get("stopped_reason")
        if isinstance(epochs, int) and not isinstance(epochs, bool):
            facts.append(f"{epochs} epoch{'' if epochs == 1 else 's'}")
        if isinstance(reason, str) and reason in STOPPED:
            facts.append(STOPPED[reason])
        if isinstance(best, (int, float)) and not isinstance(best, bool):
            facts.append(f"best validation macro-F1 {best:.4f}")
    done = f"train.py finished ({', '.join(facts)})" if facts else "train.py finished"
    said = f"{done}; evaluate.py {'ran out of time' if status == 'timed_out' else 'failed'}, so there is no test " \
           "score (`/retry` trains and evaluates again)"
    return f"{said}: {message}" if status == "failed" and message else f"{said}."


def _read_metrics(out_dir: Path) -> dict | None:
    try:
        return json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
