"""The process a local training job lives in: `python -m runners.local_job JOB_FOLDER`.

`runners.local_jobs.LocalBackend` starts it in its own session, so the job outlives the bot that
submitted it (a restarted bot finds it by its folder). It runs train.py then evaluate.py with
`LocalRunner`, appends each JSON progress line to `events.jsonl`, and writes `result.json` last:
a folder with a result has ended, one without is still running or died (its PID tells which).
SIGTERM (`LocalBackend.cancel`) stops the scripts and ends the job as `cancelled`.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from runners.local import LocalRunner

REQUEST, EVENTS, RESULT = "request.json", "events.jsonl", "result.json"


def main(folder: Path) -> int:
    request = json.loads((folder / REQUEST).read_text(encoding="utf-8"))
    runner = LocalRunner()
    signal.signal(signal.SIGTERM, lambda *_: runner.cancel())
    with (folder / EVENTS).open("a", encoding="utf-8") as events:
        def record(event: dict) -> None:
            events.write(json.dumps(event) + "\n")
            events.flush()

        result = runner.run(folder / "repo" / request["folder"], folder / "out", budget_s=float(request["budget_s"]),
                            on_progress=record, env=None)
    status = "cancelled" if result.status == "interrupted" else result.status
    write_json(folder / RESULT, {"status": status, "seconds": result.seconds, "message": result.message,
                                 "log_tail": result.log_tail})
    return 0 if result.ok else 1


def write_json(path: Path, data: dict) -> None:
    """Atomically: a reader sees no file or the whole of it."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data), encoding="utf-8")
    partial.replace(path)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
