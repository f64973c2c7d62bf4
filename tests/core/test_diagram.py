"""The README's state diagram is the machine: every phase × command or outcome, compared edge by edge."""

import re
from pathlib import Path

from bot.core import effects as fx
from bot.core.commands import COMMANDS, parse_commands
from bot.core.events import Actor, CommentEvent, Facts, PushEvent
from bot.core.machine import step
from bot.core.records import Publication, Run
from bot.core.state import IssueState, Phase

README = Path(__file__).resolve().parents[2] / "README.md"
HEAD, PUSHED = "a" * 40, "b" * 40
PLAN = {"goal": "g", "dataset": "d", "text_column": "t", "label_column": "l", "labels": ["x", "y"]}
RUN = Run(sha=HEAD, status="succeeded")
# The outcomes each phase's slow step can report (research and smoke in `new`, the run in `training`,
# publishing in `trained`), so the walk only makes moves the bot can really make.
OUTCOMES = {
    Phase.NEW: [fx.PullRequestReady(2, "ml-intern/issue-1", HEAD, {}), fx.StepFailed("research", "m"),
                fx.StepFailed("smoke", "m"), fx.Interrupted("research", "t")],
    Phase.TRAINING: [fx.Trained(HEAD, RUN, {}), fx.StepFailed("training", "m"), fx.Interrupted("training", "t")],
    Phase.TRAINED: [fx.Published(HEAD, {"sha": HEAD}), fx.StepFailed("publish", "m")],
}


def state_in(phase: Phase, failed_step: str = "training") -> IssueState:
    """A typical issue in `phase`: a plan, a smoke-tested PR, and an approval and a run where they exist."""
    state = IssueState(phase=phase, plan=PLAN, pr_number=2, branch="ml-intern/issue-1", head_sha=HEAD,
                       tested_sha=HEAD, tested_at="2026-01-01T00:00:00Z")
    if phase in (Phase.TRAINING, Phase.TRAINED, Phase.PUBLISHED, Phase.FAILED):
        state.approved_sha, state.approved_by = HEAD, "maintainer"
    if phase in (Phase.TRAINED, Phase.PUBLISHED) or (phase == Phase.FAILED and failed_step == "publish"):
        state.run = RUN
    if phase == Phase.PUBLISHED:
        state.published = Publication(HEAD, "acme/m", "acme/s")
    if phase == Phase.FAILED:
        state.failed_step = failed_step
    return state


def command(name: str, n: int) -> CommentEvent:
    return CommentEvent("acme/r", 1, n, f"/{name}", Actor("maintainer"), False, "Classify tickets",
                        "label support tickets by type", created_at="2026-01-02T00:00:00Z",
                        commands=tuple(parse_commands(f"/{name}")))


def machine_edges() -> set[tuple[str, str]]:
    edges = {("[*]", Phase.NEW.value)}
    starts = [state_in(phase) for phase in Phase] + [state_in(Phase.FAILED, s) for s in ("research", "publish")]
    for start in starts:
        events = [command(name, n) for n, name in enumerate(COMMANDS)]
        events += [PushEvent("acme/r", 2, 1, PUSHED, Actor("mallory")), *OUTCOMES.get(start.phase, [])]
        for head in (HEAD, PUSHED):
            for event in events:
                after, _ = step(start, event, Facts("ml-intern[bot]", permission="write", pr_head_sha=head))
                if after.phase != start.phase:
                    edges.add((start.phase.value, after.phase.value))
    return edges


def readme_edges() -> set[tuple[str, str]]:
    diagram = README.read_text().split("```mermaid", 1)[1].split("```", 1)[0]
    return {(a, b) for a, b in re.findall(r"^\s*(\[\*\]|\w+) --> (\[\*\]|\w+)", diagram, re.MULTILINE)
            if b != "[*]"}


def test_the_readme_diagram_has_exactly_the_machines_transitions(monkeypatch):
    monkeypatch.setattr("bot.core.machine.render", lambda *args, **kwargs: "")  # phases only, not report bodies
    drawn, made = readme_edges(), machine_edges()
    assert made - drawn == set(), f"the machine makes moves the README does not draw: {sorted(made - drawn)}"
    assert drawn - made == set(), f"the README draws moves the machine never makes: {sorted(drawn - made)}"


def test_published_is_final():
    for name in COMMANDS:
        after, _ = step(state_in(Phase.PUBLISHED), command(name, 7), Facts("ml-intern[bot]", "write", HEAD))
        assert after.phase == Phase.PUBLISHED, f"/{name} moved a published issue"
    after, effects = step(state_in(Phase.PUBLISHED), PushEvent("acme/r", 2, 1, PUSHED, Actor("m")),
                          Facts("ml-intern[bot]", "write", PUSHED))
    assert after.phase == Phase.PUBLISHED and after.approved_sha == HEAD and effects == []
