"""Plans that fit their budget: measured throughput, a margin for busy machines, and the epochs and rows
that fit, with the sentences the plan comment gives for them.

The estimate of a plan is STARTUP_S + epochs × fine-tune rows ÷ the hardware's measured rate. The planner
keeps `estimate × BUSY_MARGIN ≤ budget` by lowering the epochs (not below MIN_EPOCHS), then capping the
fine-tune's rows; a value the maintainer set (`/plan` or `.github/ml-intern.yml`) is kept, and the plan
then says when its estimate exceeds the budget. Whatever happens, train.py stops at the budget with the
best checkpoint so far and evaluation still runs (schema.eval_allowance_s). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.planner.schema import Plan

# Fine-tuning throughput in training rows per second, per-epoch validation included, for MiniLM-L6 at
# batch 32 with dynamic padding and length-grouped batches.
# local-cpu: measured on a quiet 2-core CPU (benchmarks/README.md: BANKING77 5 × 8,993 rows in 362-427 s,
#   105-124 rows/s; Bitext 2 × 12,000 rows in 175 s, 137 rows/s).
# actions-cpu: unmeasured. GitHub's ubuntu-latest runner has 4 vCPUs on public repositories (2 on private
#   ones) on a shared VM, so it gets the 2-core figure less a sixth.
# hf-cpu-basic: unmeasured; its 2 vCPUs may be one physical core, so half the 2-core figure.
SAMPLES_PER_SECOND = {"local-cpu": 120.0, "actions-cpu": 100.0, "hf-cpu-basic": 60.0}
GPU_FLAVORS = ("hf-t4-small", "hf-a10g-small", "hf-a100-large")  # unmeasured: timed at the CPU rate, an upper bound
RATE_SOURCE = {"local-cpu": "measured for MiniLM-L6 on a quiet 2-core CPU",
               "actions-cpu": "assumed for GitHub's 4-vCPU runner (unmeasured: below the 2-core CPU's measured rate)",
               "hf-cpu-basic": "assumed for cpu-basic's 2 vCPUs (unmeasured: half the 2-core CPU's measured rate)"}
# Other jobs on the same cores slow training (3-7x at worst on this 2-core machine, benchmarks/README.md).
# The margin absorbs moderate contention; past it the budget stops training and the best checkpoint ships.
BUSY_MARGIN = 1.5
STARTUP_S = 15.0  # train.py's imports, data, splits and model load count against its budget
MIN_EPOCHS = 2  # the planner lowers epochs to fit the budget, never below this; then it caps rows
MIN_ROWS = 10  # Plan.max_train_rows' lower bound


@dataclass(frozen=True)
class Fit:
    """What the budget decided: the plan to propose and the sentences that say why."""

    plan: Plan
    notes: list[str] = field(default_factory=list)


def rate_of(hardware: str) -> float | None:
    """Training rows per second on `hardware`, or None when unmeasured (GPU flavors use the CPU's)."""
    return SAMPLES_PER_SECOND.get(hardware, SAMPLES_PER_SECOND["local-cpu"] if hardware in GPU_FLAVORS else None)


def train_seconds(rows: int, epochs: int, rate: float) -> float:
    """The quiet-machine estimate of train.py's time until training ends."""
    return STARTUP_S + rows * epochs / rate


def fits(rows: int, epochs: int, rate: float, budget_minutes: float) -> bool:
    return train_seconds(rows, epochs, rate) * BUSY_MARGIN <= budget_minutes * 60


def rows_that_fit(epochs: int, rate: float, budget_minutes: float) -> int:
    """The most rows `epochs` epochs can train on within the budget, with the margin, rounded down to two
    significant digits so the cap reads as chosen (12,000, not 12,347)."""
    rows = int((budget_minutes * 60 / BUSY_MARGIN - STARTUP_S) * rate / epochs)
    if rows < 100:
        return max(MIN_ROWS, rows)
    unit = 10 ** (len(str(rows)) - 2)
    return max(MIN_ROWS, rows // unit * unit)


def fit_budget(plan: Plan, train_rows: int, explicit: set[str], rate: float) -> Fit:
    """Epochs, the fine-tune's row cap and early stopping for `plan`, given the train split's rows.

    `explicit` holds the Plan fields a maintainer set; those are kept as they are.
    """
    epochs, cap = plan.epochs, plan.max_train_rows
    rows = min(train_rows, cap or train_rows)
    budget = plan.time_budget_minutes
    if "epochs" not in explicit:
        while epochs > MIN_EPOCHS and not fits(rows, epochs, rate, budget):
            epochs -= 1
    smaller = rows_that_fit(epochs, rate, budget)
    if "max_train_rows" not in explicit and not fits(rows, epochs, rate, budget) and fits(smaller, epochs, rate, budget):
        rows = cap = smaller  # a budget too short for even MIN_ROWS gets no cap: it says it is over instead
    patience = plan.early_stopping_patience
    if "early_stopping_patience" not in explicit and patience and epochs <= patience + 1:
        patience = 0
    fitted = plan.model_copy(update={"epochs": epochs, "max_train_rows": cap, "early_stopping_patience": patience})
    fitted = Plan(**fitted.model_dump())  # validated again: the Plan's bounds hold for what the budget chose
    notes = [_budget_note(plan, fitted, train_rows, rows, explicit, rate),
             _patience_note(plan, fitted, "early_stopping_patience" in explicit)]
    return Fit(fitted, notes)


def _minutes(rows: int, epochs: int, rate: float) -> tuple[float, float]:
    quiet = train_seconds(rows, epochs, rate) / 60
    return quiet, quiet * BUSY_MARGIN


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def _budget_note(planned: Plan, plan: Plan, train_rows: int, rows: int, explicit: set[str], rate: float) -> str:
    """One sentence: the epochs and rows chosen, and the numbers behind them (rate, margin, estimate, budget)."""
    budget = f"the {plan.time_budget_minutes:g}-minute training budget"
    margin = f"the ×{BUSY_MARGIN:g} busy-machine margin"
    quiet, busy = _minutes(rows, plan.epochs, rate)
    which = ("every training row" if rows == train_rows else
             f"a stratified sample of {rows:,} of the {train_rows:,} training rows (the TF-IDF model uses every row)")
    kept = [f"`{key}={value}`" for key, value in (("epochs", plan.epochs), ("rows", plan.max_train_rows))
            if ("max_train_rows" if key == "rows" else key) in explicit and value is not None]
    if busy > plan.time_budget_minutes:
        said = f"you set {' and '.join(kept)}, kept as set: " if kept else ""
        return (f"Over the budget: {said}{_epochs(plan.epochs)} of {rows:,} rows at {rate:.0f} rows/s take about "
                f"{quiet:.1f} min, {busy:.1f} min with {margin}, more than {budget}. Training stops at the budget "
                "and keeps the best checkpoint so far, then evaluation runs; lower `/plan epochs=` or `rows=`, or "
                "raise `budget=`, to train it all.")
    before_rows = min(train_rows, planned.max_train_rows or train_rows)
    if (plan.epochs, rows) == (planned.epochs, before_rows):
        return (f"Epochs and rows: {_epochs(plan.epochs)} on {which} fit {budget} ({busy:.1f} min with {margin} "
                f"at {rate:.0f} rows/s).")
    _, before = _minutes(before_rows, planned.epochs, rate)
    said = f" ({' and '.join(kept)} kept as set)" if kept else ""
    return (f"Epochs and rows fitted to {budget}{said}: {_epochs(planned.epochs)} of {before_rows:,} rows would "
            f"take {before:.1f} min with {margin} at {rate:.0f} rows/s, so the fine-tune trains "
            f"{_epochs(plan.epochs)} on {which} ({busy:.1f} min with the margin).")


def _patience_note(planned: Plan, plan: Plan, explicit: bool) -> str:
    """Whether early stopping can stop anything with this many epochs, in one sentence."""
    patience, epochs = plan.early_stopping_patience, plan.epochs
    if patience and epochs >= patience + 2:
        return (f"Early stopping: training ends once validation macro-F1 has not improved for {_epochs(patience)}, "
                f"so it can stop after epoch {patience + 1} of {epochs}; the best epoch's checkpoint ships.")
    if patience:
        return (f"Early stopping with patience {patience} (as set) cannot stop {_epochs(epochs)} early; the best "
                "epoch's checkpoint ships.")
    if planned.early_stopping_patience and not explicit:
        return (f"Early stopping is off: with {_epochs(epochs)}, a patience of {planned.early_stopping_patience} "
                "could never stop training early; the best epoch's checkpoint ships.")
    return "Early stopping is off; the best epoch's checkpoint ships."


def estimate(plan: Plan, train_rows: int, rate: float, allowance_s: float) -> dict:
    """Training minutes at the measured rate and with the margin, against the budget, and the time kept
    after it for evaluation."""
    quiet, busy = _minutes(train_rows, plan.epochs, rate)
    within = busy <= plan.time_budget_minutes
    source = RATE_SOURCE.get(plan.hardware, RATE_SOURCE["local-cpu"])
    basis = (f"Based on {rate:.0f} training rows/s {source}: "
             f"{_epochs(plan.epochs)} of {train_rows:,} rows take about {quiet:.1f} min, {busy:.1f} min with the "
             f"×{BUSY_MARGIN:g} margin for a busy machine, ")
    basis += (f"within the {plan.time_budget_minutes:g}-minute budget." if within else
              f"more than the {plan.time_budget_minutes:g}-minute budget, so training stops at the budget with the "
              "best checkpoint so far.")
    basis += (f" Evaluation then has up to {allowance_s / 60:.0f} min more"
              + (f", sized to {plan.eval_rows:,} validation and test rows on a busy machine." if plan.eval_rows
                 is not None else "."))
    if plan.hardware in GPU_FLAVORS:
        basis += " No GPU speed is measured yet: the time is the CPU's, an upper bound."
    return {"hardware": plan.hardware, "train_rows": train_rows, "epochs": plan.epochs,
            "minutes": min(quiet, plan.time_budget_minutes), "busy_minutes": round(busy, 2),
            "budget_minutes": plan.time_budget_minutes, "within_budget": within, "capped": not within,
            "rate": rate, "margin": BUSY_MARGIN, "eval_allowance_minutes": round(allowance_s / 60, 1),
            "basis": basis}
