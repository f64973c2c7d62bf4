"""What every runner (local process, GitHub Actions, Hugging Face Jobs) promises the bot.

Two shapes. `Runner` runs the scripts here and now (the smoke test, and the process a local job
lives in). `Backend` is training as a job: `submit` returns a `JobRef` at once (kept in the issue's
state marker), `status` says how the job is doing, `cancel` stops it and `fetch` brings its outputs
(docs/ARTIFACTS.md layout) into a folder, on any machine, minutes or days later. Script failures are
results, never exceptions: the bot turns them into a comment that says what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

Status = Literal["succeeded", "failed", "timed_out", "cancelled", "interrupted"]
ProgressCallback = Callable[[dict], None]

# Secrets the generated scripts must never see (ARCHITECTURE.md principle 5): named ones, plus any
# variable whose name says it holds a token, secret, password, credential or key.
SECRET_NAMES = {
    "GITHUB_TOKEN", "GH_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "ANTHROPIC_API_KEY",
    "GITHUB_WEBHOOK_SECRET", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
}
SECRET_PATTERN = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|_KEY$|^KEY$")


@dataclass
class RunResult:
    """How a training run ended; metrics is metrics.json when evaluation finished."""

    ok: bool
    status: Status
    out_dir: Path
    metrics: dict | None
    log_tail: str
    seconds: float
    message: str = ""  # the scripts' last {"event": "error"} message, or why the runner stopped
    events: list[dict] = field(default_factory=list, repr=False)


class Runner(Protocol):
    """Runs the scripts in src_dir, writing artifacts to out_dir."""

    def run(
        self,
        src_dir: Path,
        out_dir: Path,
        *,
        budget_s: float,
        on_progress: ProgressCallback | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RunResult: ...

    def cancel(self) -> None: ...


# --- training as a job --------------------------------------------------------------------------

Stage = Literal["queued", "running", "succeeded", "failed", "timed_out", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "timed_out", "cancelled"})


class BackendError(RuntimeError):
    """The backend refused or could not be reached; the message says what to do (shown to users)."""


@dataclass(frozen=True)
class RunRequest:
    """One approved commit to train: where its scripts are and what it may spend."""

    repo: str  # owner/name on GitHub
    issue: int
    sha: str  # the approved commit, 40 hex digits: the only code a job may run
    folder: str  # the scripts' folder inside the repository, e.g. ml-intern/issue-7
    source: Path  # a checkout of the repository at `sha` holding `folder` (and in-repo data beside it)
    budget_s: float  # wall-clock limit for train.py + evaluate.py together
    hardware: str  # the plan's hardware: local-cpu | actions-cpu | hf-cpu-basic | hf-t4-small | ...
    env: Mapping[str, str] = field(default_factory=dict)  # extra, non-secret variables for the scripts


@dataclass(frozen=True)
class JobRef:
    """A submitted job as the state marker keeps it: never a server path, never a secret."""

    backend: str  # local | actions | hf-jobs
    id: str
    url: str = ""  # where a person can watch it ("" when there is no page, as for local jobs)
    artifacts: str = ""  # where its outputs will be (an artifact name, a Hub repo), for the report

    def to_dict(self) -> dict[str, str]:
        return {"backend": self.backend, "id": self.id, "url": self.url, "artifacts": self.artifacts}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> JobRef:
        return cls(**{k: str(v) for k, v in data.items() if k in ("backend", "id", "url", "artifacts")})


@dataclass
class JobStatus:
    """How a job is doing; `events` are train.py's JSON progress lines seen so far, oldest first."""

    stage: Stage
    message: str = ""  # why it ended when it did not succeed ("Job timeout after 600s", the script's error)
    seconds: float = 0.0  # run time so far, or in all once ended
    cost_usd: float | None = None  # what it cost so far (0.0 for free compute; None when unknown)
    events: list[dict] = field(default_factory=list)
    log_tail: str = ""

    @property
    def ended(self) -> bool:
        return self.stage in TERMINAL


class Backend(Protocol):
    """Training on some compute, as an asynchronous job."""

    name: str

    def submit(self, request: RunRequest) -> JobRef: ...

    def status(self, job: JobRef) -> JobStatus: ...

    def cancel(self, job: JobRef) -> None: ...

    def fetch(self, job: JobRef, dest: Path) -> Path:
        """Download the job's outputs into `dest` (created); returns the folder holding metrics.json."""
        ...


def is_secret(name: str) -> bool:
    """True for environment variables that may hold credentials."""
    upper = name.upper()
    return upper in SECRET_NAMES or bool(SECRET_PATTERN.search(upper))


def scrub_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of env (default: os.environ) without any credential, for untrusted generated code."""
    source = os.environ if env is None else env
    return {k: v for k, v in source.items() if not is_secret(k)}


def with_dataset(env: Mapping[str, str], src_dir: Path) -> dict[str, str]:
    """`env` plus ML_INTERN_DATASET, train.py's data override, when the scripts' config.yaml names a
    catalogued Hub data set whose offline copy is in a data dir: the PR names only the Hub ID (it runs
    anywhere), and runs on this machine read the copy research read. Unchanged when the variable is set
    already (a repository file's copy), or config.yaml names anything else."""
    if "ML_INTERN_DATASET" in env:
        return dict(env)
    import yaml

    from bot.research.data import offline_copy

    try:
        config = yaml.safe_load((Path(src_dir) / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return dict(env)
    dataset = config.get("dataset") if isinstance(config, dict) else None
    local = offline_copy(dataset) if isinstance(dataset, str) else None
    return {**env, "ML_INTERN_DATASET": str(local)} if local else dict(env)
