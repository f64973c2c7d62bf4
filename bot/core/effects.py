"""Effects: what the core asks the adapters to do. Results come back as Outcome events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.records import Publication, Run


@dataclass(frozen=True)
class React:
    content: str  # GitHub reaction name: eyes, +1, -1, rocket, confused
    comment_id: int | None = None  # None = the issue itself


@dataclass(frozen=True)
class Reply:
    """A new comment, keyed so a retried delivery never posts it twice."""

    key: str
    body: str
    on: int | None = None  # the issue or PR where the command was typed; None = the goal issue


@dataclass(frozen=True)
class Sticky:
    """A comment edited in place: the plan or the report."""

    kind: str  # plan | report
    body: str


@dataclass(frozen=True)
class Research:
    goal: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenPullRequest:
    plan: dict[str, Any]
    research: dict[str, Any]


@dataclass(frozen=True)
class Train:
    """Submit the approved commit as a job on the plan's compute; the job's result arrives later."""

    sha: str
    plan: dict[str, Any]


@dataclass(frozen=True)
class Collect:
    """The job ended: read its outcome and fetch its outputs (metrics, model) from wherever it ran."""

    sha: str
    job: dict[str, str]


@dataclass(frozen=True)
class Publish:
    sha: str
    plan: dict[str, Any]
    run: Run


@dataclass(frozen=True)
class CancelRun:
    """Stop the job, wait (briefly) until its backend confirms it stopped, and say what it cost."""

    job: dict[str, str]


Effect = React | Reply | Sticky | Research | OpenPullRequest | Train | Collect | Publish | CancelRun


# Outcomes: the results of slow effects, fed back into the machine as events.
@dataclass(frozen=True)
class Planned:
    plan: dict[str, Any]
    research: dict[str, Any]  # inspection, baseline and estimate, for the plan comment


@dataclass(frozen=True)
class PullRequestReady:
    pr_number: int
    branch: str
    head_sha: str
    smoke: dict[str, Any]
    tested_at: str = ""  # the commit's time on GitHub's clock


@dataclass(frozen=True)
class Trained:
    sha: str
    run: Run  # kept in the state marker
    metrics: dict[str, Any]  # evaluate.py's metrics.json, for the report comment


@dataclass(frozen=True)
class Published:
    sha: str
    published: Publication


@dataclass(frozen=True)
class Progress:
    activity: str


@dataclass(frozen=True)
class StepFailed:
    step: str  # research | smoke | training | publish
    message: str
    log_tail: str = ""


@dataclass(frozen=True)
class Stopped:
    """A slow step ended early on purpose (a `/cancel` stopped the run); no result to record."""

    activity: str


@dataclass(frozen=True)
class Interrupted:
    """The process working on `step` died (its lease lapsed) before reporting an outcome."""

    step: str
    since: str  # the lease's last heartbeat


@dataclass(frozen=True)
class RunSubmitted:
    """The backend accepted the job: its handle (JobRef.to_dict()) goes into the state."""

    sha: str
    job: dict[str, str]


@dataclass(frozen=True)
class JobEnded:
    """A cancelled job's last word from its backend: how it ended and what it cost."""

    job_id: str
    stage: str
    seconds: float
    cost_usd: float | None


Outcome = (Planned | PullRequestReady | RunSubmitted | Trained | Published | Progress | StepFailed | Stopped
           | Interrupted | JobEnded)
SLOW = (Research, OpenPullRequest, Train, Collect, Publish, CancelRun)  # effects that run for a while under a lease
