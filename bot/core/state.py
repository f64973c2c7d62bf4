"""Issue state, stored as a hidden JSON marker in the bot's sticky status comment."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from bot.core.records import Publication, Run

MARKER_PREFIX = "<!-- ml-intern:state "
_MARKER = re.compile(r"<!-- ml-intern:state (\{.*?\}) -->", re.DOTALL)
HANDLED_KEEP = 100  # comment ids remembered so a redelivered command runs once


class Phase(str, Enum):
    NEW = "new"
    PLANNED = "planned"
    TRAINING = "training"
    TRAINED = "trained"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return f"ml-intern:{self.value}"


PHASE_LABELS = {phase.label for phase in Phase}


@dataclass
class IssueState:
    phase: Phase = Phase.NEW
    activity: str = ""  # what the bot is doing right now, shown in the status comment
    plan: dict[str, Any] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    pr_number: int | None = None
    branch: str | None = None
    head_sha: str | None = None  # last PR head the bot has seen
    tested_sha: str | None = None  # the commit the bot smoke-tested and announced: what a bare /approve-train means
    tested_at: str | None = None  # when that commit was made (GitHub's clock), to spot approvals typed before it
    approved_sha: str | None = None
    approved_by: str | None = None
    approved_untested: bool = False  # approved with `/approve-train <sha>` for a commit the bot did not smoke-test
    job: dict[str, str] | None = None  # the training job in flight (runners.base.JobRef + "sha"): polled until it ends
    notice: str = ""  # a standing remark for the status comment, e.g. that a cancelled job's billing stopped
    run: Run | None = None  # the last finished run of the approved commit
    published: Publication | None = None
    failed_step: str | None = None  # research | smoke | training | publish
    error: str | None = None
    attempts: int = 0
    handled: list[int] = field(default_factory=list)
    lease: dict[str, Any] | None = None  # the slow step in flight: {"step", "holder", "token", "since", "beat"}
    interrupted: dict[str, Any] | None = None  # {"step", "since"}: its holder died; `/retry` resumes it
    columns: list[str] = field(default_factory=list)  # the planned dataset's columns, to check `/plan label=` at once
    version: int = 0  # bumped on every save, so a writer that read an older state cannot overwrite a newer one

    def to_json(self) -> str:
        data = asdict(self)
        data["phase"] = self.phase.value
        # '>' is escaped so no string can close the HTML comment early.
        return json.dumps(data, sort_keys=True, separators=(",", ":")).replace(">", "\\u003e")

    @classmethod
    def from_json(cls, text: str) -> IssueState:
        data = json.loads(text)
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        known["phase"] = Phase(known.get("phase", "new"))
        if known.get("run"):
            known["run"] = Run.from_dict(known["run"])
        if known.get("published"):
            known["published"] = Publication.from_dict(known["published"])
        return cls(**known)

    def remember(self, comment_id: int) -> None:
        self.handled = [*self.handled, comment_id][-HANDLED_KEEP:]


def encode_marker(state: IssueState) -> str:
    return f"{MARKER_PREFIX}{state.to_json()} -->"


def status_comment(state: IssueState, rendered: str) -> str:
    """The sticky status comment: the hidden state, then what people read."""
    return f"{encode_marker(state)}\n{rendered}"


def label_changes(state: IssueState, current: set[str]) -> tuple[set[str], set[str]]:
    """(labels to add, labels to remove) so the phase labels mirror the state; a stray one is never trusted."""
    wanted = state.phase.label
    return {wanted} - current, (current & PHASE_LABELS) - {wanted}


def decode_marker(body: str) -> IssueState | None:
    """The state in a comment body, or None when it carries no (valid) marker."""
    match = _MARKER.search(body or "")
    if not match:
        return None
    try:
        return IssueState.from_json(match.group(1))
    except (ValueError, TypeError):
        return None
