"""What every runner (local process, GitHub Actions, Hugging Face Jobs) promises the bot.

A runner executes the PR's `train.py` then `evaluate.py` (artifact layout: docs/ARTIFACTS.md),
reports JSON progress lines as they arrive, and returns a RunResult. Script
failures are results, never exceptions: the bot turns them into a comment that says what to do.
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


def is_secret(name: str) -> bool:
    """True for environment variables that may hold credentials."""
    upper = name.upper()
    return upper in SECRET_NAMES or bool(SECRET_PATTERN.search(upper))


def scrub_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of env (default: os.environ) without any credential, for untrusted generated code."""
    source = os.environ if env is None else env
    return {k: v for k, v in source.items() if not is_secret(k)}
