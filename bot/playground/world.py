"""A complete offline world: the local forge, the bot's webhook server, and people who use it.

The demo and the end-to-end tests both stand on this, so the tests exercise what users see.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from github import Auth, Github

from bot.config import Settings
from bot.core.state import IssueState, Phase, decode_marker

if TYPE_CHECKING:  # imported where the world starts: the web stack and the forge load only when used
    from fastapi import FastAPI

    from bot.forge.store import Forge

REPO = "acme/support-bot"
BOT_LOGIN = "ml-intern[bot]"
PEOPLE = {"alice": "read", "maintainer": "write", "reader": "read"}
OTHER_BOT = "helper[bot]"  # another app with write access: its commands must still be refused


@dataclass
class World:
    forge_url: str
    api_url: str
    bot_url: str
    tokens: dict[str, str]
    settings: Settings
    bot_app: FastAPI
    forge: Forge
    hub_url: str | None = None  # the local Hub, when the world has one
    _clients: dict[str, Github] = field(default_factory=dict)

    def as_user(self, login: str):
        """The repository as `login` sees it through PyGithub."""
        if login not in self._clients:
            self._clients[login] = Github(auth=Auth.Token(self.tokens[login]), base_url=self.api_url,
                                          seconds_between_requests=None, seconds_between_writes=None, retry=0)
        return self._clients[login].get_repo(REPO)

    def state(self, number: int) -> IssueState:
        """The bot's state for an issue, read back from its status comment like any process would."""
        issue = self.as_user("maintainer").get_issue(number)
        for c in issue.get_comments():
            if c.user.login == BOT_LOGIN and (found := decode_marker(c.body)):
                return found
        return IssueState()

    def settle(self, timeout: float = 600) -> None:
        """Wait until every webhook is delivered and the bot has handled it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.forge.wait_for_deliveries(timeout=max(1.0, deadline - time.monotonic()))
            if self.bot_app.state.workers.join(timeout=0.5) and self.forge.wait_for_deliveries(timeout=0.1):
                return
        raise TimeoutError("the bot did not finish within the time limit")

    def wait_for(self, number: int, phases: set[Phase], timeout: float = 600, on_activity=None) -> IssueState:
        """Poll the status comment until the phase is one of `phases` with nothing in progress."""
        deadline, seen = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            state = self.state(number)
            if on_activity and state.activity and state.activity != seen:
                seen = state.activity
                on_activity(state.activity)
            if state.phase in phases and not state.activity:
                return state
            time.sleep(1.0)
        raise TimeoutError(f"issue #{number} did not reach {sorted(p.value for p in phases)} in {timeout:.0f} s")

    def status_body(self, number: int) -> str:
        """The bot's status comment on the issue, as people read it."""
        return next((body for body in self.bot_comments(number) if decode_marker(body)), "")

    def bot_comments(self, number: int) -> list[str]:
        return [c.body for c in self.as_user("maintainer").get_issue(number).get_comments()
                if c.user.login == BOT_LOGIN]


def repo_config(dataset: str, **plan: object) -> str:
    return yaml.safe_dump({"dataset": dataset, **plan}, sort_keys=False)


def allow_data_folder(dataset: str) -> None:
    """The operator chose this local file for the playground: let the bot read its folder (ML_INTERN_DATA_DIR)."""
    path = Path(dataset)
    if not path.is_absolute() or not path.exists():
        return
    folder = str(path if path.is_dir() else path.parent)
    listed = [entry for entry in os.environ.get("ML_INTERN_DATA_DIR", "").split(os.pathsep) if entry]
    if folder not in listed:
        os.environ["ML_INTERN_DATA_DIR"] = os.pathsep.join([*listed, folder])


RUNNERS = {"local": "local-cpu", "actions": "actions-cpu", "hf-jobs": "hf-cpu-basic"}  # --runner -> hardware
TRAIN_YML = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "train.yml"


@contextlib.contextmanager
def world(root: Path, dataset: str, plan: dict | None = None, *, runner: str = "local", hub_port: int | None = None):
    """Start the forge and the bot on free local ports (and, given `hub_port`, a local Hugging Face Hub there,
    to publish to and run HF Jobs on); training runs on `runner`. Yields a World; stops everything after."""
    from bot.edge.server import create_app
    from bot.forge.server import ForgeServer
    from bot.forge.store import Forge
    from bot.playground.serving import ServerThread
    from bot.research.data import catalog_entry_for_path

    for name in ("forge", "bot", "hub"):
        shutil.rmtree(root / name, ignore_errors=True)
    allow_data_folder(dataset)
    forge = Forge(root / "forge")
    tokens = {login: forge.add_user(login) for login in PEOPLE}
    tokens[BOT_LOGIN] = forge.add_user(BOT_LOGIN, type="Bot")
    tokens[OTHER_BOT] = forge.add_user(OTHER_BOT, type="Bot")
    forge.create_repo(REPO, owner_type="Organization", default_branch="main",
                      files=_repo_files(dataset, {**(plan or {}), **_runner_plan(runner)}))
    for login, permission in {**PEOPLE, BOT_LOGIN: "write", OTHER_BOT: "write"}.items():
        forge.set_permission(REPO, login, permission)
    forge.actions.extra_env.update(PIP_NO_INDEX="1")  # offline: train.yml's installs find what is installed
    catalogued = catalog_entry_for_path(Path(dataset)) if Path(dataset).exists() else None
    if catalogued:
        # config.yaml names the Hub ID; offline, the emulated runner reads the copy where GitHub's would download it
        forge.actions.extra_env.update(ML_INTERN_DATASET=str(Path(dataset).resolve()))
    secret = secrets.token_hex(16)
    with ForgeServer(forge) as forge_server, _local_hub(root / "hub", hub_port, dataset, catalogued) as local_hub:
        settings = Settings(github_token=tokens[BOT_LOGIN], github_api_url=forge_server.api_url,
                            webhook_secret=secret, bot_login=BOT_LOGIN, workdir=root / "bot", poll_s=2.0,
                            **(local_hub.settings if local_hub else {"publish_target": root / "hub"}))
        app = create_app(settings)
        with ServerThread(app) as bot_server:
            forge.add_hook(REPO, url=f"{bot_server.url}/webhook", secret=secret,
                           events=["issues", "issue_comment", "pull_request", "workflow_run"])
            yield World(forge_server.url, forge_server.api_url, bot_server.url, tokens, settings, app, forge,
                        hub_url=local_hub.url if local_hub else None)


def _runner_plan(runner: str) -> dict:
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}: choose one of {', '.join(RUNNERS)}")
    return {"hardware": RUNNERS[runner], **({"max_cost_usd": 1} if runner == "hf-jobs" else {})}


def _repo_files(dataset: str, plan: dict) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {"README.md": "# Support bot\n\nCustomer-support tooling.\n",
                                     ".github/ml-intern.yml": repo_config(dataset, **plan)}
    if plan.get("hardware") == "actions-cpu":
        files[".github/workflows/train.yml"] = TRAIN_YML.read_text(encoding="utf-8")
    return files


@dataclass
class LocalHub:
    url: str
    token: str

    @property
    def settings(self) -> dict:
        return {"hf_token": self.token, "hf_endpoint": self.url, "hf_namespace": "acme"}


@contextlib.contextmanager
def _local_hub(root: Path, port: int | None, dataset: str, entry: dict | None):
    """The playground's Hugging Face Hub on `port`, or None. It holds the default model and, when `dataset` is
    the offline copy of a catalogued Hub data set (`entry`, its catalog entry), that data set under its Hub ID: config.yaml names the Hub
    ID, so jobs that run away from the bot's data dirs (HF Jobs, Actions) download both from here."""
    if port is None:
        yield None
        return
    from bot.hub import HubServer, HubStore
    from bot.hub.repos import Repos
    from bot.research.models import MODEL_ID, package_model_path

    store = HubStore(root)
    packaged = package_model_path()
    if packaged is not None:
        Repos(store).import_folder("model", MODEL_ID, packaged, MODEL_ID.split("/")[0])
    if entry is not None:
        Repos(store).import_folder("dataset", entry["hub_id"], Path(dataset), entry["hub_id"].split("/")[0])
    token = store.add_token("ml-intern", ("acme",))
    server = HubServer(store, port=port).start()
    try:
        yield LocalHub(server.url, token)
    finally:
        server.stop()
