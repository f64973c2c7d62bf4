"""Plans from each kind of dataset reference, and the trust rules on who may name which kind.

The attack this guards against: an issue by a read-only user named a server file, and the bot read it,
smoke-tested it and pushed its rows in a PR. Now an issue's server path is refused before the file is
touched (checked with inotify and by spying on the file calls), with the same words whether it exists.
"""

import builtins
import ctypes
import io
import os
import shutil
import struct
import sys

import pandas as pd
import pytest

from bot.planner.rules import NO_REPO_FILES, NOT_IN_REPO, PlanError, make_plan
from bot.research import data
from bot.research.sources import ISSUE_SERVER_PATH, OUTSIDE_DATA_DIRS, DatasetError

BITEXT = "bitext/Bitext-customer-support-llm-chatbot-training-dataset"
GOAL = "Support tickets\n\nBuild a text classification model that labels customer support tickets by issue type."
IN_ACCESS, IN_OPEN = 0x1, 0x20


@pytest.fixture
def secret(tmp_path, bitext_sample):
    """A server file nobody should read from an issue (real rows, so a read would succeed)."""
    folder = tmp_path / "private"
    folder.mkdir()
    path = folder / "hr_cases.csv"
    shutil.copy(bitext_sample, path)
    return path


@pytest.fixture
def catalog_dir(tmp_path, bitext_sample):
    """A data dir holding the catalog's Bitext copy as a small real sample, so Hub-ID plans stay fast."""
    (tmp_path / "catalog" / "bitext").mkdir(parents=True)
    shutil.copy(bitext_sample, tmp_path / "catalog" / "bitext" / "bitext.csv")
    return tmp_path / "catalog"


class Inotify:
    """Linux inotify through ctypes: every open or read of the watched file or of files in its folder."""

    def __init__(self, *paths):
        if not sys.platform.startswith("linux"):
            pytest.skip("inotify is Linux-only")
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            pytest.skip("inotify is unavailable here")
        for path in paths:
            assert self.libc.inotify_add_watch(self.fd, os.fsencode(path), IN_OPEN | IN_ACCESS) >= 0

    def events(self) -> list[tuple[int, bytes]]:
        try:
            raw = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        events, offset = [], 0
        while offset < len(raw):
            _, mask, _, size = struct.unpack_from("iIII", raw, offset)
            events.append((mask, raw[offset + 16: offset + 16 + size].rstrip(b"\0")))
            offset += 16 + size
        return events

    def close(self):
        os.close(self.fd)


@pytest.fixture
def file_calls(monkeypatch, tmp_path):
    """Records every Python-level open/stat/list/read_csv whose path lies under tmp_path/private."""
    seen: list[str] = []

    def spy(owner, name):
        real = getattr(owner, name)

        def wrapper(path, *args, **kwargs):
            if "private" in os.fspath(path) if isinstance(path, str | os.PathLike) else False:
                seen.append(f"{name}({path})")
            return real(path, *args, **kwargs)
        monkeypatch.setattr(owner, name, wrapper)

    for owner, name in [(os, "stat"), (os, "lstat"), (os, "open"), (os, "scandir"), (os, "listdir"),
                        (builtins, "open"), (io, "open"), (pd, "read_csv"), (data.pd, "read_csv")]:
        spy(owner, name)
    return seen


def test_an_issue_server_path_is_refused_before_the_file_is_touched(secret, file_calls):
    watch = Inotify(secret, secret.parent)
    try:
        goal = f"HR cases\n\nClassify the HR cases in {secret} by outcome, like the support tickets model."
        with pytest.raises(DatasetError) as err:
            make_plan(goal, {"dataset": "PolyAI/banking77"})  # config names another dataset: still refused
        assert str(err.value) == ISSUE_SERVER_PATH
        assert watch.events() == [] and file_calls == []
        secret.read_text()  # the watch and the spy do see a read
        assert watch.events() and file_calls
    finally:
        watch.close()


@pytest.mark.parametrize("form", ["{file}", "`{file}`", "`{folder}/`", "~/../..{file}", "data/../../..{file}"])
def test_refusals_are_the_same_whether_the_file_exists(secret, file_calls, form):
    missing = secret.with_name("no_such_cases.csv")
    messages = []
    for file, folder in ((secret, secret.parent), (missing, missing.with_suffix(""))):
        reference = form.format(file=file, folder=folder)
        with pytest.raises(DatasetError) as err:
            make_plan(f"Classify these support tickets by issue type: {reference}")
        messages.append(str(err.value))
    assert messages == [ISSUE_SERVER_PATH, ISSUE_SERVER_PATH]
    assert file_calls == [] and "private" not in messages[0] and "hr_cases" not in messages[0]


def test_a_maintainer_server_path_outside_the_data_dirs_is_refused_alike(secret, catalog_dir, file_calls):
    messages = []
    for path in (secret, secret.with_name("no_such_cases.csv")):
        for config, overrides in (({"dataset": str(path)}, {}), ({}, {"dataset": str(path)})):
            with pytest.raises(DatasetError) as err:
                make_plan(GOAL, config, overrides, data_dirs=[catalog_dir])
            messages.append(str(err.value))
    assert set(messages) == {OUTSIDE_DATA_DIRS} and file_calls == []


def test_a_symlink_in_a_data_dir_cannot_lead_outside(secret, catalog_dir):
    (catalog_dir / "cases.csv").symlink_to(secret)
    with pytest.raises(DatasetError) as err:
        make_plan(GOAL, {"dataset": str(catalog_dir / "cases.csv")}, data_dirs=[catalog_dir])
    assert str(err.value) == OUTSIDE_DATA_DIRS


def test_a_maintainer_may_name_a_file_inside_a_data_dir(secret, catalog_dir):
    result = make_plan(f"Tickets\n\nClassify support tickets by issue type; ignore {secret}.", {},
                       {"dataset": str(secret)}, data_dirs=[secret.parent])  # the override wins over the issue
    assert result.plan.dataset == str(secret.resolve()) and result.plan.dataset_in_repo is None
    assert result.research["dataset"]["why"] == "chosen with `/plan dataset=…`"


class FakeRepo:
    """The repository's default branch as the executor would fetch it: a copy in a scratch folder."""

    def __init__(self, scratch, files):
        self.scratch, self.files, self.asked = scratch, files, []

    def fetch(self, path):
        self.asked.append(path)
        if path not in self.files:
            return None
        target = self.scratch / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.files[path], target)
        return target


@pytest.mark.parametrize("named", ["data/tickets.csv", "`./data//tickets.csv`", "**data/tickets.csv**"])
def test_an_issue_may_name_a_repository_file(tmp_path, bitext_sample, named):
    repo = FakeRepo(tmp_path / "scratch", {"data/tickets.csv": bitext_sample})
    goal = f"Support tickets\n\nLabel customer support tickets by issue type using {named} from this repository."
    result = make_plan(goal, repo_files=repo)
    assert repo.asked == ["data/tickets.csv"]
    assert result.plan.dataset == "../../data/tickets.csv" and result.plan.dataset_in_repo == "data/tickets.csv"
    assert result.plan.dataset_name is None and result.plan.dataset_license is None
    assert result.plan.label_column == "category" and len(result.plan.labels) == 11
    assert result.research["dataset"]["note"] == "named in the issue; read from the repository"
    assert str(tmp_path) not in str(result.research) and str(tmp_path) not in result.plan.model_dump_json()


def test_a_repository_path_in_config_is_read_from_the_repository_too(tmp_path, bitext_sample, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a same-named file on this machine must not be what is read
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tickets.csv").write_text("text,label\nfrom the server disk,x\n")
    repo = FakeRepo(tmp_path / "scratch", {"data/tickets.csv": bitext_sample})
    result = make_plan(GOAL, {"dataset": "data/tickets.csv"}, repo_files=repo)
    assert repo.asked == ["data/tickets.csv"] and len(result.plan.labels) == 11


def test_a_repository_path_needs_repo_files_and_must_exist(tmp_path, bitext_sample):
    goal = "Tickets\n\nLabel customer support tickets by issue type from data/tickets.csv please."
    with pytest.raises(PlanError) as err:
        make_plan(goal)
    assert str(err.value) == NO_REPO_FILES.format("data/tickets.csv")
    with pytest.raises(DatasetError) as err:
        make_plan(goal, repo_files=FakeRepo(tmp_path, {}))
    assert str(err.value) == NOT_IN_REPO.format("data/tickets.csv")


def test_a_symlink_fetched_from_the_repository_is_not_followed(tmp_path, secret):
    class LinkRepo:
        def fetch(self, path):
            (tmp_path / "scratch").mkdir()
            (tmp_path / "scratch" / "t.csv").symlink_to(secret)
            return tmp_path / "scratch" / "t.csv"

    with pytest.raises(DatasetError, match="symbolic link"):
        make_plan("Tickets\n\nLabel customer support tickets by issue type from t.csv please.", repo_files=LinkRepo())


def test_a_bare_hub_id_that_does_not_exist_is_reported_not_swapped(catalog_dir):
    goal = "Support tickets\n\nLabel customer support tickets by issue type with someone/support-tickets-v2."
    with pytest.raises(DatasetError) as err:
        make_plan(goal, data_dirs=[catalog_dir])  # the goal's words alone would pick Bitext from the catalog
    message = str(err.value)
    assert "someone/support-tickets-v2" in message and "check the ID, or comment `/plan dataset=<id>`" in message


def test_a_bare_hub_id_in_the_issue_is_the_named_dataset(catalog_dir):
    result = make_plan(f"Tickets\n\nLabel support requests by issue type using {BITEXT}.", data_dirs=[catalog_dir])
    assert result.research["dataset"]["why"] == "named in the issue"
    assert result.plan.dataset == BITEXT  # config.yaml names the Hub ID; runs here read the copy (runners.base.with_dataset)
    assert result.plan.dataset_name == BITEXT


@pytest.mark.parametrize("config, overrides", [({"dataset": BITEXT}, {}), ({}, {"dataset": BITEXT})])
def test_config_dataset_hub_id_is_resolved_not_overwritten_by_settings(catalog_dir, config, overrides):
    """The Hub ID from config or /plan is what config.yaml names (it runs anywhere), as when the issue names
    it; research here read the offline copy, and the note says so."""
    result = make_plan(GOAL, config, overrides, data_dirs=[catalog_dir])
    assert result.plan.dataset == BITEXT
    assert result.plan.dataset_name == BITEXT and result.plan.dataset_license == "CDLA-Sharing-1.0"
    assert result.research["dataset"]["note"].endswith("; offline copy used")
