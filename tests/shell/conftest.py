"""Fixtures for the shell tests: the fake repository, real Settings in a temporary workdir, `handle_event`
wired to the fake, and slow steps whose ML is stubbed (research answers at once, nothing trains)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.config import Settings
from bot.core import effects as fx
from bot.shell import executor, handler
from bot.shell.executor import Executor
from bot.writing import smoke
from tests.shell.fake_github import FakeRepository
from tests.shell.support import BOT, MAINTAINER, PLAN, READER, RESEARCH, FakeBackend, labeled

Deliver = Callable[[tuple[str, dict]], None]


@pytest.fixture
def github() -> FakeRepository:
    fake = FakeRepository(BOT)
    fake.permissions.update({MAINTAINER: "write", READER: "read"})
    return fake


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(bot_login=BOT, workdir=tmp_path / "workdir", hf_token="hf_" + "Zq7" * 8)


@pytest.fixture
def deliver(github, settings, monkeypatch) -> Deliver:
    """A delivery handled as the server and the Action handle it (`handle_event`), against the fake."""
    monkeypatch.setattr(handler, "connect", lambda _settings: None)
    monkeypatch.setattr(handler, "RepoClient", lambda _gh, _repo, _login: github)
    return lambda delivery: handler.handle_event(*delivery, settings=settings)


@dataclass
class SlowSteps:
    researched: list[fx.Research] = field(default_factory=list)
    research_error: Exception | None = None
    smoke_tests: int = 0
    backend: FakeBackend = field(default_factory=FakeBackend)
    during_research: Callable[[], Any] | None = None


@pytest.fixture
def slow(monkeypatch) -> SlowSteps:
    """Research returns PLAN, the smoke test passes, training jobs go to FakeBackend; the PR is opened for real."""
    steps = SlowSteps()

    def research(self: Executor, effect: fx.Research) -> fx.Outcome:
        steps.researched.append(effect)
        if steps.during_research:
            steps.during_research()
        if steps.research_error:
            raise steps.research_error
        return fx.Planned(PLAN, RESEARCH)

    def smoke_test(files, workdir, **_kwargs) -> smoke.SmokeResult:
        steps.smoke_tests += 1
        assert {"train.py", "evaluate.py", "config.yaml"} <= set(files)
        return smoke.SmokeResult(ok=True, seconds=0.5, summary="train.py --smoke: 2 steps", log_tail="")

    monkeypatch.setattr(Executor, "research", research)
    monkeypatch.setattr(smoke, "smoke_test", smoke_test)
    monkeypatch.setattr(executor, "backend_named", lambda *_args: steps.backend)
    return steps


@pytest.fixture
def planned(github, deliver, slow) -> tuple[int, int]:
    """An issue labelled `ml-intern` whose plan is posted and whose PR is open: (issue, PR)."""
    issue = github.open_issue("Label support tickets", "Route tickets by issue type.")
    deliver(labeled(github, issue, "ml-intern"))
    state = github.stored_state(issue)
    assert state.phase.value == "planned" and state.pr_number, github.status_body(issue)
    return issue, state.pr_number
