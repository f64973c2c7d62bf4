"""Loading data sets: local files and folders, Hub IDs via the offline catalog, clear errors."""

import json
from pathlib import Path

import pandas as pd
import pytest

from bot.research import data
from bot.research.data import DatasetError, catalog_entry, catalog_lookup, load_catalog, load_frames, resolve_dataset
from bot.research.hub import search_datasets

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
BITEXT = "bitext/Bitext-customer-support-llm-chatbot-training-dataset"
ROWS = pd.DataFrame({"text": ["my card is lost", "refund please", "hello"], "label": ["card", "refund", "greet"]})


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_local_csv_parquet_jsonl_load_as_train(tmp_path):
    ROWS.to_csv(tmp_path / "d.csv", index=False)
    ROWS.to_parquet(tmp_path / "d.parquet")
    ROWS.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    for name in ("d.csv", "d.parquet", "d.jsonl"):
        frames = load_frames(str(tmp_path / name))
        assert list(frames) == ["train"]
        assert frames["train"]["text"].tolist() == ROWS["text"].tolist()


def test_banking77_folder_loads_official_splits():
    frames = load_frames(str(DATA / "banking77"))  # categories.json and LICENSE are not splits
    assert list(frames) == ["train", "test"]
    assert len(frames["train"]) == 10_003 and len(frames["test"]) == 3_080
    assert list(frames["test"].columns) == ["text", "category"]


def test_bitext_file_loads():
    frames = load_frames(str(DATA / "bitext" / "bitext.csv"))
    assert frames["train"].shape == (26_872, 3)


def test_missing_file_message_says_what_to_pass(tmp_path):
    missing = str(tmp_path / "tickets.csv")
    with pytest.raises(DatasetError) as err:
        load_frames(missing)
    assert str(err.value) == (
        f"dataset file not found: {missing} — pass a Hub ID or a path to a CSV/Parquet/JSONL file"
    )
    with pytest.raises(DatasetError, match="dataset file not found"):
        resolve_dataset("data/nothing.parquet", data_dirs=[tmp_path])


def test_unreadable_file_is_a_dataset_error(tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(DatasetError, match="could not read .*broken.parquet"):
        load_frames(str(bad))
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    with pytest.raises(DatasetError, match="no rows"):
        load_frames(str(empty))


def test_offline_hub_ids_resolve_to_local_copies(offline):
    assert resolve_dataset(BITEXT, data_dirs=[DATA]) == str(DATA / "bitext" / "bitext.csv")
    assert resolve_dataset("PolyAI/banking77", data_dirs=[DATA]) == str(DATA / "banking77")
    assert resolve_dataset("banking77", data_dirs=[DATA]) == str(DATA / "banking77")  # legacy Hub ID


def test_offline_unknown_hub_id_is_a_clear_error(offline, tmp_path):
    with pytest.raises(DatasetError) as err:
        resolve_dataset("someone/unknown-tickets", data_dirs=[tmp_path])
    assert str(err.value) == (
        "the Hub is unreachable (offline) and someone/unknown-tickets is not in the offline catalog or the Hub "
        "cache — check the ID, or comment `/plan dataset=<id>`"
    )
    with pytest.raises(DatasetError, match="not in the offline catalog"):
        load_frames("someone/unknown-tickets")


def test_offline_catalog_entry_without_local_copy_names_the_dirs(offline, tmp_path):
    with pytest.raises(DatasetError, match="ML_INTERN_DATA_DIR"):
        resolve_dataset("PolyAI/banking77", data_dirs=[tmp_path])


def test_data_dir_from_environment(offline, tmp_path, monkeypatch):
    (tmp_path / "bitext").mkdir()
    ROWS.to_csv(tmp_path / "bitext" / "bitext.csv", index=False)
    monkeypatch.setenv("ML_INTERN_DATA_DIR", str(tmp_path))
    assert resolve_dataset(BITEXT) == str(tmp_path / "bitext" / "bitext.csv")


def test_load_frames_hub_id_offline_falls_back_to_catalog_copy(offline):
    frames = load_frames("PolyAI/banking77")
    assert {k: len(v) for k, v in frames.items()} == {"train": 10_003, "test": 3_080}


def test_hub_loader_maps_class_labels_to_names(tmp_path):
    # the same datasets.load_dataset code path Hub IDs take, fed a local folder (no network)
    import datasets

    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    ds = datasets.Dataset.from_dict({"text": ["bad", "good", "fine"], "label": [0, 1, 1]}, features=features)
    (tmp_path / "data").mkdir()
    ds.to_parquet(str(tmp_path / "data" / "train-00000-of-00001.parquet"))
    frames = data._hub_frames(str(tmp_path), None, None)
    assert frames["train"]["label"].tolist() == ["neg", "pos", "pos"]


def test_catalog_has_licences_and_paths():
    entries = {e["name"]: e for e in load_catalog()}
    assert entries["bitext"]["license"] == "CDLA-Sharing-1.0"
    assert entries["banking77"]["license"] == "CC-BY-4.0"
    assert entries["bitext"]["hub_id"] == BITEXT and entries["bitext"]["path"] == "bitext/bitext.csv"
    assert catalog_entry("polyai/BANKING77")["path"] == "banking77"
    raw = json.loads((ROOT / "bot" / "research" / "catalog.json").read_text())
    assert all(e["description"] and e["keywords"] for e in raw["datasets"])


def test_catalog_lookup_ranks_by_goal():
    assert catalog_lookup("labels customer support tickets by issue type")[0]["name"] == "bitext"
    assert catalog_lookup("detect the intent of online banking queries")[0]["name"] == "banking77"
    assert catalog_lookup("classify bird songs") == []


def test_search_datasets_offline_uses_catalog_without_network(offline, monkeypatch):
    monkeypatch.setattr(data, "_can_connect", lambda *a: pytest.fail("offline must not touch the network"))
    assert search_datasets("customer support tickets")[0] == BITEXT
    assert search_datasets("banking intent")[0] == "PolyAI/banking77"


def test_online_a_missing_hub_id_says_what_to_do_and_never_reads_a_local_folder(monkeypatch):
    asked = []

    def hub(source, config, revision):
        asked.append(source)
        raise FileNotFoundError("Dataset 'bot/research' doesn't exist on the Hub")  # as DatasetNotFoundError is

    monkeypatch.setattr(data, "hub_reachable", lambda *a: True)
    monkeypatch.setattr(data, "_hub_frames", hub)
    with pytest.raises(DatasetError) as err:
        load_frames("bot/research")  # also a folder in this checkout: load_dataset would read it as data
    assert asked == ["hf://datasets/bot/research"]
    assert str(err.value) == ("the Hugging Face Hub has no dataset bot/research (or it is private) — "
                              "check the ID, or comment `/plan dataset=<id>`")


def test_catalog_entry_matches_names_only_and_paths_are_matched_explicitly(monkeypatch):
    monkeypatch.setattr(Path, "exists", lambda self: pytest.fail("a name lookup must not touch the disk"))
    assert catalog_entry(str(DATA / "bitext" / "bitext.csv")) is None
    monkeypatch.undo()
    assert data.catalog_entry_for_path(DATA / "bitext" / "bitext.csv", [DATA])["hub_id"] == BITEXT
