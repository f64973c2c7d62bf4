"""Typed records the state marker keeps, and the contract of the scripts' metrics.json.

A run and a publication travel through the core, the shell and the templates as these records, not as
loose dicts, so a misspelt key fails where it is written. metrics.json is checked against `Metrics`
when the bot reads it (docs/ARTIFACTS.md describes the same shape), so a script that drifts from the
contract fails with a message naming the field, not somewhere inside a template.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import UserError


@dataclass(frozen=True)
class RunSummary:
    """The numbers the status comment shows: those of the shipped predictor, and the baseline's."""

    shipped: str = "finetuned"
    accuracy: float | None = None
    macro_f1: float | None = None
    baseline_accuracy: float | None = None
    baseline_macro_f1: float | None = None
    stopped_reason: str | None = None


@dataclass(frozen=True)
class Run:
    """A finished training run of one commit, and where its outputs are."""

    sha: str
    status: str
    job: dict[str, str] = field(default_factory=dict)  # the JobRef whose outputs these are: publishing fetches them
    seconds: float = 0.0
    cost_usd: float | None = None  # what the job cost (0.0 on free compute)
    hardware: str = ""
    summary: RunSummary = field(default_factory=RunSummary)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "summary": RunSummary(**(data.get("summary") or {}))})


@dataclass(frozen=True)
class Publication:
    """Where a run was published: the model repository and the Space (and how to run it, offline)."""

    sha: str
    model: str
    space: str
    how_to_run: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Publication:
        return cls(**data)


def to_dict(record: Run | Publication) -> dict[str, Any]:
    return asdict(record)


# --- metrics.json (docs/ARTIFACTS.md) -------------------------------------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")  # readers may ignore what they do not use; new fields are fine


class Abstain(_Open):
    threshold: float
    coverage: float | None = None
    accuracy: float | None = None
    coverage_target: float | None = None
    ood_refusal_rate: float | None = None


class Evaluation(_Open):
    """One EVAL block: how one predictor did on the test split."""

    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: dict[str, Any]
    most_confused: list[dict[str, Any]]
    misclassified: list[dict[str, Any]]
    ece: float | None = None
    abstain: Abstain
    stress: dict[str, dict[str, float | None]]


class Metrics(_Open):
    """evaluate.py's metrics.json, as the report, the card and the Space read it."""

    dataset: str
    model: str
    label_column: str
    labels: list[str]
    rows: dict[str, int]
    finetuned: Evaluation
    baseline: Evaluation
    ensemble: Evaluation | None = None
    shipped: Literal["baseline", "finetuned", "ensemble"] = "finetuned"
    decision: dict[str, Any] | None = None  # train.py's ship decision on validation (absent in older runs)
    train: dict[str, Any]
    verdict: str


class MetricsError(UserError):
    """metrics.json does not keep the contract; the message names the fields."""


def checked_metrics(data: Any) -> dict[str, Any]:
    """`data` if it keeps the metrics.json contract, else MetricsError naming what is wrong."""
    try:
        Metrics.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'metrics.json'}: {e['msg']}" for e in exc.errors()[:5])
        raise MetricsError(f"evaluate.py wrote a metrics.json the bot cannot read ({problems}). The scripts in "
                           "the PR may have been changed; regenerate them with `/plan`.") from None
    return data
