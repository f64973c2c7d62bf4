"""Who may name which dataset reference: classification, the data-dir allow-list, and issue text."""

import os

import pytest

from bot.planner.schema import Plan
from bot.research import data
from bot.research.sources import (
    BAD_REFERENCE,
    ISSUE_SERVER_PATH,
    OUTSIDE_DATA_DIRS,
    DatasetError,
    admit,
    allowed_server_path,
    classify,
    looks_like_hub_id,
    references_in_text,
    repo_path,
)

BITEXT = "bitext/Bitext-customer-support-llm-chatbot-training-dataset"


@pytest.mark.parametrize("reference, kind", [
    ("PolyAI/banking77", "hub"),
    (BITEXT, "hub"),
    ("banking77", "hub"),  # a legacy one-part Hub ID
    ("data/tickets.csv", "repo"),
    ("tickets.parquet", "repo"),
    ("someone/tickets.jsonl", "repo"),  # a data-file extension makes it a path
    ("./data/tickets", "repo"),
    ("data/tickets/", "repo"),
    ("data/v2/tickets", "repo"),
    ("/srv/private/hr_cases.csv", "server"),
    ("/srv/private", "server"),
    ("~/hr.csv", "server"),
    ("~admin/hr.csv", "server"),
    ("../hr.csv", "server"),
    ("data/../../hr.csv", "server"),
    ("data/..", "server"),
    ("data\\hr.csv", "server"),
    ("C:/hr.csv", "server"),
])
def test_classify_tells_the_kind_from_the_text_alone(reference, kind):
    assert classify(reference) == kind


@pytest.mark.parametrize("reference, normalised", [
    ("data/tickets.csv", "data/tickets.csv"),
    ("./data//tickets.csv", "data/tickets.csv"),
    ("data/tickets/", "data/tickets"),
    ("data/./v2/t.parquet", "data/v2/t.parquet"),
])
def test_repository_paths_are_normalised(reference, normalised):
    assert repo_path(reference) == normalised


@pytest.mark.parametrize("reference", ["", ".", "./", "data/$(id).csv", "data/t`x`.csv", "file:/etc/x.csv",
                                       "PolyAI/banking77", "/srv/x.csv"])
def test_what_is_not_a_repository_path_is_refused_without_echo(reference):
    with pytest.raises(DatasetError) as err:
        repo_path(reference)
    assert str(err.value) == BAD_REFERENCE


@pytest.mark.parametrize("value, ok", [
    ("data/tickets.csv", True), ("tickets.csv", True), ("a/b c/d-e_f+g.jsonl", True),
    ("/data/tickets.csv", False), ("~/t.csv", False), ("../t.csv", False), ("a/../t.csv", False),
    ("a//t.csv", False), ("./t.csv", False), ("a\\t.csv", False), ("a/t.csv;rm", False),
])
def test_plan_dataset_in_repo_is_validated(value, ok):
    fields = {"goal": "g", "dataset": "../../" + "x.csv", "text_column": "t", "label_column": "l",
              "labels": ["a", "b"], "dataset_in_repo": value}
    if ok:
        assert Plan(**fields).dataset_in_repo == value
    else:
        with pytest.raises(ValueError, match="dataset_in_repo"):
            Plan(**fields)


@pytest.fixture
def data_dir(tmp_path):
    """An allowed data dir with a file and a folder, a private folder beside it, and symlinks both ways."""
    allowed, private = tmp_path / "data", tmp_path / "private"
    (allowed / "tickets").mkdir(parents=True)
    private.mkdir()
    (allowed / "tickets.csv").write_text("text,label\nhi,greet\n")
    (private / "hr_cases.csv").write_text("text,label\nsecret,x\n")
    (allowed / "escape.csv").symlink_to(private / "hr_cases.csv")
    (allowed / "escape_dir").symlink_to(private)
    (private / "back.csv").symlink_to(allowed / "tickets.csv")
    (tmp_path / "data2").mkdir()  # shares the prefix "data" but is another folder
    (tmp_path / "data2" / "t.csv").write_text("text,label\n")
    return allowed


@pytest.mark.parametrize("name, allowed", [
    ("data/tickets.csv", True),
    ("data/tickets", True),
    ("data", True),
    ("data/missing.csv", True),  # inside: a maintainer may learn it is missing
    ("data/../private/hr_cases.csv", False),
    ("data/tickets/../../private/hr_cases.csv", False),
    ("private/hr_cases.csv", False),
    ("private/missing.csv", False),
    ("private/back.csv", False),  # outside lexically, even though it points inside
    ("data2/t.csv", False),
    ("data/escape.csv", False),  # a symlink inside that points outside
    ("data/escape_dir/hr_cases.csv", False),
])
def test_allow_list_is_lexical_then_real(data_dir, name, allowed):
    reference = str(data_dir.parent) + "/" + name
    if allowed:
        assert allowed_server_path(reference, [data_dir]) == (data_dir.parent / name).resolve()
    else:
        with pytest.raises(DatasetError) as err:
            allowed_server_path(reference, [data_dir])
        assert str(err.value) == OUTSIDE_DATA_DIRS


def test_allow_list_expands_the_home_folder(data_dir, monkeypatch):
    monkeypatch.setenv("HOME", str(data_dir.parent))
    assert allowed_server_path("~/data/tickets.csv", ["~/data"]) == (data_dir / "tickets.csv").resolve()
    with pytest.raises(DatasetError, match="outside the data directories"):
        allowed_server_path("~/private/hr_cases.csv", ["~/data"])


def test_outside_the_allow_list_nothing_is_touched(data_dir, monkeypatch):
    touched = []
    for name in ("stat", "lstat", "open", "scandir", "listdir", "readlink"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda p, *a, _r=real, **k: touched.append(str(p)) or _r(p, *a, **k))
    for name in ("private/hr_cases.csv", "private/missing.csv", "data/../private/hr_cases.csv"):
        with pytest.raises(DatasetError):
            allowed_server_path(str(data_dir.parent / name), [data_dir])
    assert not [p for p in touched if "private" in p]


def test_data_dirs_from_the_environment_are_a_path_list(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("ML_INTERN_DATA_DIR", os.pathsep.join([str(first), "", str(second)]))
    dirs = data.default_data_dirs()
    assert dirs[:2] == [first.resolve(), second.resolve()] and len(dirs) >= 3


@pytest.mark.parametrize("reference", ["/srv/private/hr_cases.csv", "~/hr.csv", "../hr.csv", "C:\\hr.csv"])
def test_admit_refuses_an_issue_server_path_before_any_lookup(reference, monkeypatch):
    for name in ("stat", "lstat", "open", "scandir", "listdir"):
        monkeypatch.setattr(os, name, lambda *a, **k: pytest.fail("refusing must not touch the filesystem"))
    with pytest.raises(DatasetError) as err:
        admit(reference, by_maintainer=False, data_dirs=["/srv"])
    assert str(err.value) == ISSUE_SERVER_PATH


def test_admit_passes_hub_ids_and_repository_paths_from_anyone(data_dir):
    assert admit("PolyAI/banking77", by_maintainer=False, data_dirs=[]).value == "PolyAI/banking77"
    assert admit("./data//t.csv", by_maintainer=False, data_dirs=[]).value == "data/t.csv"
    source = admit(str(data_dir / "tickets.csv"), by_maintainer=True, data_dirs=[data_dir])
    assert (source.kind, source.value) == ("server", str((data_dir / "tickets.csv").resolve()))


@pytest.mark.parametrize("text, found", [
    ("Use PolyAI/banking77 for intents.", ["PolyAI/banking77"]),
    ("(e.g. SetFit/emotion).", ["SetFit/emotion"]),
    ("use dair-ai/emotion", ["dair-ai/emotion"]),
    ("the polyai/banking77 set", ["polyai/banking77"]),
    ("input/output and/or train/test with an 80/20 split over TCP/IP, I/O, w/o F1/accuracy", []),
    ("stanfordnlp/imdb", []),  # plain lower-case words: only in backticks
    ("`stanfordnlp/imdb`", ["stanfordnlp/imdb"]),
    ("fine-tune the model distilbert/distilbert-base-uncased on it", []),
    ("sentence-transformers/all-MiniLM-L6-v2 is fine", []),
    ("see example.com/some-thing", []),  # a domain, not an owner
    ("https://huggingface.co/datasets/PolyAI/banking77/viewer.", ["PolyAI/banking77"]),
    ("data in data/tickets.csv, thanks", ["data/tickets.csv"]),
    ("**data/tickets.csv**", ["data/tickets.csv"]),
    ("the `data/tickets/` folder", ["data/tickets/"]),
    ("comment `/approve-train` when ready, see `.github` and `label`", []),
    ("https://example.com/data.csv", []),
    ("read /srv/private/hr_cases.csv now", ["/srv/private/hr_cases.csv"]),
    ("the folder `/srv/private/hr`", ["/srv/private/hr"]),
    ("run `python train.py --data ~/hr.csv`", ["~/hr.csv"]),
    ("/plan dataset=/srv/private/hr_cases.csv", ["/srv/private/hr_cases.csv"]),
    ("dataset=PolyAI/banking77,", ["PolyAI/banking77"]),
    ('"PolyAI/banking77", or model: x-1/y-2', ["PolyAI/banking77"]),
    ("[tickets](data/tickets.csv) and [x](/srv/private/hr.csv).", ["data/tickets.csv", "/srv/private/hr.csv"]),
    ("https://huggingface.co/datasets/o/n?x=y", ["o/n"]),
    ("a/b.csv then `x/y-1` then https://huggingface.co/datasets/o/n then pp/qq-2", ["x/y-1", "o/n", "a/b.csv", "pp/qq-2"]),
])
def test_references_in_issue_text(text, found):
    assert references_in_text(text) == found


def test_a_catalog_id_counts_even_in_plain_words():
    assert not looks_like_hub_id("stanfordnlp/imdb")
    assert looks_like_hub_id("stanfordnlp/imdb", known=["StanfordNLP/imdb"])
    assert not looks_like_hub_id("banking77", known=["banking77"])  # one word is prose, not an ID


def test_refusals_reach_the_user_as_written():
    from bot.errors import UserError
    from bot.planner.rules import PlanError
    from bot.research.inspect import InspectionError
    from bot.research.models import ModelError

    assert all(issubclass(error, UserError) for error in (DatasetError, PlanError, InspectionError, ModelError))
