"""The examples a visitor sees (the Space's buttons, the model card's widget): clean, short and readable.

They come straight from the run's splits (bot/writing/publish/run.py::pick_examples), so each test
writes the splits a run would leave, with the texts that must never, or only reluctantly, be shown.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pandas as pd

from bot.writing.publish import build_space, pick_examples
from tests.scripts import make_plan

# Words the readable picks share, repeated so that no word in them counts as rare (a likely typo).
FILLER = [
    "I want to track my order", "how do I track my order", "can you help me track my order",
    "I want a refund for my order", "how do I get a refund", "can you help me get a refund",
    "I want to talk to a person", "how do I talk to a person", "can you help me talk to a person",
]


def write_splits(out: Path, test: list[tuple[str, str]], validation=(), train=()) -> Path:
    """OUT/splits/{test,validation,train}.csv as train.py writes them (text, label)."""
    folder = out / "splits"
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("test", test), ("validation", validation), ("train", train)):
        pd.DataFrame(list(rows), columns=["text", "label"]).to_csv(folder / f"{name}.csv", index=False)
    return out


def filler(label: str = "OTHER") -> list[tuple[str, str]]:
    return [(text, label) for text in FILLER]


def test_profanity_and_slurs_are_never_shown_whatever_their_case(tmp_path):
    out = write_splits(tmp_path, [
        ("a FUCKING refund", "REFUND"),  # the shortest: picked before this change
        ("I want a damn refund", "REFUND"),
        ("how do I get a refund", "REFUND"),
        ("talk to a Goddamn person", "CONTACT"),
        ("I want to talk to a person", "CONTACT"),
        *filler(),
    ])

    assert pick_examples(out, ["REFUND", "CONTACT"]) == [
        ("how do I get a refund", "REFUND"), ("I want to talk to a person", "CONTACT")
    ]


def test_words_that_merely_contain_a_swear_word_are_fine(tmp_path):
    out = write_splits(tmp_path, [("my class assignment", "HOMEWORK"), ("hello, can you help me", "GREETING")])

    assert pick_examples(out, ["HOMEWORK", "GREETING"]) == [
        ("my class assignment", "HOMEWORK"), ("hello, can you help me", "GREETING")
    ]


def test_template_slots_only_when_a_class_has_nothing_else(tmp_path):
    out = write_splits(tmp_path, [
        ("track {{Order Number}}", "ORDER"),  # the shortest, with a slot
        ("I want to track my order please", "ORDER"),
        ("ship to {{Delivery City}}", "DELIVERY"),  # DELIVERY has no other text
        ("do you ship to {{Delivery Country}} at all", "DELIVERY"),
        *filler(),
    ])

    assert pick_examples(out, ["ORDER", "DELIVERY"]) == [
        ("I want to track my order please", "ORDER"), ("ship to {{Delivery City}}", "DELIVERY")
    ]


def test_a_clean_validation_or_train_text_beats_an_unfit_test_one(tmp_path):
    out = write_splits(
        tmp_path,
        test=[("refund my bloody money", "REFUND"), ("track {{Order Number}}", "ORDER"), *filler()],
        validation=[("how do I get a refund", "REFUND")],
        train=[("can you help me track my order", "ORDER")],
    )

    assert pick_examples(out, ["REFUND", "ORDER"]) == [
        ("how do I get a refund", "REFUND"), ("can you help me track my order", "ORDER")
    ]


def test_a_class_with_only_profane_texts_gets_no_example_and_the_others_keep_theirs(tmp_path):
    out = write_splits(tmp_path, [
        ("this shit is broken", "COMPLAINT"), ("what the fuck", "COMPLAINT"),
        ("how do I get a refund", "REFUND"), *filler(),
    ])

    assert pick_examples(out, ["COMPLAINT", "REFUND"]) == [("how do I get a refund", "REFUND")]
    assert pick_examples(tmp_path / "no-run", ["REFUND"]) == []


def test_short_readable_texts_win_over_terse_long_or_misspelt_ones(tmp_path):
    long = "hello I have been waiting for a long time and I want to know how do I get a refund for my order"
    out = write_splits(tmp_path, [
        ("refund", "REFUND"),  # one word: terse
        ("hw do i gett a refnd", "REFUND"),  # short, but three words nobody else writes (typos)
        (long, "REFUND"),  # readable, but long
        ("refund for order 8812733", "REFUND"),  # a number to read
        ("can you help me get a refund", "REFUND"),
        *filler(),
    ])

    assert pick_examples(out, ["REFUND"]) == [("can you help me get a refund", "REFUND")]


def test_the_space_app_shows_the_clean_examples(tmp_path):
    """End to end: the Space's app.py embeds what pick_examples chose, not the raw shortest rows."""
    labels = ["CONTACT", "REFUND"]
    out = write_splits(tmp_path / "out", [
        ("a fucking human", "CONTACT"), ("I want to talk to a person", "CONTACT"),
        ("refund {{Order Number}}", "REFUND"), ("how do I get a refund", "REFUND"), *filler(),
    ])
    files = build_space(out, make_plan("data.csv", labels), {}, "o/space", "o/model")
    path = tmp_path / "app.py"
    path.write_bytes(files["app.py"])
    spec = importlib.util.spec_from_file_location(f"space_app_{uuid.uuid4().hex}", path)
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)

    assert app.EXAMPLES == [["I want to talk to a person", "CONTACT"], ["how do I get a refund", "REFUND"]]
