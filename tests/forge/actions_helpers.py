"""Helpers shared by the Actions tests: a repository holding given workflows, webhook schema checks."""

from __future__ import annotations

import json
import time
from pathlib import Path

from jsonschema import Draft7Validator

from bot.forge.store import Forge
from tests.forge.conftest import SHARED_GITHUB

ACTION_EVENTS = ["workflow_dispatch", "workflow_run", "workflow_job"]


def actions_repo(forge: Forge, name: str, files: dict[str, str | bytes]) -> str:
    """A repository `acme/<name>` holding `files`, where ml-intern[bot] may dispatch; returns its full name."""
    full = f"acme/{name}"
    forge.create_repo(full, owner_type="Organization", files=files)
    forge.set_permission(full, "ml-intern[bot]", "write")
    forge.set_permission(full, "reader", "read")
    return full


def webhook_definitions() -> dict:
    return json.loads((SHARED_GITHUB / "webhooks-schema.json").read_text())["definitions"]


def validate_webhook(definitions: dict, event: str, payload: dict) -> None:
    """Draft-7 validation against `#/definitions/<event>$<action>` (`$event` for action-less events)."""
    root = {"$ref": f"#/definitions/{event}${payload.get('action', 'event')}", "definitions": definitions}
    errors = sorted(Draft7Validator(root).iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, f"{event}.{payload.get('action')}: " + "; ".join(
        f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])


def wait_for(predicate, timeout: float = 20, what: str = "condition"):
    """Poll until `predicate()` is truthy; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def process_gone(pid: int) -> bool:
    """No such process, or only a zombie left for init to reap (it runs nothing any more)."""
    status = Path(f"/proc/{pid}/status")
    try:
        text = status.read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    state = next((line.split()[1] for line in text.splitlines() if line.startswith("State:")), "")
    return state in ("Z", "X")
