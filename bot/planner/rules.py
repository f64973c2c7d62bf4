"""The deterministic planner: goal text + repository config + overrides -> a validated Plan.

It picks the dataset, inspects it, splits it exactly as train.py will, runs the TF-IDF
baseline and estimates time and cost. Untrusted text only ever selects among known values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.planner.schema import DEFAULT_MODEL, HUB_ID, Plan

# Measured on a 2-core CPU: MiniLM-L6, batch 32, dynamic padding (README: benchmarks).
SAMPLES_PER_SECOND = {"local-cpu": 45.0, "actions-cpu": 40.0}
CONFIG_KEYS = {  # .github/ml-intern.yml key -> Plan field
    "dataset": "dataset", "label": "label_column", "text": "text_column", "model": "model",
    "epochs": "epochs", "learning_rate": "learning_rate", "batch_size": "batch_size",
    "budget_minutes": "time_budget_minutes", "max_train_rows": "max_train_rows",
    "hardware": "hardware", "seed": "seed",
}
_PATH_IN_TEXT = re.compile(r"(?<![\w/.])((?:\.{0,2}/)?[\w./-]+\.(?:csv|parquet|jsonl))\b")
_HUB_IN_TEXT = re.compile(r"`([A-Za-z0-9][\w.-]*/[\w.-]+)`|huggingface\.co/datasets/([\w.-]+/[\w.-]+)")


class PlanError(ValueError):
    """The goal cannot be planned; the message tells the user what to change."""


@dataclass
class PlanResult:
    plan: Plan
    research: dict[str, Any]
    examples: list[tuple[str, str]]


def usable_goal(goal: str) -> bool:
    words = [w for line in goal.splitlines() if not line.strip().startswith("/") for w in line.split()]
    return len(words) >= 4


def choose_dataset(goal: str, config: dict, overrides: dict, suggested: str | None = None) -> tuple[str, str]:
    """The dataset and why: override, the issue text, config, the advisor's pick, then the catalog."""
    from bot.research.data import catalog_lookup

    if overrides.get("dataset"):
        return str(overrides["dataset"]), "chosen with `/plan dataset=…`"
    for match in _HUB_IN_TEXT.finditer(goal):
        return match.group(1) or match.group(2), "named in the issue"
    match = _PATH_IN_TEXT.search(goal)
    if match:
        return match.group(1), "named in the issue"
    if config.get("dataset"):
        return str(config["dataset"]), "set in `.github/ml-intern.yml`"
    if suggested:
        return suggested, "suggested by the Claude planner among known text-classification datasets"
    entries = catalog_lookup(goal)
    if entries:
        return entries[0]["hub_id"], "best keyword match for the goal among known text-classification datasets"
    raise PlanError("I could not tell which dataset to use. Name one in the issue (a Hub ID in backticks, "
                    "e.g. `PolyAI/banking77`, or a CSV/Parquet/JSONL path), or comment `/plan dataset=<id or path>`.")


def _advice(advisor, goal: str) -> tuple[dict, list[str]]:
    """The optional LLM advisor's validated suggestions; none when it is absent or fails."""
    from bot.research.data import catalog_lookup, load_catalog

    if advisor is None:
        return {}, []
    advice = advisor.advise(goal, list(catalog_lookup(goal) or load_catalog()))
    if advice is None:
        return {}, ["The Claude planner did not answer; this plan is the deterministic planner's."]
    return dict(advice.overrides), [f"Claude planner ({advice.model}) suggests: {line}" for line in advice.rationale]


def make_plan(goal: str, config: dict | None = None, overrides: dict | None = None, advisor=None) -> PlanResult:
    """Research the goal and return a validated Plan with the evidence for the plan comment.

    Precedence: `/plan` overrides, then `.github/ml-intern.yml`, then the optional advisor.
    """
    from bot.research import baseline, data, inspect, models, splits

    config, overrides = config or {}, overrides or {}
    if not usable_goal(goal):
        raise PlanError("this issue has no usable goal: describe what to classify and, if you can, the "
                        "dataset (e.g. 'label support tickets by issue type using `bitext/...`').")
    configured = {field: config[key] for key, field in CONFIG_KEYS.items() if key in config}
    requested = {**configured, **overrides}
    measured_rate(str(requested.get("hardware", "local-cpu")), str(requested.get("model") or DEFAULT_MODEL))
    suggested, notes = _advice(advisor, goal)
    source, why = choose_dataset(goal, config, overrides, suggested.pop("dataset", None))
    resolved = data.resolve_dataset(source)
    if Path(resolved).exists():  # scripts run in a checkout elsewhere: give them an absolute path
        resolved = str(Path(resolved).resolve())
    frames = data.load_frames(resolved)
    columns = set().union(*(frame.columns for frame in frames.values()))
    suggested = {k: v for k, v in suggested.items() if k not in ("text_column", "label_column") or v in columns}
    settings = {**suggested, **configured, **overrides}
    model_id = str(settings.get("model") or DEFAULT_MODEL)
    tokenizer = models.load_tokenizer(model_id)
    found = inspect.inspect_frames(frames, goal, tokenizer=tokenizer, text_column=settings.get("text_column"),
                                   label_column=settings.get("label_column"))
    test_split = "test" if "test" in frames and len(frames) > 1 else None
    parts = splits.split_frames(frames, found.text_column, found.label_column, val_size=0.1, test_size=0.1,
                                seed=int(settings.get("seed", 42)), test_split=test_split)
    floor = baseline.run_baseline(parts)
    plan = _build_plan(goal, source, resolved, found, parts, test_split, settings)
    research = _evidence(plan, source, resolved, why, found, parts, floor)
    research["choices"] += notes
    return PlanResult(plan, research, _examples(parts["train"]))


def _build_plan(goal, source, resolved, found, parts, test_split, settings) -> Plan:
    from bot.research.data import catalog_entry

    labels = sorted({str(v) for v in parts["train"]["label"]} | {str(v) for v in parts["test"]["label"]})
    p99 = int(found.token_lengths.get("p99") or 64)
    entry = catalog_entry(source) or {}
    fields: dict[str, Any] = {
        "goal": next((line.strip() for line in goal.splitlines() if line.strip()), "")[:300], "dataset": resolved,
        "dataset_name": entry.get("hub_id") or (source if HUB_ID.match(source) and resolved != source else None),
        "dataset_license": entry.get("license"), "text_column": found.text_column,
        "label_column": found.label_column, "labels": labels, "test_split": test_split,
        "max_length": max(16, min(256, -(-p99 // 8) * 8)),
        "class_weights": bool(found.imbalance_ratio and found.imbalance_ratio > 3),
    }
    fields.update({k: v for k, v in settings.items() if k not in ("text_column", "label_column")})
    try:
        return Plan(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PlanError(f"the plan is not valid: {problems}") from exc


def _evidence(plan, source, resolved, why, found, parts, floor) -> dict[str, Any]:
    rows = {name: len(frame) for name, frame in parts.items()}
    train_rows = min(rows["train"], plan.max_train_rows or rows["train"])
    return {
        "dataset": {"source": source, "resolved": resolved, "why": why,
                    "note": f"{why}; offline copy used" if resolved != source else why},
        "inspection": found.to_dict(),
        "leakage_text": _leakage_text(found),
        "split_rows": rows,
        "baseline": floor,
        "estimate": estimate(plan, train_rows),
        "choices": _choices(plan, found),
    }


def _leakage_text(found) -> str:
    if found.leakage_kind.startswith("cross"):
        return (f"{found.leakage:,} test texts also appear in another split (normalised); "
                "the bot's split removes them from train.")
    return (f"a random split would put {found.leakage:,} test texts in train too; the bot "
            "de-duplicates before splitting, so none do.")


def _choices(plan: Plan, found) -> list[str]:
    notes = [(f"`max_length` {plan.max_length}: the 99th percentile is {found.token_lengths.get('p99')} tokens, "
              "so longer inputs are rare; batches pad only to their longest text.")]
    if plan.model == DEFAULT_MODEL:
        notes.append("MiniLM-L6 (22.7 M parameters) fine-tunes on a laptop CPU in minutes.")
    if plan.class_weights:
        notes.append(f"Class weights are on: the largest class is {found.imbalance_ratio:.1f}× the smallest.")
    if plan.ensemble_with_baseline:
        notes.append("The TF-IDF baseline is kept as a companion: when averaging it with the fine-tune wins on "
                     "validation, that ensemble is what ships (`/plan ensemble=false` ships the fine-tune alone).")
    return notes


def measured_rate(hardware: str, model: str) -> float:
    """Samples/s for this hardware and model; anything unmeasured stops the plan (fail closed)."""
    rate = SAMPLES_PER_SECOND.get(hardware)
    if rate is None:
        raise PlanError(f"hardware `{hardware}` has no measured speed or price in this version, so its "
                        "cost cannot be estimated. Use `/plan hardware=local-cpu` or `hardware=actions-cpu`.")
    if model != DEFAULT_MODEL:
        raise PlanError(f"no speed is measured for `{model}`, so time and cost cannot be estimated. "
                        f"Use `/plan model={DEFAULT_MODEL}`.")
    return rate


def estimate(plan: Plan, train_rows: int) -> dict[str, Any]:
    """Training minutes and cost at the measured rate, capped by the time budget."""
    rate = measured_rate(plan.hardware, plan.model)
    minutes = train_rows * plan.epochs / rate / 60
    return {"hardware": plan.hardware, "train_rows": train_rows, "minutes": min(minutes, plan.time_budget_minutes),
            "cost": "$0 (your own CPU or GitHub Actions minutes)",
            "basis": f"Based on {rate:.0f} samples/s measured for MiniLM-L6 on a 2-core CPU; "
                     f"{plan.epochs} epoch(s) of {train_rows:,} rows, capped by the time budget."}


def _examples(train, per_class: int = 2) -> list[tuple[str, str]]:
    picked = train.groupby("label", sort=True).head(per_class)
    return [(str(t), str(label)) for t, label in zip(picked["text"], picked["label"])]
