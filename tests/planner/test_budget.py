"""Plans fit their budget: the epochs and rows the planner picks, what it keeps when a maintainer set it,
what the plan says, and the time a run keeps after its training budget for evaluation."""

import os

import pytest

from bot.planner import budget
from bot.planner.budget import BUSY_MARGIN, MIN_EPOCHS, fit_budget, train_seconds
from bot.planner.rules import make_plan
from bot.planner.schema import EVAL_ALLOWANCE_S, Plan, eval_allowance_s, run_limit_s

RATE = budget.SAMPLES_PER_SECOND["local-cpu"]
BANKING77_TRAIN, BANKING77_EVAL = 7_994, 1_998 + 3_079  # validation: 20 %, see rules.validation_share
GOAL = "Support tickets\n\nBuild a text classification model that labels customer support tickets by issue type."


def plan(**fields) -> Plan:
    values = {"goal": "intents", "dataset": "PolyAI/banking77", "text_column": "text", "label_column": "label",
              "labels": ["a", "b"], **fields}
    return Plan(**values)


def busy_minutes(fitted: Plan, train_rows: int) -> float:
    rows = min(train_rows, fitted.max_train_rows or train_rows)
    return train_seconds(rows, fitted.epochs, RATE) * BUSY_MARGIN / 60


def test_the_default_banking77_plan_is_the_benchmarks_recipe_within_ten_minutes():
    fit = fit_budget(plan(), BANKING77_TRAIN, set(), RATE)
    assert (fit.plan.epochs, fit.plan.max_train_rows, fit.plan.time_budget_minutes) == (5, None, 10.0)
    assert fit.plan.early_stopping_patience == 2 and busy_minutes(fit.plan, BANKING77_TRAIN) <= 10
    assert fit.notes[0] == ("Epochs and rows: 5 epochs on every training row fit the 10-minute training budget "
                            "(8.7 min with the ×1.5 busy-machine margin at 120 rows/s).")
    assert fit.notes[1].startswith("Early stopping: training ends once validation macro-F1 has not improved for "
                                   "2 epochs, so it can stop after epoch 3 of 5")


def test_more_data_gets_fewer_epochs_first_then_a_row_cap_for_the_fine_tune():
    fit = fit_budget(plan(), 19_420, set(), RATE)  # Bitext's train split
    assert (fit.plan.epochs, fit.plan.max_train_rows) == (2, None)
    assert fit.notes[0] == ("Epochs and rows fitted to the 10-minute training budget: 5 epochs of 19,420 rows would "
                            "take 20.6 min with the ×1.5 busy-machine margin at 120 rows/s, so the fine-tune trains "
                            "2 epochs on every training row (8.5 min with the margin).")
    fit = fit_budget(plan(), 100_000, set(), RATE)
    assert (fit.plan.epochs, fit.plan.max_train_rows) == (MIN_EPOCHS, 23_000)
    assert "a stratified sample of 23,000 of the 100,000 training rows (the TF-IDF model uses every row)" in fit.notes[0]
    assert busy_minutes(fit.plan, 100_000) <= 10


@pytest.mark.parametrize("train_rows", [50, 900, 8_993, 12_000, 40_000, 1_000_000])
@pytest.mark.parametrize("minutes", [1, 3, 10, 45])
def test_the_estimate_with_its_margin_fits_the_budget_by_construction(train_rows, minutes):
    fit = fit_budget(plan(time_budget_minutes=minutes), train_rows, set(), RATE)
    assert busy_minutes(fit.plan, train_rows) <= minutes
    assert fit.plan.epochs >= MIN_EPOCHS and "Over the budget" not in fit.notes[0]


def test_a_maintainers_epochs_or_rows_are_kept_and_the_plan_says_it_is_over_the_budget():
    fit = fit_budget(plan(epochs=8, max_train_rows=20_000), 30_000, {"epochs", "max_train_rows"}, RATE)
    assert (fit.plan.epochs, fit.plan.max_train_rows) == (8, 20_000)
    assert fit.notes[0].startswith("Over the budget: you set `epochs=8` and `rows=20000`, kept as set: 8 epochs of "
                                   "20,000 rows at 120 rows/s take about 22.5 min, 33.7 min with the ×1.5 "
                                   "busy-machine margin, more than the 10-minute training budget. Training stops at "
                                   "the budget and keeps the best checkpoint so far, then evaluation runs")
    fit = fit_budget(plan(epochs=8), 30_000, {"epochs"}, RATE)  # epochs kept, so the rows give way
    assert fit.plan.epochs == 8 and busy_minutes(fit.plan, 30_000) <= 10
    assert "(`epochs=8` kept as set)" in fit.notes[0]
    fit = fit_budget(plan(max_train_rows=25_000), 30_000, {"max_train_rows"}, RATE)  # rows kept: epochs give way
    assert (fit.plan.epochs, fit.plan.max_train_rows) == (MIN_EPOCHS, 25_000)
    assert fit.notes[0].startswith("Over the budget: you set `rows=25000`, kept as set")


def test_early_stopping_is_off_when_it_could_never_stop_anything_unless_set():
    fit = fit_budget(plan(), 19_420, set(), RATE)
    assert fit.plan.early_stopping_patience == 0
    assert fit.notes[1] == ("Early stopping is off: with 2 epochs, a patience of 2 could never stop training early; "
                            "the best epoch's checkpoint ships.")
    fit = fit_budget(plan(early_stopping_patience=2), 19_420, {"early_stopping_patience"}, RATE)
    assert fit.plan.early_stopping_patience == 2
    assert fit.notes[1] == "Early stopping with patience 2 (as set) cannot stop 2 epochs early; the best epoch's " \
                           "checkpoint ships."


def test_a_run_keeps_time_to_evaluate_sized_to_its_data_on_a_busy_machine():
    assert eval_allowance_s(plan()) == EVAL_ALLOWANCE_S  # a plan from before eval_rows: the old allowance
    assert eval_allowance_s(plan(eval_rows=200)) == EVAL_ALLOWANCE_S  # tiny data: the floor
    banking77 = eval_allowance_s(plan(eval_rows=BANKING77_EVAL))
    assert 6 * 60 <= banking77 <= 12 * 60
    assert eval_allowance_s(plan(eval_rows=100_000)) > banking77
    assert run_limit_s(plan(eval_rows=BANKING77_EVAL)) == 600 + banking77


@pytest.fixture
def sample_folder_is_a_data_dir(monkeypatch, bitext_sample):
    listed = [os.environ.get("ML_INTERN_DATA_DIR", ""), str(bitext_sample.parent)]
    monkeypatch.setenv("ML_INTERN_DATA_DIR", os.pathsep.join(d for d in listed if d))


def test_the_plan_comment_states_the_budget_choice_and_keeps_what_was_set(bitext_sample, sample_folder_is_a_data_dir):
    result = make_plan(GOAL, {"dataset": str(bitext_sample)})
    rows = result.research["split_rows"]
    assert (result.plan.epochs, result.plan.max_train_rows) == (5, None)
    assert result.plan.eval_rows == rows["validation"] + rows["test"]
    estimate = result.research["estimate"]
    assert estimate["within_budget"] and estimate["busy_minutes"] <= 10 and estimate["epochs"] == 5
    assert estimate["basis"].startswith(f"Based on 120 training rows/s measured for MiniLM-L6 on a quiet 2-core CPU: "
                                        f"5 epochs of {rows['train']:,} rows take about")
    assert "Evaluation then has up to 5 min more" in estimate["basis"]
    assert any(note.startswith("Epochs and rows: 5 epochs on every training row fit") for note in
               result.research["choices"])
    assert (f"Validation holds {rows['validation']:,} rows (20 % of the rows it is carved from), sized for choosing what "
            "ships: about 2,000 rows tell a one-point gain from noise; with fewer, only larger gains are significant, "
            "so the cheaper model is kept more often.") in result.research["choices"]

    # a budget shorter than train.py's start-up: no row cap can fit it, so the plan says what will happen
    result = make_plan(GOAL, {"dataset": str(bitext_sample)}, {"epochs": "20", "budget": "0.2"})
    assert (result.plan.epochs, result.plan.max_train_rows, result.plan.time_budget_minutes) == (20, None, 0.2)
    assert not result.research["estimate"]["within_budget"]
    assert "more than the 0.2-minute budget, so training stops at the budget" in result.research["estimate"]["basis"]
    assert any(note.startswith("Over the budget: you set `epochs=20`, kept as set") for note in
               result.research["choices"])
