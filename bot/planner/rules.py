"""The deterministic planner: goal text + repository config + overrides -> a validated Plan.

It picks the dataset, inspects it, splits it exactly as train.py will, runs the TF-IDF
baseline and estimates time and cost. Untrusted text only ever selects among known values, and
which dataset references it may name (a Hub ID or a repository path, never a file on this
machine) is decided by bot/research/sources.py before anything is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.errors import UserError
from bot.planner import vocabulary
from bot.planner.schema import DEFAULT_MODEL, EVAL_ALLOWANCE_S, SCRIPTS_TO_ROOT, Plan
from bot.research import sources
from bot.research.sources import DatasetError, RepoFiles

# Measured on a 2-core CPU: MiniLM-L6, batch 32, dynamic padding (README: benchmarks).
SAMPLES_PER_SECOND = {"local-cpu": 45.0, "actions-cpu": 40.0, "hf-cpu-basic": 45.0}
GPU_FLAVORS = ("hf-t4-small", "hf-a10g-small", "hf-a100-large")  # unmeasured: timed at the CPU rate, an upper bound
NO_REPO_FILES = ("`{}` is a file in the repository, and this run cannot read the repository's files. "
                 "Name a Hugging Face Hub dataset instead (e.g. `PolyAI/banking77`).")
NOT_IN_REPO = ("The repository has no `{}` on its default branch. Commit the data there or fix the path, "
               "or name a Hugging Face Hub dataset.")
REPO_LINK = ("`{}` in the repository is, or holds, a symbolic link; I read only regular files from the "
             "repository. Commit the data itself.")


_DEFAULTS = {name: info.default for name, info in Plan.model_fields.items()}


class PlanError(UserError, ValueError):
    """The goal cannot be planned; the message tells the user what to change."""


@dataclass(frozen=True)
class Choice:
    """The chosen dataset reference, why, and whether a maintainer named it (which decides what it may be)."""

    reference: str
    why: str
    by_maintainer: bool


@dataclass(frozen=True)
class Located:
    """Where the chosen data is: what research reads on this machine, and what the scripts load."""

    kind: sources.Kind
    local: str  # a path on this machine, or a Hub ID
    dataset: str  # Plan.dataset
    in_repo: str | None = None  # Plan.dataset_in_repo


@dataclass
class PlanResult:
    plan: Plan
    research: dict[str, Any]
    examples: list[tuple[str, str]]


def usable_goal(goal: str) -> bool:
    words = [w for line in goal.splitlines() if not line.strip().startswith("/") for w in line.split()]
    return len(words) >= 4


def choose_dataset(goal: str, config: dict, overrides: dict, suggested: str | None = None) -> Choice:
    """The dataset and why: override, the issue text, config, the advisor's pick, then the catalog.

    An issue that names a server path stops the plan right here, before anything reads the disk, even
    when config names a dataset: a refusal must not quietly turn into a different plan.
    """
    from bot.research.data import catalog_lookup, load_catalog

    if overrides.get("dataset"):
        return Choice(str(overrides["dataset"]), "chosen with `/plan dataset=…`", True)
    known = [name for entry in load_catalog() for name in (entry["hub_id"], *entry.get("aliases", []))]
    named = sources.references_in_text(goal, known)
    if any(sources.classify(reference) == "server" for reference in named):
        raise DatasetError(sources.ISSUE_SERVER_PATH)
    if named:
        return Choice(named[0], "named in the issue", False)
    if config.get("dataset"):
        return Choice(str(config["dataset"]), "set in `.github/ml-intern.yml`", True)
    if suggested:
        return Choice(suggested, "suggested by the Claude planner among known text-classification datasets", False)
    entries = catalog_lookup(goal)
    if entries:
        return Choice(entries[0]["hub_id"], "best keyword match for the goal among known text-classification "
                      "datasets", False)
    raise PlanError("I could not tell which dataset to use. Name one in the issue (a Hub ID such as "
                    "`PolyAI/banking77`, or a CSV/Parquet/JSONL file in the repository such as `data/tickets.csv`), "
                    "or comment `/plan dataset=<id or path>`.")


def locate(choice: Choice, repo_files: RepoFiles | None, data_dirs: list[Path]) -> Located:
    """Admit the reference for whoever named it, then find it: a Hub ID through the Hub or its offline
    copy, a repository path through `repo_files` (never this machine's disk), a maintainer's server path
    inside the data dirs."""
    from bot.research import data

    source = sources.admit(choice.reference, by_maintainer=choice.by_maintainer, data_dirs=data_dirs)
    if source.kind == "server":
        return Located("server", source.value, source.value)
    if source.kind == "hub":
        resolved = data.resolve_dataset(source.value, data_dirs)
        if resolved != source.value:  # the catalog's offline copy: scripts run in a checkout elsewhere
            resolved = str(Path(resolved).resolve())
        return Located("hub", resolved, resolved)
    local = _fetch(repo_files, source.value)
    return Located("repo", str(local), SCRIPTS_TO_ROOT + source.value, source.value)


def _fetch(repo_files: RepoFiles | None, path: str) -> Path:
    """The repository's copy of `path`; plain files only, since a committed symlink could point anywhere."""
    if repo_files is None:
        raise PlanError(NO_REPO_FILES.format(path))
    local = repo_files.fetch(path)
    if local is None:
        raise DatasetError(NOT_IN_REPO.format(path))
    local = Path(local)
    if local.is_symlink() or (local.is_dir() and any(p.is_symlink() for p in local.rglob("*"))):
        raise DatasetError(REPO_LINK.format(path))
    return local


def _advice(advisor, goal: str) -> tuple[dict, list[str]]:
    """The optional LLM advisor's validated suggestions; none when it is absent or fails."""
    from bot.research.data import catalog_lookup, load_catalog

    if advisor is None:
        return {}, []
    advice = advisor.advise(goal, list(catalog_lookup(goal) or load_catalog()))
    if advice is None:
        return {}, ["The Claude planner did not answer; this plan is the deterministic planner's."]
    return dict(advice.overrides), [f"Claude planner ({advice.model}) suggests: {line}" for line in advice.rationale]


def make_plan(goal: str, config: dict | None = None, overrides: dict | None = None, advisor=None, *,
              repo_files: RepoFiles | None = None, data_dirs=None) -> PlanResult:
    """Research the goal and return a validated Plan with the evidence for the plan comment.

    Precedence: `/plan` overrides, then `.github/ml-intern.yml`, then the optional advisor (the dataset:
    see choose_dataset). `repo_files` fetches repository paths; `data_dirs` (default: default_data_dirs())
    are where a maintainer's server paths may point.
    """
    from bot.research import baseline, data, inspect, models, splits

    config, overrides = config or {}, overrides or {}
    dirs = [Path(d) for d in data_dirs] if data_dirs is not None else data.default_data_dirs()
    if not usable_goal(goal):
        raise PlanError("this issue has no usable goal: describe what to classify and, if you can, the "
                        "dataset (e.g. 'label support tickets by issue type using `bitext/...`').")
    configured, overrides = _settings(config, overrides)
    requested = {**configured, **overrides}
    measured_rate(str(requested.get("hardware", _DEFAULTS["hardware"])), str(requested.get("model") or DEFAULT_MODEL))
    check_cost(Plan.model_construct(**{**_DEFAULTS, **requested}))  # before any data is read or any job starts
    suggested, notes = _advice(advisor, goal)
    choice = choose_dataset(goal, configured, overrides, suggested.pop("dataset", None))
    where = locate(choice, repo_files, dirs)
    frames = data.load_frames(where.local, config=requested.get("dataset_config"),
                              revision=requested.get("dataset_revision"))
    columns = list(dict.fromkeys(str(c) for frame in frames.values() for c in frame.columns))
    _check_columns(configured, overrides, columns)
    suggested = {k: v for k, v in suggested.items() if k not in ("text_column", "label_column") or v in columns}
    settings = {**suggested, **configured, **overrides}
    model_id = str(settings.get("model") or DEFAULT_MODEL)
    tokenizer = models.load_tokenizer(model_id)
    found = inspect.inspect_frames(frames, goal, tokenizer=tokenizer, text_column=settings.get("text_column"),
                                   label_column=settings.get("label_column"))
    test_split = "test" if "test" in frames and len(frames) > 1 else None
    parts = splits.split_frames(frames, found.text_column, found.label_column, val_size=_DEFAULTS["val_size"],
                                test_size=_DEFAULTS["test_size"], seed=int(settings.get("seed", _DEFAULTS["seed"])),
                                test_split=test_split)
    _check_split_sizes(parts, found)
    floor = baseline.run_baseline(parts)
    plan = _build_plan(goal, _attribution(choice, where, dirs), where, found, parts, test_split, settings)
    research = _evidence(plan, choice, where, found, parts, floor)
    research["choices"] += notes
    return PlanResult(plan, research, _examples(parts["train"]))


def _settings(config: dict, overrides: dict) -> tuple[dict[str, Any], dict[str, Any]]:
    """`.github/ml-intern.yml` and the `/plan` overrides as typed Plan fields, through one vocabulary."""
    try:
        configured = vocabulary.read_config(config)
    except ValueError as exc:
        raise PlanError(f"{exc}. Fix `.github/ml-intern.yml`, then comment `/retry`.") from None
    try:
        overrides = vocabulary.normalize_overrides(overrides)
    except ValueError as exc:
        raise PlanError(f"{exc}. Change it with `/plan`.") from None
    try:
        vocabulary.check_columns({**configured, **overrides})
    except ValueError as exc:
        raise PlanError(f"{exc}. Change one with `/plan`.") from None
    return configured, overrides


def _check_columns(configured: dict, overrides: dict, columns: list[str]) -> None:
    """A label or text column that the data does not have stops the plan, naming the columns it has."""
    try:
        vocabulary.check_columns(overrides, columns)
    except ValueError as exc:
        raise PlanError(f"{exc}. Change it with `/plan`.") from None
    try:
        vocabulary.check_columns({k: v for k, v in configured.items() if k not in overrides}, columns)
    except ValueError as exc:
        raise PlanError(f"{exc} (set in `.github/ml-intern.yml`). Fix the file, or override it with `/plan`.") from None


def _check_split_sizes(parts: dict, found) -> None:
    """Too few distinct texts for a train/validation/test split stops the plan with the reason, not a library error."""
    rows = {name: len(frame) for name, frame in parts.items()}
    if all(rows.values()):
        return
    sizes = ", ".join(f"{name} {count:,}" for name, count in rows.items())
    raise PlanError(f"after removing duplicate texts, the text column `{vocabulary.shown(found.text_column)}` leaves "
                    f"too few rows to split ({sizes}; {found.unique_normalized_texts:,} distinct texts). Check that "
                    "`text` names the column holding the texts (`/plan text=<column>`), or use more data.")


def _attribution(choice: Choice, where: Located, data_dirs: list[Path]) -> dict[str, str | None]:
    """The Hub ID and licence to credit: a catalogued Hub ID, or an offline copy of one in a data dir."""
    from bot.research.data import catalog_entry, catalog_entry_for_path

    entry = None
    if where.kind == "hub":
        entry = catalog_entry(choice.reference)
    elif where.kind == "server":
        entry = catalog_entry_for_path(Path(where.local), data_dirs)
    return {"dataset_name": (entry or {}).get("hub_id"), "dataset_license": (entry or {}).get("license")}


def _build_plan(goal, attribution, where, found, parts, test_split, settings) -> Plan:
    labels = sorted({str(v) for v in parts["train"]["label"]} | {str(v) for v in parts["test"]["label"]})
    p99 = int(found.token_lengths.get("p99") or _DEFAULTS["max_length"])
    fields: dict[str, Any] = {
        "goal": next((line.strip() for line in goal.splitlines() if line.strip()), "")[:300],
        "dataset": where.dataset, "dataset_in_repo": where.in_repo, **attribution,
        "text_column": found.text_column,
        "label_column": found.label_column, "labels": labels, "test_split": test_split,
        "max_length": max(16, min(256, -(-p99 // 8) * 8)),
        "class_weights": bool(found.imbalance_ratio and found.imbalance_ratio > 3),
    }
    # `dataset` in settings is the raw reference from config or /plan; `where` already resolved it
    fields.update({k: v for k, v in settings.items() if k not in ("dataset", "text_column", "label_column")})
    try:
        return Plan(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PlanError(f"the plan is not valid: {problems}") from exc


def _evidence(plan, choice, where, found, parts, floor) -> dict[str, Any]:
    rows = {name: len(frame) for name, frame in parts.items()}
    train_rows = min(rows["train"], plan.max_train_rows or rows["train"])
    note = {"hub": "; offline copy used" if where.dataset != choice.reference else "",
            "repo": "; read from the repository"}.get(where.kind, "")
    return {
        "dataset": {"source": choice.reference, "resolved": plan.dataset, "why": choice.why,
                    "note": choice.why + note},
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


def worst_case_cost(plan: Plan) -> tuple[float, float]:
    """(USD per hour, USD at most) for the plan's compute: its flavor's price for the longest the job may
    run (the budget, evaluation, installing dependencies, uploading outputs). Free compute is $0."""
    if not plan.hardware.startswith("hf-"):
        return 0.0, 0.0
    from runners.base import BackendError
    from runners.hf_jobs import INSTALL_MARGIN_S, UPLOAD_MARGIN_S
    from runners.prices import hourly_price

    try:
        per_hour = hourly_price(plan.hardware.removeprefix("hf-"), _price_list())
    except BackendError as exc:
        raise PlanError(f"{exc}. Use `/plan hardware=local-cpu` or `hardware=actions-cpu`.") from None
    hours = (plan.time_budget_minutes * 60 + EVAL_ALLOWANCE_S + INSTALL_MARGIN_S + UPLOAD_MARGIN_S) / 3600
    return per_hour, round(per_hour * hours, 4)


def _price_list():
    """The Hub's live price list (`list_jobs_hardware`) when online; None means the documented offline table."""
    from huggingface_hub import HfApi, constants

    return None if constants.HF_HUB_OFFLINE else HfApi()


def check_cost(plan: Plan) -> None:
    """A plan whose worst case costs more than `max_cost_usd` stops here, saying what to change."""
    per_hour, worst = worst_case_cost(plan)
    if worst <= plan.max_cost_usd:
        return
    raise PlanError(
        f"training on `{plan.hardware}` costs up to ${worst:.2f} (${per_hour:.2f}/hour for the "
        f"{plan.time_budget_minutes:g}-minute budget plus evaluation, set-up and upload), over `max_cost_usd` "
        f"${plan.max_cost_usd:.2f}. Nothing was started. Train for free with `/plan hardware=local-cpu` or "
        "`hardware=actions-cpu`, shorten `/plan budget=`, or raise `max_cost_usd` in `.github/ml-intern.yml`.")


def measured_rate(hardware: str, model: str) -> float:
    """Samples/s for this hardware and model; anything unmeasured stops the plan (fail closed)."""
    rate = SAMPLES_PER_SECOND.get(hardware, SAMPLES_PER_SECOND["local-cpu"] if hardware in GPU_FLAVORS else None)
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
    capped = minutes > plan.time_budget_minutes
    basis = (f"Based on {rate:.0f} samples/s measured for MiniLM-L6 on a 2-core CPU; {plan.epochs} epoch(s) of "
             f"{train_rows:,} rows take about {minutes:.1f} min")
    basis += (f", more than the {plan.time_budget_minutes:g}-minute budget, so training stops at the budget with the "
              "best checkpoint so far." if capped else ", within the time budget.")
    if plan.hardware in GPU_FLAVORS:
        basis += " No GPU speed is measured yet: the time is the CPU's, an upper bound."
    per_hour, worst = worst_case_cost(plan)
    cost = (f"at most ${worst:.2f} (${per_hour:.2f}/hour × the whole budget; cap `max_cost_usd` ${plan.max_cost_usd:.2f})"
            if per_hour else "$0 (your own CPU or GitHub Actions minutes)")
    return {"hardware": plan.hardware, "train_rows": train_rows, "minutes": min(minutes, plan.time_budget_minutes),
            "capped": capped, "cost": cost, "cost_usd": worst, "basis": basis}


def _examples(train, per_class: int = 2) -> list[tuple[str, str]]:
    picked = train.groupby("label", sort=True).head(per_class)
    return [(str(t), str(label)) for t, label in zip(picked["text"], picked["label"])]
