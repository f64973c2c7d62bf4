"""The Plan: the typed, bounded contract between research, codegen, runners and publishing.

Everything that reaches a generated script passes through here first, so untrusted text
(issue bodies, LLM answers) can only ever become validated IDs, column names and numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SCRIPTS_TO_ROOT = "../../"  # the PR's scripts live in ml-intern/issue-<n>/, two levels below the repository root

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[\w.-]{1,96})?$")
LOCAL_PATH = re.compile(r"^[\w./ ~+-]{1,400}$")
COLUMN = re.compile(r"^[\w .-]{1,64}$")
LABEL = re.compile(r"^[^\x00-\x1f`$\\]{1,100}$")
REVISION = re.compile(r"^[\w./-]{1,100}$")


def is_repo_path(value: str) -> bool:
    """A normalised path relative to the repository root: LOCAL_PATH's characters, no leading `/` or `~`,
    no empty, `.` or `..` part, so joined under a checkout it can only name something inside it."""
    parts = value.split("/")
    return bool(LOCAL_PATH.match(value)) and not value.startswith("~") and not {"", ".", ".."} & set(parts)


Hardware = Literal["local-cpu", "actions-cpu", "hf-cpu-basic", "hf-t4-small", "hf-a10g-small", "hf-a100-large"]
# After the training budget, train.py wraps up (the last validation, the TF-IDF companion, saving) and
# evaluate.py scores the model; nothing stops evaluation early, so its time is sized for a busy machine.
EVAL_ALLOWANCE_S = 300.0  # the least time a run keeps for that (and all a plan without `eval_rows` gets)
EVAL_FIXED_S = 45.0  # quiet 2-core CPU: imports, loading the model, fitting the TF-IDF model, plots, report
# MiniLM-L6 inference, batch 64: on this 2-core machine it ran 7.6x as many rows/s as training, alternating
# in one process under the same load, i.e. ~900 rows/s next to training's 120 when quiet. Counted at 400
# to leave room for evaluate.py's per-row work beyond the forward pass.
EVAL_ROWS_PER_SECOND = 400.0
EVAL_BUSY_FACTOR = 6.0  # busy 2-core machines measured 3-7x slower (benchmarks/README.md)
STRESS_ROWS, STRESS_VARIANTS, OFF_TOPIC_ROWS = 2000, 5, 500  # evaluate.py's stress sample, its passes, off-topic texts


class Plan(BaseModel):
    """What the bot proposes to train; rendered into config.yaml in the PR."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    goal: str = Field(max_length=300)
    dataset: str  # what train.py loads: a Hub ID, or a local file/folder path
    dataset_name: str | None = None  # the Hub ID to credit in the card when `dataset` is a local copy
    dataset_in_repo: str | None = None  # the repository path when the data is a file in the repository
    dataset_config: str | None = None
    dataset_revision: str | None = None
    dataset_license: str | None = None
    text_column: str
    label_column: str
    labels: list[str] = Field(min_length=2, max_length=1000)
    test_split: str | None = None  # official test split name, e.g. BANKING77's "test"
    model: str = DEFAULT_MODEL
    epochs: int = Field(5, ge=1, le=20)  # the benchmarks' recipe; the planner lowers it to fit the budget
    learning_rate: float = Field(1e-4, gt=0, le=1e-2)
    batch_size: int = Field(32, ge=1, le=512)
    max_length: int = Field(64, ge=8, le=512)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    val_size: float = Field(0.1, gt=0, lt=0.5)
    test_size: float = Field(0.1, gt=0, lt=0.5)
    max_train_rows: int | None = Field(None, ge=10, le=10_000_000)  # the fine-tune's rows; TF-IDF uses every row
    class_weights: bool = False
    ensemble_with_baseline: bool = True  # ship fine-tune + TF-IDF averaged when that wins on validation
    early_stopping_patience: int = Field(2, ge=0, le=20)
    time_budget_minutes: float = Field(10.0, gt=0, le=360)  # of training; evaluation runs after it
    threads: int = Field(0, ge=0, le=256)  # 0 = all cores
    hardware: Hardware = "local-cpu"
    max_cost_usd: float = Field(0.0, ge=0, le=100_000)  # 0 = free compute only (this machine, GitHub Actions)
    smoke_rows: int = Field(200, ge=20, le=5000)
    eval_rows: int | None = Field(None, ge=0, le=100_000_000)  # validation + test rows, set by the planner

    @field_validator("dataset", "dataset_name")
    @classmethod
    def _dataset(cls, value: str | None) -> str | None:
        if value is not None and not (HUB_ID.match(value) or LOCAL_PATH.match(value)):
            raise ValueError(f"dataset {value!r} is neither a Hub ID nor a CSV/Parquet/JSONL path")
        return value

    @field_validator("dataset_in_repo")
    @classmethod
    def _in_repo(cls, value: str | None) -> str | None:
        if value is not None and not is_repo_path(value):
            raise ValueError(f"dataset_in_repo {value!r} is not a normalised path inside the repository")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        if not HUB_ID.match(value):
            raise ValueError(f"model {value!r} is not a Hub model ID like owner/name")
        return value

    @field_validator("text_column", "label_column")
    @classmethod
    def _column(cls, value: str) -> str:
        if not COLUMN.match(value):
            raise ValueError(f"column name {value!r} has characters other than letters, digits, space, . _ -")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not LABEL.match(v)]
        if bad:
            raise ValueError(f"labels with control or shell characters: {bad[:3]}")
        return value

    @field_validator("dataset_config", "dataset_revision", "test_split")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is not None and not REVISION.match(value):
            raise ValueError(f"{value!r} is not a valid config, revision or split name")
        return value


def eval_allowance_s(plan: Plan) -> float:
    """Seconds a run keeps after its training budget for train.py's wrap-up and evaluate.py, on a busy machine.

    The fine-tune's forward passes, counted generously: validation and test once each in evaluate.py and
    validation again in train.py's wrap-up (both bounded by 2 × eval_rows), the stress variants of a test
    sample, and the off-topic texts.
    """
    if plan.eval_rows is None:
        return EVAL_ALLOWANCE_S
    passes = 2 * plan.eval_rows + STRESS_VARIANTS * min(plan.eval_rows, STRESS_ROWS) + OFF_TOPIC_ROWS
    quiet = EVAL_FIXED_S + passes / EVAL_ROWS_PER_SECOND
    return max(EVAL_ALLOWANCE_S, round(EVAL_BUSY_FACTOR * quiet))


def run_limit_s(plan: Plan) -> float:
    """The hard limit of a run (train.py + evaluate.py): the training budget, then the evaluation allowance."""
    return plan.time_budget_minutes * 60 + eval_allowance_s(plan)


def normalize_overrides(raw: Mapping[str, Any], columns: Sequence[str] | None = None) -> dict[str, Any]:
    """`/plan` options as typed Plan fields; see bot/planner/vocabulary.py, where the keys are defined."""
    from bot.planner.vocabulary import normalize_overrides as normalize  # the vocabulary reads the Plan above

    return normalize(raw, columns)
