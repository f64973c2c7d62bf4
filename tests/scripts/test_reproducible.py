"""Reproducible anywhere: the PR names the Hub ID (never this machine's copy), its scripts declare bounded
dependencies (a CPU torch for CPU plans), train.py falls back to the Hub ID and records what it ran on, and
the bot's own runs read the offline copy through the runner.

The whole path through `uv run` in a clean environment is benchmarks/uv_run_check.py (`make uv-check`).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bot.planner.rules import make_plan
from bot.writing import codegen
from runners.base import with_dataset
from runners.local import LocalRunner

from . import DATA, load_script
from . import make_plan as small_plan

BITEXT = "bitext/Bitext-customer-support-llm-chatbot-training-dataset"
GOAL = "Support tickets\n\nLabel customer support tickets by issue type."
PEP723 = re.compile(r"(?m)^# /// script$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
# import name -> distribution, where they differ; the standard library needs no declaration
DISTRIBUTIONS = {"sklearn": "scikit-learn", "yaml": "pyyaml"}
CPU_INDEX = {"name": "pytorch-cpu", "url": "https://download.pytorch.org/whl/cpu", "explicit": True}


def metadata(source: str) -> dict:
    block = PEP723.search(source)
    assert block, "no `# /// script` block"
    return tomllib.loads("".join(line[2:] if line.startswith("# ") else line[1:]
                                 for line in block["content"].splitlines(True)))


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory, bitext_sample) -> Path:
    """A data dir holding the catalog's Bitext copy (a small real sample)."""
    folder = tmp_path_factory.mktemp("data")
    (folder / "bitext").mkdir()
    shutil.copy(bitext_sample, folder / "bitext" / "bitext.csv")
    return folder


# --- config.yaml names the Hub ID ---------------------------------------------------------------------


@pytest.mark.parametrize("named", ["in the issue", "as the copy's server path"])
def test_the_pr_names_the_hub_id_of_a_catalogued_copy(catalog_dir, named):
    copy = catalog_dir / "bitext" / "bitext.csv"
    if named == "in the issue":
        result = make_plan(f"{GOAL} Use `{BITEXT}`.", data_dirs=[catalog_dir])
    else:
        result = make_plan(GOAL, {"dataset": str(copy)}, data_dirs=[catalog_dir])
    config = codegen.render_pr_files(result.plan, examples=[])["config.yaml"]
    assert yaml.safe_load(config)["dataset"] == BITEXT and result.plan.dataset_name == BITEXT
    assert str(catalog_dir) not in config and str(catalog_dir.resolve()) not in config


def test_an_alias_becomes_the_hub_id(catalog_dir, tmp_path):
    real = pd.read_csv(DATA / "banking77" / "train.csv")  # two real intents: a small, fast copy
    (catalog_dir / "banking77").mkdir(exist_ok=True)
    real[real["category"].isin(["card_arrival", "age_limit"])].to_csv(catalog_dir / "banking77" / "train.csv",
                                                                        index=False)
    result = make_plan("Banking\n\nClassify banking queries by intent.", {"dataset": "banking77"},
                       data_dirs=[catalog_dir])
    assert result.plan.dataset == "PolyAI/banking77"


# --- PEP 723 headers ----------------------------------------------------------------------------------


def torch_range() -> str:
    major, minor = (int(x) for x in version("torch").split(".")[:2])
    return f"torch>={major}.{minor},<{major}.{minor + 1}"


@pytest.mark.parametrize("name", ["train.py", "evaluate.py", "app.py"])
def test_every_dependency_is_bounded_to_the_release_the_bot_ran(name):
    meta = metadata(codegen.render_pr_files(small_plan("x.csv", ["A", "B"]), examples=[])[name])
    assert meta["requires-python"] == f">={sys.version_info.major}.{sys.version_info.minor}"
    assert torch_range() in meta["dependencies"]
    for dependency in meta["dependencies"]:
        package, floor, ceiling = re.fullmatch(r"([\w-]+)>=([\d.]+),<([\d.]+)", dependency).groups()
        installed = tuple(int(x) for x in re.match(r"\d+(\.\d+)?", version(package))[0].split("."))
        assert tuple(int(x) for x in floor.split(".")) <= installed < tuple(int(x) for x in ceiling.split("."))


def test_cpu_plans_take_torch_from_the_cpu_index_and_gpu_plans_do_not():
    cpu = codegen.render_pr_files(small_plan("x.csv", ["A", "B"], hardware="hf-cpu-basic"), examples=[])
    gpu = codegen.render_pr_files(small_plan("x.csv", ["A", "B"], hardware="hf-t4-small"), examples=[])
    for name in ("train.py", "evaluate.py", "app.py"):
        uv = metadata(cpu[name])["tool"]["uv"]
        assert uv["sources"] == {"torch": {"index": "pytorch-cpu"}} and uv["index"] == [CPU_INDEX]
    assert "tool" not in metadata(gpu["train.py"]) and "tool" not in metadata(gpu["evaluate.py"])
    assert metadata(gpu["app.py"])["tool"]["uv"]["index"] == [CPU_INDEX]  # the Space runs on a CPU either way


@pytest.mark.parametrize("name", ["train.py", "evaluate.py", "app.py"])
def test_every_import_is_declared(name):
    """`uv run` installs only what the header lists: an undeclared import fails on the user's machine."""
    source = codegen.render_pr_files(small_plan("x.csv", ["A", "B"]), examples=[])[name]
    tree = ast.parse(source)
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    third_party = {m.split(".")[0] for m in modules} - set(sys.stdlib_module_names) - {"__future__"}
    declared = {re.split(r"[<>=]", d)[0].replace("_", "-") for d in metadata(source)["dependencies"]}
    assert {DISTRIBUTIONS.get(m, m).replace("_", "-") for m in third_party} <= declared


# --- train.py: the data it loads, and the record of it --------------------------------------------------


@pytest.fixture(scope="module")
def train(tmp_path_factory):
    """The rendered train.py, imported as a module (its main() is guarded)."""
    folder = tmp_path_factory.mktemp("train")
    files = codegen.render_pr_files(small_plan("x.csv", ["ORDER", "REFUND"]), examples=[])
    (folder / "train.py").write_text(files["train.py"])
    return load_script(folder / "train.py", "reproducible_train")


def config(dataset: str, dataset_name: str | None = None) -> dict:
    return {"dataset": dataset, "dataset_name": dataset_name, "text_column": "instruction",
            "label_column": "category", "dataset_config": None, "dataset_revision": None, "seed": 7}


ROWS = pd.DataFrame({"instruction": ["cancel my order", "i want my money back", "where is order 3"],
                     "category": ["ORDER", "REFUND", "ORDER"]})


def test_a_missing_copy_falls_back_to_the_hub_id(train, tmp_path, monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(train, "read_hub", lambda source, cfg: asked.append(source) or {"train": ROWS})
    monkeypatch.setenv("ML_INTERN_DATASET", str(tmp_path / "gone" / "bitext.csv"))
    frames = train.load_frames(config(BITEXT), tmp_path, None)
    assert asked == [BITEXT] and frames["train"] is ROWS
    assert "not found; loading " + BITEXT in capsys.readouterr().err
    # an old PR whose config.yaml names a server copy, with the Hub ID beside it, runs elsewhere too
    monkeypatch.delenv("ML_INTERN_DATASET")
    train.load_frames(config("/srv/data/bitext/bitext.csv", BITEXT), tmp_path, None)
    assert asked == [BITEXT, BITEXT]


def test_a_missing_path_without_a_hub_id_says_what_to_pass(train, tmp_path, monkeypatch):
    monkeypatch.delenv("ML_INTERN_DATASET", raising=False)
    monkeypatch.setattr(train, "read_hub", lambda *_: pytest.fail("a repository file has no Hub ID to load"))
    with pytest.raises(train.TrainingAborted, match=r"'../../data/tickets.csv' not found .* pass --data PATH"):
        train.load_frames(config("../../data/tickets.csv"), tmp_path, None)


def test_the_rows_hash_ignores_file_format_and_other_columns(train, tmp_path, monkeypatch):
    monkeypatch.delenv("ML_INTERN_DATASET", raising=False)
    ROWS.to_csv(tmp_path / "a.csv", index=False)
    ROWS.assign(response="an extra column the Hub copy has").to_parquet(tmp_path / "b.parquet")
    hashes = []
    for name in ("a.csv", "b.parquet"):
        train.load_frames(config(BITEXT), tmp_path, str(tmp_path / name))
        hashes.append(train.DATA_READ["sha256"])
        assert train.DATA_READ["read_from"] == "override" and train.DATA_READ["id"] == BITEXT
    assert hashes[0] == hashes[1] and len(hashes[0]["train"]) == 64
    ROWS.iloc[::-1].to_csv(tmp_path / "c.csv", index=False)
    train.load_frames(config(BITEXT), tmp_path, str(tmp_path / "c.csv"))
    assert train.DATA_READ["sha256"] != hashes[0]  # same rows, another order: another data set for training


def test_provenance_records_data_versions_hardware_and_seed(train, tmp_path, monkeypatch):
    monkeypatch.delenv("ML_INTERN_DATASET", raising=False)
    ROWS.to_csv(tmp_path / "a.csv", index=False)
    train.load_frames(config(BITEXT), tmp_path, str(tmp_path / "a.csv"))
    splits = {"train": ROWS.rename(columns={"instruction": "text", "category": "label"})}
    record = train.record_provenance(config(BITEXT), splits, tmp_path, smoke=True)
    assert json.loads((tmp_path / "provenance.json").read_text()) == record
    assert record["dataset"] == {"id": BITEXT, "config": None, "revision": None, "commit": None, "read_from": "override"}
    assert record["data_sha256"] == train.DATA_READ["sha256"] and record["split_rows"] == {"train": 3}
    assert record["libraries"]["torch"] == version("torch") and record["libraries"]["python"] == \
        ".".join(map(str, sys.version_info[:3]))
    assert record["hardware"]["cpu_count"] == os.cpu_count() and record["hardware"]["platform"]
    assert (record["hardware"]["gpu"] is None) is (not train.torch.cuda.is_available())
    assert record["seed"] == 7 and record["smoke"] is True
    assert str(tmp_path) not in json.dumps(record)  # no path of this machine in a file that may be published


# --- the bot's own runs read the offline copy -----------------------------------------------------------


def test_the_runner_points_train_py_at_the_offline_copy(catalog_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ML_INTERN_DATA_DIR", str(catalog_dir))
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.yaml").write_text(yaml.safe_dump({"dataset": BITEXT}))
    (src / "train.py").write_text("import os, sys, pathlib\nout = pathlib.Path(sys.argv[sys.argv.index('--output') + 1])"
                                  "\n(out / 'seen.txt').write_text(os.environ.get('ML_INTERN_DATASET', 'unset'))\n")
    (src / "evaluate.py").write_text("import sys, pathlib\nout = pathlib.Path(sys.argv[sys.argv.index('--output') + 1])"
                                     "\n(out / 'metrics.json').write_text('{}')\n")
    result = LocalRunner().run(src, tmp_path / "out", budget_s=60, env={"PATH": "/usr/bin:/bin",
                                                                        "ML_INTERN_DATA_DIR": str(catalog_dir)})
    assert result.ok, result.log_tail
    assert (tmp_path / "out" / "seen.txt").read_text() == str((catalog_dir / "bitext" / "bitext.csv").resolve())


def test_the_runner_leaves_other_data_alone(catalog_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ML_INTERN_DATA_DIR", str(catalog_dir))
    for dataset in ("../../data/tickets.csv", "someone/uncatalogued", "/etc/passwd"):
        (tmp_path / "config.yaml").write_text(yaml.safe_dump({"dataset": dataset}))
        assert with_dataset({"A": "1"}, tmp_path) == {"A": "1"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"dataset": BITEXT}))
    assert with_dataset({"ML_INTERN_DATASET": "repo-copy.csv"}, tmp_path) == {"ML_INTERN_DATASET": "repo-copy.csv"}
    assert with_dataset({}, tmp_path / "nowhere") == {}
