"""The plan's Leakage line and Splits paragraph state the near-duplicate share and what the grouping did,
with the numbers of the split train.py will make (splits.split_frames' report)."""

import copy
import itertools
from types import SimpleNamespace

import pandas as pd

from bot.core.render import render
from bot.planner.rules import _leakage_text
from bot.research.splits import split_frames
from tests.shell.support import PLAN, RESEARCH

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
         "mike", "november", "oscar"]
FILLER = [" ".join(c) for c in itertools.combinations(WORDS, 3)]
CANCEL = ["Cancel order 123", "cancel order 456", "CANCEL ORDER #789!"]  # one text once numbers are masked
RANDOM = SimpleNamespace(leakage=2, leakage_kind="estimate: a random 80/20 split (seed 42) of the rows as given")
CROSS = SimpleNamespace(leakage=1, leakage_kind="cross-split: 'test' texts also in the other splits")


def _pooled_report() -> dict:
    df = pd.DataFrame({"t": CANCEL + FILLER[:37], "l": ["order"] * 20 + ["other"] * 20})
    report = {}
    split_frames({"train": df}, "t", "l", val_size=0.1, test_size=0.1, seed=0, report=report)
    return report


def test_a_pooled_split_states_the_share_and_the_groups():
    report = _pooled_report()
    assert (report["rows_compared"], report["groups"], report["largest_group"]) == (40, 38, 3)
    assert _leakage_text(RANDOM, report) == (
        "a random split would put 2 test texts in train too; the bot de-duplicates before splitting, so none do. "
        "7.5 % of the 40 distinct texts have a near-copy (the same text once numbers and `{{placeholders}}` are "
        "masked, or character 3-5-gram TF-IDF cosine ≥ 0.9), so a random split would test on copies of training "
        "rows; the bot keeps each near-duplicate group in one split (38 groups, the largest 3 rows), so no test "
        "text has a near-copy in train or validation."
    )


def test_an_official_test_split_states_the_near_copies_it_keeps():
    train = pd.DataFrame({"q": CANCEL[1:] + FILLER[:20], "c": ["order"] * 2 + ["a", "b"] * 10})
    test = pd.DataFrame({"q": ["cancel order 5", "oscar november mike"], "c": ["order", "a"]})
    report = {}
    split_frames({"train": train, "test": test}, "q", "c", val_size=0.2, test_size=0.1, seed=0, test_split="test",
                 report=report)
    text = _leakage_text(CROSS, report)
    assert text.startswith("1 test texts also appear in another split (normalised); the bot's split removes them")
    assert text.endswith(" 1 of the 2 official test texts (50.0 %) have a near-copy (the same text once numbers and "
                         "`{{placeholders}}` are masked, or character 3-5-gram TF-IDF cosine ≥ 0.9) in the training "
                         "data. The bot keeps the official split as published, training rows included, so scores compare "
                         "with published ones; it carves validation by near-duplicate group, so choices made on validation "
                         "are not flattered.")


def test_classes_left_short_by_large_groups_are_named():
    report = {**_pooled_report(), "held_out_short": {"test": {"ORDER": [0, 2]}, "validation": {}}}
    assert _leakage_text(RANDOM, report).endswith(
        " 1 class(es) hold out fewer rows than their share because their near-duplicate groups are too large: "
        "`ORDER`.")


def test_without_a_report_the_line_is_the_exact_copy_sentence():
    assert _leakage_text(CROSS) == ("1 test texts also appear in another split (normalised); "
                                    "the bot's split removes them from train.")


def test_the_plan_comment_shows_the_grouping():
    research = copy.deepcopy(RESEARCH)
    report = _pooled_report()
    research.update(split_report=report, leakage_text=_leakage_text(RANDOM, report))
    body = render("comments/plan.md.j2", plan=PLAN, research=research)
    assert "- **Leakage:** a random split would put 2 test texts" in body
    assert "7.5 % of the 40 distinct texts have a near-copy" in body
    assert ("then split stratified, each near-duplicate group kept whole: train 48, validation 6, test 6. "
            "No text or near-copy appears in two splits.") in body
    plain = render("comments/plan.md.j2", plan=PLAN, research=RESEARCH)
    assert "split stratified: train 48, validation 6, test 6. No text appears in two splits." in plain
