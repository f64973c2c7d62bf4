"""The Action mode from start to finish: every event is handled by `ml-intern-bot handle-event` in a process of
its own with an empty workdir, as on a fresh GitHub-hosted runner each time, for exactly the events
`.github/workflows/ml-intern.yml` subscribes to. Training is the repository's real train.yml, run by the
forge's Actions emulation; its `workflow_run` event brings the result back, and `/approve-publish`, on yet
another fresh runner, publishes from the run's artifact.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bot.core.state import Phase, decode_marker
from bot.forge.server import ForgeServer
from bot.forge.store import Forge
from bot.playground.world import TRAIN_YML, repo_config

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "ml-intern.yml").read_text())
TRIGGERS = {event: set(spec.get("types") or []) if isinstance(spec, dict) else set()  # its `on:` (schedule: a list)
            for event, spec in WORKFLOW[True].items()}
REPO, BOT = "acme/support-bot", "ml-intern[bot]"
PLAN = {"max_train_rows": 300, "epochs": 1, "budget_minutes": 2, "hardware": "actions-cpu"}


class Runners:
    """Runs the Action for each new delivery the workflow would be triggered by, one fresh runner each."""

    def __init__(self, forge: Forge, api_url: str, token: str, root: Path, data_dir: Path):
        self.forge, self.root, self.seen, self.runs = forge, root, 0, itertools.count(1)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ML_INTERN_"))}
        self.env.update(GITHUB_TOKEN=token, GITHUB_API_URL=api_url, GITHUB_REPOSITORY=REPO,
                        ML_INTERN_BOT_LOGIN=BOT, ML_INTERN_DATA_DIR=str(data_dir),
                        ML_INTERN_PUBLISH_TARGET=str(root / "published"))
        self.handled: list[str] = []

    def catch_up(self) -> None:
        self.forge.wait_for_deliveries(timeout=30)
        deliveries = self.forge.deliveries()
        for delivery in deliveries[self.seen:]:
            if self._triggers(delivery):
                self._run(delivery["event"], delivery["payload"])
        self.seen = len(deliveries)

    @staticmethod
    def _triggers(delivery: dict) -> bool:
        types = TRIGGERS.get(delivery["event"])
        if types is None:
            return False
        if delivery["event"] == "workflow_run" and delivery["payload"]["workflow_run"]["name"] not in ("train",):
            return False
        return not types or delivery["payload"].get("action") in types

    def _run(self, event: str, payload: dict) -> None:
        runner = self.root / f"runner-{next(self.runs)}"
        runner.mkdir()
        (runner / "event.json").write_text(json.dumps(payload))
        env = {**self.env, "GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(runner / "event.json"),
               "ML_INTERN_WORKDIR": str(runner / "workdir")}
        done = subprocess.run([sys.executable, "-m", "bot.cli", "handle-event"], env=env, capture_output=True,
                              text=True, timeout=600, cwd=runner)
        assert done.returncode == 0, f"{event}: {done.stderr[-3000:]}"
        self.handled.append(f"{event}.{payload.get('action')}")


def state(repo, number: int):
    return next(s for c in repo.get_issue(number).get_comments() if (s := decode_marker(c.body)))


def test_the_loop_finishes_with_every_event_on_a_fresh_runner(tmp_path, bitext_sample, hf_home):
    from github import Auth, Github

    forge = Forge(tmp_path / "forge")
    tokens = {login: forge.add_user(login) for login in ("alice", "maintainer")}
    tokens[BOT] = forge.add_user(BOT, type="Bot")
    forge.create_repo(REPO, owner_type="Organization", default_branch="main", files={
        "README.md": "# Support bot\n", ".github/workflows/train.yml": TRAIN_YML.read_text(),
        ".github/ml-intern.yml": repo_config(str(bitext_sample), **PLAN)})
    for login, role in {"alice": "read", "maintainer": "write", BOT: "write"}.items():
        forge.set_permission(REPO, login, role)
    forge.actions.extra_env.update(PIP_NO_INDEX="1")
    forge.add_hook(REPO, url="http://127.0.0.1:9/recorded-only", events=list(TRIGGERS))  # the forge keeps payloads
    with ForgeServer(forge) as server:
        runners = Runners(forge, server.api_url, tokens[BOT], tmp_path, bitext_sample.parent)
        github = {login: Github(auth=Auth.Token(tokens[login]), base_url=server.api_url,
                                seconds_between_requests=None, seconds_between_writes=None).get_repo(REPO)
                  for login in ("alice", "maintainer")}
        number = github["alice"].create_issue(title="Classify tickets", body="Label support tickets by type.").number
        github["maintainer"].get_issue(number).add_to_labels("ml-intern")
        runners.catch_up()
        assert state(github["alice"], number).phase == Phase.PLANNED

        github["maintainer"].get_issue(number).create_comment("/approve-train")
        runners.catch_up()
        job = state(github["alice"], number).job
        assert job["backend"] == "actions"
        run = github["maintainer"].get_workflow_run(int(job["id"]))
        deadline = time.monotonic() + 600
        while run.status != "completed":
            assert time.monotonic() < deadline, "train.yml never finished"
            time.sleep(2)
            run = github["maintainer"].get_workflow_run(int(job["id"]))
        assert run.conclusion == "success"
        runners.catch_up()  # its workflow_run event, on a fresh runner
        trained = state(github["alice"], number)
        assert trained.phase == Phase.TRAINED and trained.run.job["id"] == job["id"], trained.error
        report = next(c.body for c in github["alice"].get_issue(number).get_comments() if "ml-intern:report" in c.body)
        assert "trained on GitHub Actions" in report and "cost $0.00" in report
        assert f"ml-intern-issue-{number}-{trained.approved_sha}" in report and run.html_url in report

        github["maintainer"].get_issue(number).create_comment("/approve-publish")
        runners.catch_up()
        published = state(github["alice"], number)
    assert published.phase == Phase.PUBLISHED, published.error
    model = tmp_path / "published" / "models" / f"acme/support-bot-issue-{number}"
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in model.iterdir()}
    assert "workflow_run.completed" in runners.handled and len(set(tmp_path.glob("runner-*"))) == len(runners.handled)
