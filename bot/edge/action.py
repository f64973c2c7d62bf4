"""GitHub Action entrypoint (`ml-intern-bot handle-event`): one event from the runner's environment.

Variables: https://docs.github.com/en/actions/reference/variables-reference#default-environment-variables
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.errors import redact

USAGE = 2  # exit status for a misconfigured step, as argparse uses


class EventError(RuntimeError):
    """The runner did not hand over a readable event; the message says what is missing."""


def read_event(env: Mapping[str, str]) -> tuple[str, dict]:
    """(event name, payload) from GITHUB_EVENT_NAME and the JSON file at GITHUB_EVENT_PATH."""
    name, path = env.get("GITHUB_EVENT_NAME"), env.get("GITHUB_EVENT_PATH")
    if not name or not path:
        raise EventError(
            "GITHUB_EVENT_NAME and GITHUB_EVENT_PATH must be set: run this inside a GitHub "
            "Actions job (the runner sets both), or export them to replay a saved event"
        )
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise EventError(f"cannot read the event file GITHUB_EVENT_PATH={path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise EventError(f"the event file GITHUB_EVENT_PATH={path} is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise EventError(f"the event file GITHUB_EVENT_PATH={path} does not hold a JSON object")
    return name, payload


def main(env: Mapping[str, str] | None = None, handler: Callable[..., None] | None = None) -> int:
    """Handle the job's event; 0 on success, 2 for a misconfigured step, 1 when the handler failed."""
    env = os.environ if env is None else env
    try:
        event, payload = read_event(env)
        settings = Settings.from_env(dict(env))
        settings.require_token()
    except (EventError, ConfigError) as exc:
        print(f"ml-intern-bot: {exc}", file=sys.stderr)
        return USAGE
    if handler is None:
        from bot.shell.handler import handle_event

        handler = handle_event
    try:
        if event == "schedule":  # follow the repository's training jobs (HF Jobs send no webhook)
            _poll_repository(env, settings)
        else:
            handler(event, payload, settings=settings)
    except Exception:  # noqa: BLE001 -- any failure becomes a failed step with a redacted trace
        print(f"ml-intern-bot: handling {event} failed:\n{redact(traceback.format_exc(), settings)}", file=sys.stderr)
        return 1
    return 0


def _poll_repository(env: Mapping[str, str], settings: Settings) -> None:
    from bot.shell.follow import poll_training_issues

    repo = env.get("GITHUB_REPOSITORY", "")
    numbers = poll_training_issues(repo, settings=settings)
    print(f"ml-intern-bot: followed the training jobs of {len(numbers)} issue(s) in {repo}")


if __name__ == "__main__":
    raise SystemExit(main())
