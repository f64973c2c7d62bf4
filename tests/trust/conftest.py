"""Real processes, as a user runs them: `ml-intern-bot forge` and `ml-intern-bot serve`, wired by the CLI.

The trust tests kill, stop and race these processes; every interaction goes over HTTP (PyGithub for
people, signed webhooks for the bot). Each test records the figures it measured (deliveries lost,
commands obeyed, duplicates, ...) with `figures`, and they are printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from github import Auth, Github

from bot.core.state import IssueState, Phase, decode_marker
from bot.playground.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/support-bot"
BOT = "ml-intern[bot]"
SECRET = "trust-tests-webhook-secret"
PEOPLE = {"maintainer": "write", "mallory": "write", "alice": "read"}
TINY_PLAN = {"max_train_rows": 300, "epochs": 1, "budget_minutes": 3, "hardware": "local-cpu"}
_FIGURES: dict[str, dict] = {}


def pytest_terminal_summary(terminalreporter):
    if not _FIGURES:
        return
    terminalreporter.section("trust figures (measured against real forge and serve processes)")
    for name, values in _FIGURES.items():
        terminalreporter.write_line(f"{name}: " + ", ".join(f"{k} {v}" for k, v in values.items()))


@pytest.fixture
def figures(request):
    """Record what a test measured; printed in the run's summary."""
    found: dict = {}
    yield found
    _FIGURES[request.node.name] = found


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a process started as a user would on a fresh clone: offline, no Hub cache."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**keep, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **extra}


def run_cli(*args: str, env: dict | None = None) -> str:
    """`ml-intern-bot ARGS` to completion; its stdout."""
    done = subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env or cli_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"ml-intern-bot {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def wait_until(check, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Forge:
    """`ml-intern-bot forge --root DIR --port N` in its own process, driven through its CLI."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/api/v3"
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> str:
        return run_cli("forge", "--root", str(self.root), *args)

    def start(self) -> Forge:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "forge", "--root", str(self.root), "--port",
                                      str(self.port)], env=cli_env(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(self._up, 60, "the forge to answer")
        return self

    def _up(self) -> bool:
        assert self.proc.poll() is None, "the forge process exited"
        try:
            return httpx.get(f"{self.api_url}/rate_limit", timeout=1).status_code in (200, 401)
        except httpx.TransportError:
            return False

    def user(self, name: str, permission: str, *, bot: bool = False) -> str:
        args = ["user", "add", name, "--permission", permission, *(["--bot"] if bot else [])]
        return self.cli(*args).strip().splitlines()[-1]

    def fault(self, status: int, *, method: str = "", path: str = "", when: str = "before", times: int = 1) -> None:
        args = ["fault", "add", "--status", str(status), "--when", when, "--times", str(times)]
        self.cli(*args, *(["--method", method] if method else []), *(["--path", path] if path else []))

    def clear_faults(self) -> None:
        self.cli("fault", "clear")

    def deliveries(self) -> list[dict]:
        return json.loads(self.cli("deliveries", "--json"))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class Bot:
    """`ml-intern-bot serve` in its own process; it can be killed and started again on the same workdir."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir, self.env = workdir, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = workdir.parent / "serve.log"

    def start(self) -> Bot:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                                          str(self.port)], env=self.env, stdout=log, stderr=log)
        wait_until(self._up, 120, "the bot to answer /healthz")
        return self

    def _up(self) -> bool:
        assert self.proc.poll() is None, f"serve exited:\n{self.log.read_text()[-3000:]}"
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).json()["status"] == "ok"
        except (httpx.TransportError, ValueError):
            return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def inbox(self) -> dict[str, int]:
        """Deliveries per status, read from the bot's SQLite inbox as an operator would."""
        with sqlite3.connect(self.workdir / "deliveries.sqlite") as db:
            return dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall())

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


class World:
    """A forge and a bot, wired together the way the README tells a user to."""

    def __init__(self, root: Path, data_dir: Path, **bot_env: str):
        self.root = root
        self.forge = Forge(root / "forge").start()
        self.tokens = {name: self.forge.user(name, role) for name, role in PEOPLE.items()}
        self.tokens[BOT] = self.forge.user(BOT, "write", bot=True)
        self.bot = Bot(root / "bot", cli_env(
            GITHUB_TOKEN=self.tokens[BOT], GITHUB_API_URL=self.forge.api_url, GITHUB_WEBHOOK_SECRET=SECRET,
            ML_INTERN_BOT_LOGIN=BOT, ML_INTERN_WORKDIR=str(root / "bot"), ML_INTERN_DATA_DIR=str(data_dir),
            ML_INTERN_RETRY_BASE_S="0.5", ML_INTERN_POLL_S="1", **bot_env,
        ))  # no HF_HOME: serve lays the packaged model out itself, as on a fresh clone
        self.forge.cli("hook", "add", "--url", f"{self.bot.url}/webhook", "--secret", SECRET)
        self._clients: dict[str, Github] = {}

    def bot_settings(self):
        """The bot's own settings, for a test that looks through its eyes."""
        from bot.config import Settings

        return Settings(github_token=self.tokens[BOT], github_api_url=self.forge.api_url, bot_login=BOT)

    def repo(self, login: str):
        if login not in self._clients:
            self._clients[login] = Github(auth=Auth.Token(self.tokens[login]), base_url=self.forge.api_url,
                                          seconds_between_requests=None, seconds_between_writes=None, retry=None)
        return self._clients[login].get_repo(REPO)

    def configure(self, dataset: str, **plan) -> None:
        """The maintainer commits `.github/ml-intern.yml` to the default branch."""
        text = yaml.safe_dump({"dataset": dataset, **TINY_PLAN, **plan}, sort_keys=False)
        repo = self.repo("maintainer")
        try:
            current = repo.get_contents(".github/ml-intern.yml")
            repo.update_file(".github/ml-intern.yml", "configure ml-intern", text, current.sha)
        except Exception:  # noqa: BLE001 -- not there yet
            repo.create_file(".github/ml-intern.yml", "configure ml-intern", text)

    def comments(self, number: int) -> list:
        return list(self.repo("maintainer").get_issue(number).get_comments())

    def bot_comments(self, number: int) -> list[str]:
        return [c.body for c in self.comments(number) if c.user.login == BOT]

    def leaks_in_comments(self) -> list[str]:
        """Every comment on the forge that shows a token, the webhook secret or a terminal colour code."""
        secrets = [*self.tokens.values(), SECRET]
        found = []
        for issue in self.repo("maintainer").get_issues(state="all"):
            for comment in issue.get_comments():
                if any(secret in comment.body for secret in secrets) or "\x1b" in comment.body:
                    found.append(f"#{issue.number}: {comment.body[:80]}")
        return found

    def status_body(self, number: int) -> str:
        return next((body for body in self.bot_comments(number) if decode_marker(body)), "")

    def wait_for_reply(self, number: int, text: str, timeout: float = 120) -> str:
        """The newest bot comment containing `text`, once there is one."""
        def found():
            return next((b for b in reversed(self.bot_comments(number)) if text in b and not decode_marker(b)), None)

        return wait_until(found, timeout, f"a reply on #{number} saying {text!r}", every=0.5)

    def state(self, number: int) -> IssueState:
        for body in self.bot_comments(number):
            if found := decode_marker(body):
                return found
        return IssueState()

    def wait_for(self, number: int, phases: set[Phase], timeout: float = 300) -> IssueState:
        def settled():
            state = self.state(number)
            return state if state.phase in phases and not state.activity and not state.lease else None

        return wait_until(settled, timeout, f"#{number} to reach {sorted(p.value for p in phases)}", every=1.0)

    def wait_for_activity(self, number: int, prefix: str, timeout: float = 300) -> IssueState:
        return wait_until(lambda: (s := self.state(number)).activity.startswith(prefix) and s,
                          timeout, f"#{number} to show '{prefix}'", every=0.3)

    def close(self) -> None:
        from runners.base import JobRef
        from runners.local_jobs import LocalBackend

        if self.bot.proc and self.bot.proc.poll() is None:
            self.bot.kill(signal.SIGTERM)
        jobs = LocalBackend(self.root / "bot" / "jobs")  # local jobs outlive the bot: stop what is left
        for folder in (self.root / "bot" / "jobs").glob("*"):
            jobs.cancel(JobRef("local", folder.name))
        self.forge.stop()


@pytest.fixture(scope="module")
def trust_world(tmp_path_factory, bitext_sample):
    """A forge and a bot for one module, with a small real Bitext sample in an allow-listed data folder."""
    root = tmp_path_factory.mktemp("trust")
    data = root / "data"
    data.mkdir()
    (data / "tickets.csv").write_bytes(bitext_sample.read_bytes())
    world = World(root, data)
    world.bot.start()
    world.configure(str(data / "tickets.csv"))
    yield world
    world.close()


def planned_issue(world: World, title: str = "Classify support tickets") -> int:
    """alice files a goal; the maintainer labels it; returns the number once the PR is smoke-tested."""
    issue = world.repo("alice").create_issue(title=title, body="Label customer support tickets by issue type.")
    world.repo("maintainer").get_issue(issue.number).add_to_labels("ml-intern")
    state = world.wait_for(issue.number, {Phase.PLANNED, Phase.FAILED})
    assert state.phase == Phase.PLANNED, f"{state.failed_step}: {state.error}"
    return issue.number
