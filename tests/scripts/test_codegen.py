"""Rendering the PR's files: complete, standalone, and never executing plan text."""

from __future__ import annotations

import ast
import re
import shutil

import pytest
import yaml

import bot
from bot.planner.schema import Plan
from bot.writing import codegen

from . import make_plan, write_bitext_sample

HOSTILE_LABEL = '"); import os; os.system("x") #'
HOSTILE_GOAL = 'ship it"""\nimport os; os.system("rm -rf /")\n<script>alert(1)</script> [x](http://evil)'
# PEP 723 reference regex for inline script metadata blocks.
PEP723 = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan("data.csv", ["ACCOUNT", "ORDER", HOSTILE_LABEL], goal=HOSTILE_GOAL)


@pytest.fixture(scope="module")
def files(plan) -> dict[str, str]:
    return codegen.render_pr_files(plan, examples=[])


def script_metadata(source: str) -> dict:
    block = PEP723.search(source)
    assert block and block["type"] == "script"
    body = "".join(line[2:] if line.startswith("# ") else line[1:] for line in block["content"].splitlines(True))
    import tomllib

    return tomllib.loads(body)


def test_renders_every_pr_file(files):
    assert {"train.py", "evaluate.py", "config.yaml", "requirements.txt", "README.md"} <= set(files)
    assert all(text.endswith("\n") for text in files.values())


def test_config_yaml_round_trips_to_the_plan(plan, files):
    assert Plan(**yaml.safe_load(files["config.yaml"])) == plan


@pytest.mark.parametrize("name", ["train.py", "evaluate.py"])
def test_scripts_are_valid_standalone_python(files, name):
    tree = ast.parse(files[name])
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"bot", "runners"}, "generated scripts must not import the bot"
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert len(names) == len(set(names)), "a top-level name is defined twice"


@pytest.mark.parametrize(
    ("name", "needed"),
    [
        ("train.py", {"torch", "transformers", "accelerate", "datasets", "scikit-learn", "pandas", "pyyaml"}),
        ("evaluate.py", {"torch", "transformers", "scikit-learn", "pandas", "pyyaml", "matplotlib"}),
    ],
)
def test_pep723_header_declares_dependencies(files, name, needed):
    meta = script_metadata(files[name])
    declared = {re.split(r"[<>=!~ \[]", dep)[0].lower() for dep in meta["dependencies"]}
    assert needed <= declared
    # transformers 5's API, bounded to the major the bot ran (issue 9: no unbounded dependency)
    assert any(re.fullmatch(r"transformers>=5\.\d+,<6", dep) for dep in meta["dependencies"])
    assert meta["requires-python"].startswith(">=")


def test_train_embeds_the_split_module_verbatim(files):
    source = codegen.splits_source()
    assert source in files["train.py"]
    tree = ast.parse(files["train.py"])
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"normalize_text", "dedupe", "split_frames"} <= defined
    futures = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    assert len(futures) == 1  # only the script's own, at the top


def test_hostile_label_and_goal_stay_data(plan, files):
    for name in ("train.py", "evaluate.py"):
        assert HOSTILE_LABEL not in files[name]
        assert "rm -rf" not in files[name]
        ast.parse(files[name])
    config = yaml.safe_load(files["config.yaml"])
    assert config["labels"][2] == HOSTILE_LABEL and config["goal"] == HOSTILE_GOAL
    title = files["README.md"].splitlines()[0]
    assert "<script>" not in files["README.md"] and "](http://evil" not in files["README.md"]
    assert title.startswith("# Text classifier:") and "rm -rf" in title  # one escaped line


def test_pyrepr_filter_makes_inert_literals():
    for value in [HOSTILE_LABEL, "a'b\"c\n", 3, 0.5, None, True]:
        assert ast.literal_eval(codegen.pyrepr(value)) == value
    assert ast.literal_eval(codegen.pyrepr([HOSTILE_LABEL, "x"])) == [HOSTILE_LABEL, "x"]


def test_md_filter_escapes_markdown():
    assert codegen.md("a | b\n<b>[x](y)") == "a \\| b \\<b\\>\\[x\\]\\(y\\)"


def test_examples_come_from_a_small_local_dataset(tmp_path):
    labels = write_bitext_sample(tmp_path / "data.csv", rows=60)
    pairs = codegen.example_pairs(make_plan(str(tmp_path / "data.csv"), labels))
    assert pairs and {label for _, label in pairs} == set(labels)
    assert all(sum(1 for _, lab in pairs if lab == label) <= 2 for label in labels)
    assert codegen.example_pairs(make_plan("owner/hub-dataset", labels)) == []


def test_a_relative_dataset_path_is_never_read_from_the_bots_own_disk(tmp_path, monkeypatch):
    """A relative path names a file in the user's repository; the same name on the server means nothing."""
    labels = write_bitext_sample(tmp_path / "data.csv", rows=60)
    monkeypatch.chdir(tmp_path)
    assert codegen.example_pairs(make_plan("data.csv", labels)) == []


def test_app_is_rendered_only_when_its_template_exists(tmp_path, monkeypatch, plan, request):
    copy = tmp_path / "templates"
    shutil.copytree(bot.templates_dir(), copy)
    (copy / "scripts" / "app.py.j2").unlink(missing_ok=True)
    from bot.core import render

    monkeypatch.setattr(codegen, "templates_dir", lambda: copy)
    monkeypatch.setattr(render, "templates_dir", lambda: copy)
    render.environment.cache_clear()  # the one environment reads the copy for this test only...
    request.addfinalizer(render.environment.cache_clear)  # ...and the real templates again afterwards
    assert "app.py" not in codegen.render_pr_files(plan, examples=[])
    (copy / "scripts" / "app.py.j2").write_text("# app for {{ plan.labels | length }} labels, t={{ threshold }}\n")
    assert codegen.render_pr_files(plan, examples=[], threshold=0.7)["app.py"] == "# app for 3 labels, t=0.7\n"
