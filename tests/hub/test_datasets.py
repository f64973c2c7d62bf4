"""Dataset repositories on the local Hub, read by the real `datasets.load_dataset` by their Hub ID.

This is how the PR's train.py reads a catalogued data set in benchmarks/uv_run_check.py: the offline copy
is imported as the dataset repo of its Hub ID, and the script loads the ID (a revision included) as it
would from huggingface.co. `datasets` runs in a subprocess: tests/conftest.py set HF_HUB_OFFLINE=1 for
this process, and `datasets` reads it at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bot.hub.cli import main
from bot.hub.repos import Repos

LOAD = """
import json, sys
import datasets
out = {}
for revision in sys.argv[2:] or [None]:
    loaded = datasets.load_dataset(sys.argv[1], revision=revision)
    out[revision or "main"] = {split: ds.to_pandas().to_dict("list") for split, ds in loaded.items()}
print(json.dumps(out))
"""


def load(hub, tmp_path, repo_id: str, *revisions: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_PROGRESS_BARS="1")
    done = subprocess.run([sys.executable, "-c", LOAD, repo_id, *revisions], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def import_(hub, repo_id: str, path, capsys) -> str:
    assert main(["--root", str(hub.store.root), "repo", "import", repo_id, str(path), "--type", "dataset"]) == 0
    return capsys.readouterr().out.splitlines()[-1]


def test_an_imported_folder_of_split_files_loads_by_hub_id_at_each_revision(hub, tmp_path, capsys):
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "train.csv").write_text("text,category\nmy card has not arrived,card_arrival\nrate?,exchange_rate\n")
    (folder / "test.csv").write_text("text,category\nwhere is my card,card_arrival\n")
    first = import_(hub, "polyai-like/intents", folder, capsys)
    (folder / "train.csv").write_text("text,category\nchanged,card_arrival\n")
    second = import_(hub, "polyai-like/intents", folder, capsys)
    assert first != second

    loaded = load(hub, tmp_path, "polyai-like/intents", first, second)
    assert loaded[first] == {"train": {"text": ["my card has not arrived", "rate?"],
                                       "category": ["card_arrival", "exchange_rate"]},
                             "test": {"text": ["where is my card"], "category": ["card_arrival"]}}
    assert loaded[second]["train"] == {"text": ["changed"], "category": ["card_arrival"]}


def test_a_single_file_imports_as_the_train_split(hub, tmp_path, capsys):
    (tmp_path / "tickets").mkdir()
    (tmp_path / "tickets" / "bitext.csv").write_text("instruction,category\ncancel my order,ORDER\n")
    (tmp_path / "tickets" / "notes.txt").write_text("not part of the repository\n")
    import_(hub, "bitext-like/tickets", tmp_path / "tickets" / "bitext.csv", capsys)

    _, files = Repos(hub.store).files("dataset", "bitext-like/tickets", None)
    assert set(files) == {".gitattributes", "bitext.csv"}  # the file alone, at the root; not its neighbours
    assert load(hub, tmp_path, "bitext-like/tickets")["main"] == {
        "train": {"instruction": ["cancel my order"], "category": ["ORDER"]}}
