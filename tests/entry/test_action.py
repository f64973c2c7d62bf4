"""The Action entrypoint, as the runner calls it: event name and file from the environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.edge import action

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghs_action_token_for_tests"


class Recorder:
    def __init__(self, error: Exception | None = None):
        self.calls: list[tuple[str, dict, Settings]] = []
        self.error = error

    def __call__(self, event_name, payload, *, settings):
        self.calls.append((event_name, payload, settings))
        if self.error:
            raise self.error


def runner_env(tmp_path: Path, payload="default", **extra) -> dict[str, str]:
    """The variables a GitHub-hosted runner sets for an `issue_comment` job."""
    event_file = tmp_path / "event.json"
    if payload == "default":
        payload = {"action": "created", "issue": {"number": 3}, "comment": {"body": "/status"}}
    if payload is not None:
        event_file.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    env = {
        "GITHUB_EVENT_NAME": "issue_comment",
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": "https://ghes.example/api/v3/",
        "ML_INTERN_WORKDIR": str(tmp_path / "work"),
    }
    env.update(extra)
    return env


def test_hands_the_event_and_settings_to_the_handler(tmp_path):
    handler = Recorder()
    assert action.main(runner_env(tmp_path, HF_TOKEN="hf_x"), handler=handler) == 0
    [(name, payload, settings)] = handler.calls
    assert name == "issue_comment"
    assert payload["comment"]["body"] == "/status"
    assert settings.github_token == TOKEN and settings.hf_token == "hf_x"
    assert settings.github_api_url == "https://ghes.example/api/v3"


@pytest.mark.parametrize("missing", ["GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"])
def test_missing_runner_variables_exit_2_with_a_clear_message(tmp_path, capsys, missing):
    env = runner_env(tmp_path)
    del env[missing]
    handler = Recorder()
    assert action.main(env, handler=handler) == 2
    assert "GITHUB_EVENT_NAME and GITHUB_EVENT_PATH must be set" in capsys.readouterr().err
    assert handler.calls == []


def test_unreadable_event_file_exits_2(tmp_path, capsys):
    assert action.main(runner_env(tmp_path, payload=None), handler=Recorder()) == 2
    assert "cannot read the event file" in capsys.readouterr().err


@pytest.mark.parametrize("text", ['{"action": ', "[1, 2]"])
def test_malformed_event_file_exits_2(tmp_path, capsys, text):
    handler = Recorder()
    assert action.main(runner_env(tmp_path, payload=text), handler=handler) == 2
    err = capsys.readouterr().err
    assert "is not valid JSON" in err or "does not hold a JSON object" in err
    assert handler.calls == []


def test_missing_token_exits_2_and_says_how_to_fix_it(tmp_path, capsys):
    handler = Recorder()
    assert action.main(runner_env(tmp_path, GITHUB_TOKEN=""), handler=handler) == 2
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err
    assert handler.calls == []


def test_a_handler_crash_fails_the_step_without_printing_the_token(tmp_path, capsys):
    handler = Recorder(error=RuntimeError(f"401 for token {TOKEN}"))
    assert action.main(runner_env(tmp_path), handler=handler) == 1
    err = capsys.readouterr().err
    assert "handling issue_comment failed" in err and "RuntimeError" in err
    assert TOKEN not in err


def test_module_entrypoint_reports_a_missing_event_to_stderr(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "bot.edge.action"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "GITHUB_EVENT_NAME and GITHUB_EVENT_PATH must be set" in done.stderr
