"""One vocabulary of plan keys: `/plan`, `.github/ml-intern.yml` and the README read the same typed table."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pydantic
import pytest

from bot.planner import claude, schema, vocabulary
from bot.planner.schema import Plan
from bot.planner.vocabulary import BY_FIELD, KEYS, normalize_overrides, read_config

README = Path(__file__).resolve().parents[2] / "README.md"
COLUMNS = ["instruction", "category", "intent"]
# What each key must become from the text a maintainer types (one value per key, all inside the bounds).
TYPED = {
    "dataset": ("PolyAI/banking77", "PolyAI/banking77"), "dataset_config": ("default", "default"),
    "dataset_revision": ("v1.0", "v1.0"), "label": ("intent", "intent"), "text": ("instruction", "instruction"),
    "model": ("org/model-1", "org/model-1"), "epochs": ("2", 2), "lr": ("2e-5", 2e-5), "batch_size": ("64", 64),
    "max_length": ("128", 128), "seed": ("7", 7), "rows": ("500", 500), "budget": ("4", 4.0),
    "hardware": ("actions-cpu", "actions-cpu"), "max_cost_usd": ("2.5", 2.5), "class_weights": ("yes", True), "ensemble": ("off", False),
    "early_stopping_patience": ("0", 0), "threads": ("2", 2),
}


def test_every_key_names_a_plan_field_and_no_spelling_is_shared():
    assert [key.name for key in KEYS] == list(TYPED)
    assert {key.field for key in KEYS} <= set(Plan.model_fields)
    spellings = [s for key in KEYS for s in key.spellings]
    assert len(spellings) == len(set(spellings))
    assert all(key.field in key.spellings for key in KEYS), "the Plan field's own name is always accepted"
    assert all(key.meaning and "\n" not in key.meaning for key in KEYS)


def test_the_claude_advisor_may_only_set_what_plan_may():
    assert {"dataset", *claude.NUMERIC_FIELDS, *claude.COLUMN_FIELDS} <= vocabulary.FIELDS
    assert claude.tool_schema([])["input_schema"]["properties"]["epochs"]["description"] == BY_FIELD["epochs"].meaning


@pytest.mark.parametrize("key", [k for k in KEYS if k.kind in ("int", "float")], ids=lambda k: k.name)
def test_bounds_are_read_from_the_plan_field(key):
    schema = pydantic.TypeAdapter(Plan).json_schema()["properties"][key.field]
    schema = next(s for s in schema.get("anyOf", [schema]) if s.get("type") != "null")
    words = {"exclusiveMinimum": ">", "minimum": "≥", "exclusiveMaximum": "<", "maximum": "≤"}
    expected = {(symbol, schema[word]) for word, symbol in words.items() if word in schema}
    assert set(key.bounds) == expected and expected
    for symbol, limit in key.bounds:
        assert f"{symbol} {vocabulary._number(limit)}" in key.allowed


def test_choices_come_from_the_plan_field():
    assert BY_FIELD["hardware"].choices == ("local-cpu", "actions-cpu", "hf-cpu-basic", "hf-t4-small", "hf-a10g-small",
                                            "hf-a100-large")
    assert BY_FIELD["hardware"].allowed.startswith("one of `local-cpu`, `actions-cpu`")


@pytest.mark.parametrize("name", list(TYPED))
def test_each_key_comes_back_typed_and_json_serialisable(name):
    text, expected = TYPED[name]
    normalize = read_config if vocabulary.lookup(name).config_only else normalize_overrides
    out = normalize({name: text})
    field = vocabulary.lookup(name).field
    assert out == {field: expected} and type(out[field]) is type(expected)
    assert json.loads(json.dumps(out)) == out
    assert normalize(out) == out, "normalising twice changes nothing (the state stores the result)"
    Plan.model_validate({**_plan_fields(), **out})  # what passed the vocabulary passes the Plan


def _plan_fields() -> dict:
    return {"goal": "g", "dataset": "a/b", "text_column": "t", "label_column": "l", "labels": ["x", "y"]}


def test_aliases_and_field_names_mean_the_same_key():
    assert normalize_overrides({"lr": "1e-3"}) == normalize_overrides({"learning_rate": "0.001"}) == {
        "learning_rate": 0.001}
    assert normalize_overrides({"budget": "5"}) == normalize_overrides({"budget_minutes": 5}) == \
        normalize_overrides({"time_budget_minutes": "5.0"}) == {"time_budget_minutes": 5.0}
    assert normalize_overrides({"label_column": "intent", "epochs": "2"}) == {"label_column": "intent", "epochs": 2}


@pytest.mark.parametrize("word, value", [(w, True) for w in ("true", "True", "yes", "1", "on", "ON")]
                         + [(w, False) for w in ("false", "no", "0", "off", "Off")])
def test_booleans_accept_the_usual_words(word, value):
    assert normalize_overrides({"class_weights": word}) == {"class_weights": value}


def test_none_clears_an_optional_key():
    assert normalize_overrides({"rows": "none", "dataset_config": "null"}) == {"max_train_rows": None,
                                                                               "dataset_config": None}


@pytest.mark.parametrize("raw, message", [
    ({"lr": "banana"}, "`lr=banana` is not a number; `lr` (learning rate) must be a number > 0 and ≤ 0.01"),
    ({"lr": "0.5"}, "`lr=0.5` is out of range; `lr` (learning rate) must be a number > 0 and ≤ 0.01"),
    ({"lr": "nan"}, "`lr=nan` is not a number"),
    ({"epochs": "500"}, ("`epochs=500` is out of range; `epochs` (passes over the training data) must be a whole "
                        "number ≥ 1 and ≤ 20")),
    ({"epochs": "2.5"}, "`epochs=2.5` is not a whole number"),
    ({"epochs": ""}, "`epochs=` has no value"),
    ({"rows": "5"}, ("`rows=5` is out of range; `rows` (most training rows the fine-tune uses, a stratified sample; "
                    "the TF-IDF model uses every row) must be a whole number ≥ 10 and ≤ 10,000,000, or `none`")),
    ({"class_weights": "maybe"}, ("`class_weights=maybe` is not true or false; `class_weights` (weight the loss by "
                                 "inverse class frequency) must be `true` or `false` (also yes/no, on/off, 1/0)")),
    ({"hardware": "gpu"}, ("`hardware=gpu` is not allowed; `hardware` (where training runs: this machine, GitHub "
                          "Actions, or a Hugging Face Jobs flavor, billed by the minute) must be one of `local-cpu`, "
                          "`actions-cpu`")),
    ({"model": "not a model"}, ("`model=not a model` is not valid; `model` (the model to fine-tune) must be a Hub "
                               "model ID like `owner/name`")),
    ({"label": "a$b"}, "`label=a$b` is not valid; `label` (the column holding the class) must be a column name"),
    ({"dataset": "."}, "`dataset=.`: The dataset is neither a Hugging Face Hub ID nor a path inside this repository"),
    ({"dataset_revision": "a;b"}, "`dataset_revision=a;b` is not valid"),
    ({"learning_rate": "x"}, "`learning_rate=x` is not a number; `lr` (learning rate)"),
    ({"lr": "1e-4", "learning_rate": "2e-4"}, "`lr` is set twice (as `lr` and `learning_rate`); set it once"),
    ({"label": "intent", "text": "intent"}, ("`label` and `text` are both `intent`; the class and the text must be "
                                            "different columns")),
])
def test_a_bad_value_is_refused_at_once_naming_the_key_the_value_and_what_is_allowed(raw, message):
    with pytest.raises(ValueError) as err:
        normalize_overrides(raw)
    assert str(err.value).startswith(message), str(err.value)


def test_an_unknown_key_lists_the_keys():
    with pytest.raises(ValueError) as err:
        normalize_overrides({"rm": "-rf"})
    assert str(err.value) == "unknown plan key 'rm'; the keys are: " + ", ".join(TYPED)


def test_echoed_values_cannot_break_out_of_their_code_span():
    with pytest.raises(ValueError) as err:
        normalize_overrides({"epochs": "`x`\n<b>" + "9" * 80})
    message = str(err.value)
    assert "\n" not in message and message.count("`") % 2 == 0 and "`x`" not in message
    assert len(message) < 200


def test_columns_are_checked_when_known():
    with pytest.raises(ValueError) as err:
        normalize_overrides({"label": "text2"}, COLUMNS)
    assert str(err.value) == ("`label=text2`: column `text2` not found in the dataset; its columns: instruction, "
                              "category, intent")
    with pytest.raises(ValueError, match="^`text=body`: column `body` not found"):
        normalize_overrides({"text": "body"}, COLUMNS)
    assert normalize_overrides({"label": "intent", "text": "instruction"}, COLUMNS) == {
        "label_column": "intent", "text_column": "instruction"}
    assert normalize_overrides({"label": "text2"}) == {"label_column": "text2"}, "no columns known: research checks"


def test_a_new_dataset_in_the_same_plan_command_is_not_held_to_the_old_columns():
    out = normalize_overrides({"dataset": "PolyAI/banking77", "label": "category", "text": "text"}, COLUMNS)
    assert out == {"dataset": "PolyAI/banking77", "label_column": "category", "text_column": "text"}


def test_many_columns_are_listed_with_a_count():
    columns = [f"c{i}" for i in range(45)]
    with pytest.raises(ValueError, match=r"its columns: c0, c1, .*, c29 \(and 15 more\)$"):
        normalize_overrides({"label": "zz"}, columns)


def test_the_core_keeps_importing_normalize_overrides_from_the_schema():
    assert schema.normalize_overrides({"lr": "1e-4"}, COLUMNS) == {"learning_rate": 1e-4}
    assert not hasattr(schema, "OVERRIDABLE") and not hasattr(schema, "OVERRIDE_ALIASES"), "one table, not two"


class _IORecorder:
    """Records file, directory, process and network audit events while on (audit hooks cannot be removed)."""

    PREFIXES = ("open", "os.", "shutil.", "socket.", "subprocess.", "urllib.", "glob.", "pathlib.")

    def __init__(self):
        self.on, self.events = False, []

    def __call__(self, event, args):
        if self.on and event.startswith(self.PREFIXES):
            self.events.append(event)


_RECORDER = _IORecorder()
sys.addaudithook(_RECORDER)


def test_normalize_overrides_does_no_io(monkeypatch):
    raws = [{name: text for name, (text, _) in TYPED.items()}, {"dataset": "/srv/data/x.csv"},
            {"dataset": "data/tickets.csv", "label": "intent"}, {"dataset": "~/x.csv"}, {"dataset": "."}]
    normalize_overrides({"lr": "1e-4"})  # first call imports the vocabulary (reading its source is I/O)
    for name in ("stat", "lstat", "listdir", "scandir", "getcwd"):
        monkeypatch.setattr(os, name, _no_io)
    _RECORDER.on = True
    try:
        README.read_bytes()  # the control: the recorder does see I/O
        assert _RECORDER.events, "the audit hook records nothing"
        _RECORDER.events.clear()
        for raw in raws:
            try:
                normalize_overrides(raw, COLUMNS)
            except ValueError:
                pass
    finally:
        _RECORDER.on = False
    assert _RECORDER.events == []


def _no_io(*args, **kwargs):
    raise AssertionError("normalize_overrides touched the filesystem")


def test_the_config_file_accepts_every_key_that_plan_accepts_in_the_same_words():
    raw = {name: text for name, (text, _) in TYPED.items() if not vocabulary.lookup(name).config_only}
    assert read_config(raw) == normalize_overrides(raw)
    assert read_config({**raw, "max_cost_usd": "2.5"}) == {**normalize_overrides(raw), "max_cost_usd": 2.5}
    with pytest.raises(ValueError, match="`max_cost_usd` can only be set in `.github/ml-intern.yml`"):
        normalize_overrides({"max_cost_usd": "1000"})  # spending is never raised by a comment
    typed_yaml = {"epochs": 3, "lr": 0.0001, "class_weights": True, "rows": None, "budget_minutes": 4,
                  "max_length": 96.0, "dataset_revision": 2024}
    assert read_config(typed_yaml) == {"epochs": 3, "learning_rate": 1e-4, "class_weights": True,
                                       "max_train_rows": None, "time_budget_minutes": 4.0, "max_length": 96,
                                       "dataset_revision": "2024"}
    assert read_config({"epochs": "3"}) == read_config({"epochs": 3}) == {"epochs": 3}


@pytest.mark.parametrize("config, message", [
    ({"learning_rat": 0.001}, "`.github/ml-intern.yml` has an unknown key 'learning_rat'; the keys are: dataset, "),
    ({"epochs": "banana"}, ("`epochs: banana` is not a whole number; `epochs` (passes over the training data) must "
                           "be a whole number ≥ 1 and ≤ 20")),
    ({"epochs": True}, "`epochs: True` is not a whole number"),
    ({"epochs": None}, "`epochs: None` has no value"),
    ({"class_weights": "sometimes"}, "`class_weights: sometimes` is not true or false"),
    ({"label": ["a"]}, "`label: ['a']` is not text"),
    ({"label": "x", "text": "x"}, "`label` and `text` are both `x`"),
])
def test_a_bad_config_file_is_refused_in_the_same_words(config, message):
    with pytest.raises(ValueError) as err:
        read_config(config)
    assert str(err.value).startswith(message), str(err.value)


def test_readme_table_of_plan_keys_is_the_rendered_one():
    """README.md carries the table between `<!-- plan-keys:start -->` and `<!-- plan-keys:end -->`."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"<!-- plan-keys:start -->\n(.*?)<!-- plan-keys:end -->", text, re.DOTALL)
    assert section, "README.md has no <!-- plan-keys:start --> ... <!-- plan-keys:end --> section"
    assert section.group(1).strip() == vocabulary.markdown_table().strip(), (
        "README's table of plan keys differs; paste the output of "
        "`python -c 'from bot.planner.vocabulary import markdown_table; print(markdown_table())'`")


def test_the_rendered_table_lists_every_key_with_its_aliases_and_defaults():
    table = vocabulary.markdown_table()
    rows = [line for line in table.splitlines()[2:]]
    assert len(rows) == len(KEYS) and all(row.count(" | ") == 4 for row in rows)
    assert "| `lr` | `learning_rate` | learning rate | a number > 0 and ≤ 0.01 | `0.0001` |" in table
    assert "| `budget` | `budget_minutes`, `time_budget_minutes` |" in table
    assert ("| `epochs` | – | passes over the training data | a whole number ≥ 1 and ≤ 20 | `5`, fewer (not below 2) "
            "when the time estimate would not fit the budget |") in table
