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
from bot.planner import budget, vocabulary
from bot.planner.budget import GPU_FLAVORS  # noqa: F401  (codegen reads it from here)
from bot.planner.schema import DEFAULT_MODEL, SCRIPTS_TO_ROOT, Plan, eval_allowance_s
from bot.research import sources
from bot.research.sources import DatasetError, RepoFiles

NO_REPO_FILES = ("`{}` is a file in the repository, and this run cannot read the repository's files. "
                 "Name a Hugging Face Hub dataset instead (e.g. `PolyAI/banking77`).")
NOT_IN_REPO = ("The repository has no `{}` on its default branch. Commit the data there or fix the path, "
               "or name a Hugging Face Hub dataset.")
REPO_LINK = ("`{}` in the repository is, or holds, a symbolic link; I read only regular files from the "
             "repository. Commit the data itself.")


_DEFAULTS = {name: info.default for name, info in Plan.model_fields.items()}

# Validation decides what ships (an exact McNemar test between two ~93 % models), so it is sized for that
# test's power: about 2,000 rows tell a one-point gain from noise most of the time, 1,000 rarely do.
# The share stays between 10 % and 20 % of the rows it is carved from, so the fine-tune keeps most of them.
VALIDATION_ROWS = 2_000
VALIDATION_SHARE = (0.1, 0.2)


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
    inside the data dirs.

    What the scripts load (`dataset`, config.yaml) is the Hub ID whenever there is one, a catalogued offline
    copy included, so the PR runs anywhere; the bot's own runs read the copy (runners set ML_INTERN_DATASET).
    Only a maintainer's uncatalogued server file keeps its path: nothing else names it."""
    from bot.research import data

    source = sources.admit(choice.reference, by_maintainer=choice.by_maintainer, data_dirs=data_dirs)
    if source.kind == "server":
        entry = data.catalog_entry_for_path(Path(source.value), data_dirs)
        return Located("server", source.value, entry["hub_id"] if entry else source.value)
    if source.kind == "hub":
        entry = data.catalog_entry(source.value)
        hub_id = entry["hub_id"] if entry else source.value  # an alias (`banking77`) is not an ID the Hub knows
        resolved = data.resolve_dataset(hub_id, data_dirs)
        if resolved != hub_id:  # the catalog's offline copy, read here for research only
            resolved = str(Path(resolved).resolve())
        return Located("hub", resolved, hub_id)
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
    split_report: dict = {}
    val_size = validation_share(sum(len(f) for name, f in frames.items() if name != test_split))
    parts = splits.split_frames(frames, found.text_column, found.label_column, val_size=val_size,
                                test_size=_DEFAULTS["test_size"], seed=int(settings.get("seed", _DEFAULTS["seed"])),
                                test_split=test_split, report=split_report)
    _check_split_sizes(parts, found)
    floor = baseline.run_baseline(parts)
    plan = _build_plan(goal, _attribution(choice, where, dirs), where, found, parts, test_split,
                       {"val_size": val_size, **settings})
    fitted = budget.fit_budget(plan, len(parts["train"]), set(configured) | set(overrides),
                               measured_rate(plan.hardware, plan.model))
    plan = fitted.plan
    check_cost(plan)  # again: the evaluation allowance is now sized to the data
    research = _evidence(plan, choice, where, found, parts, floor, split_report)
    research["choices"] += fitted.notes + notes
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
        "eval_rows": len(parts["validation"]) + len(parts["test"]),  # sizes the time kept for evaluation
    }
    # `dataset` in settings is the raw reference from config or /plan; `where` already resolved it
    fields.update({k: v for k, v in settings.items() if k not in ("dataset", "text_column", "label_column")})
    try:
        return Plan(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PlanError(f"the plan is not valid: {problems}") from exc


def _evidence(plan, choice, where, found, parts, floor, split_report: dict | None = None) -> dict[str, Any]:
    rows = {name: len(frame) for name, frame in parts.items()}
    train_rows = min(rows["train"], plan.max_train_rows or rows["train"])
    note = {"hub": "; offline copy used" if where.local != where.dataset else "",
            "repo": "; read from the repository"}.get(where.kind, "")
    return {
        "dataset": {"source": choice.reference, "resolved": plan.dataset, "why": choice.why,
                    "note": choice.why + note},
        "inspection": found.to_dict(),
        "leakage_text": _leakage_text(found, split_report),
        "split_report": split_report,  # splits.split_frames' report: what the near-duplicate grouping did
        "split_rows": rows,
        "baseline": floor,
        "estimate": estimate(plan, train_rows),
        "choices": _choices(plan, found, rows["validation"]),
    }


def _leakage_text(found, report: dict | None = None) -> str:
    """Exact copies across splits, then the near-duplicate share and what the grouping did, from
    splits.split_frames' report (train.py runs the same code on the same rows: its split has these numbers)."""
    if found.leakage_kind.startswith("cross"):
        text = (f"{found.leakage:,} test texts also appear in another split (normalised); "
                "the bot's split removes them from train.")
    else:
        text = (f"a random split would put {found.leakage:,} test texts in train too; the bot "
                "de-duplicates before splitting, so none do.")
    if not report:
        return text
    from bot.core.render import pct

    near = "near-copy (the same text once numbers and `{{placeholders}}` are masked" + (
        f", or character 3-5-gram TF-IDF cosine ≥ {report['cosine_threshold']:g})" if report["cosine_searched"]
        else "; too many texts to compare them all by character similarity)")
    after = report["test_rows_with_near_copy_after"]
    outcome = (f"{after:,} test texts still have a near-copy in train or validation" if after
               else "no test text has a near-copy in train or validation")
    if "removed_rows" in report:  # an official test split, kept as given
        text += (f" {report['test_rows_with_near_copy']:,} of the {report['test_rows']:,} official test texts "
                 f"({pct(report['test_near_copy_share'])}) have a {near} in the training data. The bot keeps the "
                 "official split as published, training rows included, so scores compare with published ones; "
                 "it carves validation by near-duplicate group, so choices made on validation are not flattered.")
    else:
        text += (f" {pct(report['near_copy_share'])} of the {report['rows_compared']:,} distinct texts have a {near}, "
                 "so a random split would test on copies of training rows; the bot keeps each near-duplicate group "
                 f"in one split ({report['groups']:,} groups, the largest {report['largest_group']:,} rows), so {outcome}.")
    short = sorted({label for per_class in report["held_out_short"].values() for label in per_class})
    if short:
        text += (f" {len(short)} class(es) hold out fewer rows than their share because their near-duplicate groups are "
                 "too large: " + ", ".join(f"`{vocabulary.shown(label)}`" for label in short[:5])
                 + (", …" if len(short) > 5 else "") + ".")
    return text


def _choices(plan: Plan, found, validation_rows: int) -> list[str]:
    notes = [(f"`max_length` {plan.max_length}: the 99th percentile is {found.token_lengths.get('p99')} tokens, "
              "so longer inputs are rare; batches pad only to their longest text.")]
    if plan.model == DEFAULT_MODEL:
        notes.append("MiniLM-L6 (22.7 M parameters) fine-tunes on a laptop CPU in minutes.")
    if plan.class_weights:
        notes.append(f"Class weights are on: the largest class is {found.imbalance_ratio:.1f}× the smallest.")
    notes.append(_validation_note(plan.val_size, validation_rows))
    notes.append("What ships is decided on validation, cheapest first: the TF-IDF baseline, the fine-tune"
                 + (", their average" if plan.ensemble_with_baseline else "") + "; a costlier model ships only when "
                 "it is significantly more accurate (exact McNemar test, p < 0.05)"
                 + (" (`/plan ensemble=false` leaves the average out)." if plan.ensemble_with_baseline else "."))
    return notes


def validation_share(rows: int) -> float:
    """val_size for `rows`, what split_frames takes it as a fraction of (every row; without an official
    test split's): VALIDATION_ROWS of them within VALIDATION_SHARE, rounded to a whole percent."""
    low, high = VALIDATION_SHARE
    return round(min(high, max(low, VALIDATION_ROWS / max(rows, 1))), 2)


def _validation_note(val_size: float, rows: int) -> str:
    text = (f"Validation holds {rows:,} rows ({val_size * 100:.0f} % of the rows it is carved from), sized for choosing "
            f"what ships: about {VALIDATION_ROWS:,} rows tell a one-point gain from noise")
    if rows < 0.9 * VALIDATION_ROWS:  # a share rounded to a whole percent lands near, not on, the target
        return text + "; with fewer, only larger gains are significant, so the cheaper model is kept more often."
    return text + "."


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
    hours = (plan.time_budget_minutes * 60 + eval_allowance_s(plan) + INSTALL_MARGIN_S + UPLOAD_MARGIN_S) / 3600
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
    rate = budget.rate_of(hardware)
    if rate is None:
        raise PlanError(f"hardware `{hardware}` has no measured speed or price in this version, so its "
                        "cost cannot be estimated. Use `/plan hardware=local-cpu` or `hardware=actions-cpu`.")
    if model != DEFAULT_MODEL:
        raise PlanError(f"no speed is measured for `{model}`, so time and cost cannot be estimated. "
                        f"Use `/plan model={DEFAULT_MODEL}`.")
    return rate


def estimate(plan: Plan, train_rows: int) -> dict[str, Any]:
    """Training minutes at the measured rate, with the busy-machine margin, against the budget; and the cost."""
    found = budget.estimate(plan, train_rows, measured_rate(plan.hardware, plan.model), eval_allowance_s(plan))
    per_hour, worst = worst_case_cost(plan)
    cost = (f"at most ${worst:.2f} (${per_hour:.2f}/hour × the whole budget; cap `max_cost_usd` ${plan.max_cost_usd:.2f})"
            if per_hour else "$0 (your own CPU or GitHub Actions minutes)")
    return {**found, "cost": cost, "cost_usd": worst}


def _examples(train, per_class: int = 2) -> list[tuple[str, str]]:
    picked = train.groupby("label", sort=True).head(per_class)
    return [(str(t), str(label)) for t, label in zip(picked["text"], picked["label"])]
