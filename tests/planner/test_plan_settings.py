"""make_plan reads `.github/ml-intern.yml` and `/plan` through one vocabulary, and names bad columns clearly."""

import os

import pytest

from bot.errors import UserError
from bot.planner.rules import PlanError, make_plan
from bot.planner.vocabulary import normalize_overrides
from bot.research.inspect import InspectionError

GOAL = "Support tickets\n\nBuild a text classification model that labels customer support tickets by issue type."
EVERY_KEY = {  # every key `/plan` accepts, as a maintainer writes it in the file
    "label": "intent", "text": "instruction", "model": "sentence-transformers/all-MiniLM-L6-v2", "epochs": "2",
    "lr": 5e-5, "batch_size": 16, "max_length": 96, "seed": 7, "rows": 500, "budget": 4, "hardware": "actions-cpu",
    "class_weights": "yes", "ensemble": False, "early_stopping_patience": 0, "threads": 2,
    "dataset_config": "default", "dataset_revision": "main",
}


@pytest.fixture(autouse=True)
def sample_folder_is_a_data_dir(monkeypatch, bitext_sample):
    listed = [os.environ.get("ML_INTERN_DATA_DIR", ""), str(bitext_sample.parent)]
    monkeypatch.setenv("ML_INTERN_DATA_DIR", os.pathsep.join(d for d in listed if d))


@pytest.fixture
def planned_with_every_key(bitext_sample):
    return make_plan(GOAL, {"dataset": str(bitext_sample), **EVERY_KEY}).plan


def test_the_config_file_sets_every_key_that_plan_sets(planned_with_every_key):
    plan = planned_with_every_key
    assert (plan.label_column, plan.text_column, plan.epochs, plan.learning_rate, plan.batch_size) == (
        "intent", "instruction", 2, 5e-5, 16)
    assert (plan.max_length, plan.seed, plan.max_train_rows, plan.time_budget_minutes, plan.hardware) == (
        96, 7, 500, 4.0, "actions-cpu")
    assert (plan.class_weights, plan.ensemble_with_baseline, plan.early_stopping_patience, plan.threads) == (
        True, False, 0, 2)
    assert (plan.dataset_config, plan.dataset_revision) == ("default", "main")


def test_the_config_file_and_plan_agree_on_every_key(planned_with_every_key, bitext_sample):
    overrides = normalize_overrides({k: str(v) for k, v in EVERY_KEY.items()})
    assert make_plan(GOAL, {"dataset": str(bitext_sample)}, overrides).plan == planned_with_every_key


def test_a_quoted_number_in_the_config_file_is_the_number(bitext_sample):
    quoted = make_plan(GOAL, {"dataset": str(bitext_sample), "epochs": "3", "budget_minutes": "4"}).plan
    plain = make_plan(GOAL, {"dataset": str(bitext_sample), "epochs": 3, "budget_minutes": 4}).plan
    assert quoted == plain and quoted.epochs == 3 and quoted.time_budget_minutes == 4.0


def test_an_unknown_key_in_the_config_file_is_refused_before_any_data_is_read():
    with pytest.raises(PlanError) as err:  # the dataset does not exist: reading it would fail differently
        make_plan(GOAL, {"dataset": "data/missing.csv", "learning_rat": 0.001})
    message = str(err.value)
    assert message.startswith("`.github/ml-intern.yml` has an unknown key 'learning_rat'; the keys are: dataset, ")
    assert "lr" in message and "class_weights" in message and "/retry" in message


@pytest.mark.parametrize("config, overrides, message", [
    ({"lr": "banana"}, {}, ("`lr: banana` is not a number; `lr` (learning rate) must be a number > 0 and ≤ 0.01. "
                           "Fix `.github/ml-intern.yml`")),
    ({}, {"learning_rate": "banana"}, "`learning_rate=banana` is not a number; `lr` (learning rate) must be a number"),
    ({"text": "intent"}, {"label_column": "intent"}, "`label` and `text` are both `intent`"),
])
def test_a_bad_value_stops_the_plan_in_the_words_plan_uses(config, overrides, message):
    with pytest.raises(PlanError) as err:
        make_plan(GOAL, {"dataset": "data/missing.csv", **config}, overrides)
    assert str(err.value).startswith(message), str(err.value)


def test_a_missing_column_names_the_columns_the_data_has(bitext_sample):
    with pytest.raises(PlanError) as err:
        make_plan(GOAL, {"dataset": str(bitext_sample)}, {"label_column": "topic"})
    assert str(err.value) == ("`label=topic`: column `topic` not found in the dataset; its columns: instruction, "
                              "category, intent. Change it with `/plan`.")
    with pytest.raises(PlanError) as err:
        make_plan(GOAL, {"dataset": str(bitext_sample), "text": "body"})
    assert str(err.value).startswith("`text=body`: column `body` not found in the dataset; its columns: instruction")
    assert "(set in `.github/ml-intern.yml`)" in str(err.value)


def test_the_free_text_column_as_the_label_is_refused_with_the_reason_and_the_candidates(bitext_sample):
    with pytest.raises(InspectionError) as err:
        make_plan(GOAL, {"dataset": str(bitext_sample)}, {"label_column": "instruction"})
    message = str(err.value)
    assert isinstance(err.value, UserError)
    assert message.startswith("column 'instruction' cannot be the label: it has ")
    assert "distinct values in 1,100 rows. A label column needs 2-1000 distinct values, far fewer than the rows." \
        in message
    assert "Columns that can be the label: 'category' (11 classes), 'intent' (27 classes)." in message


def test_a_text_column_too_repetitive_to_split_says_so(bitext_sample):
    with pytest.raises(PlanError) as err:
        make_plan(GOAL, {"dataset": str(bitext_sample)}, {"text_column": "category", "label_column": "intent"})
    message = str(err.value)
    assert message.startswith("after removing duplicate texts, the text column `category` leaves too few rows to split")
    assert "11 distinct texts" in message and "/plan text=<column>" in message
