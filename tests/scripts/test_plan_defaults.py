"""One source of defaults: the generated scripts read plan values from config.yaml (or have them rendered in
from the Plan), and never fall back to a default of their own that differs from the Plan's."""

from __future__ import annotations

import ast

import pytest
import yaml

from bot.planner.schema import Plan
from bot.writing import codegen

from . import make_plan

REQUIRED = object()  # read as config["key"]: no fallback at all


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    # values away from every default, so a rendered-in default would show
    return codegen.render_pr_files(make_plan("data.csv", ["a", "b"], max_length=40, seed=7), examples=[])


def config_reads(source: str) -> list[tuple[str, object]]:
    """(key, fallback) for each read of the `config` dict: config["k"], config.get("k"[, d]), config.get("k") or d."""
    reads, with_or = [], set()
    nodes = sorted(ast.walk(ast.parse(source)), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
    for node in nodes:
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and _is_config_get(node.values[0]):
            with_or.add(id(node.values[0]))  # `config.get(k) or d`: d is the fallback
            reads.append((node.values[0].args[0].value, _literal(node.values[1])))
        elif isinstance(node, ast.Subscript) and _is_config(node.value) and isinstance(node.slice, ast.Constant):
            reads.append((node.slice.value, REQUIRED))
        elif _is_config_get(node) and id(node) not in with_or:
            reads.append((node.args[0].value, _literal(node.args[1]) if len(node.args) > 1 else None))
    return reads


def _is_config(node) -> bool:
    return isinstance(node, ast.Name) and node.id == "config"


def _is_config_get(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and _is_config(node.func.value) and bool(node.args) and isinstance(node.args[0], ast.Constant))


def _literal(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return f"<not a literal: {ast.unparse(node)}>"


def plan_keys(source: str) -> set[str]:
    """The script's PLAN_KEYS: the keys load_config insists on, so a missing one is named, not a KeyError."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PLAN_KEYS" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


@pytest.mark.parametrize("name", ["train.py", "evaluate.py"])
def test_every_plan_field_a_script_reads_has_no_fallback_that_differs_from_the_plan(files, name):
    reads = config_reads(files[name])
    assert reads, f"{name} reads nothing from config.yaml?"
    fields = Plan.model_fields
    for key, fallback in reads:
        assert key in fields, f"{name} reads config[{key!r}], which is not a Plan field"
        if fallback is REQUIRED:
            assert key in plan_keys(files[name]), f"{name} reads config[{key!r}] but its load check does not"
        else:
            default = fields[key].default
            assert fallback == default and type(fallback) is type(default), (
                f"{name} falls back to {fallback!r} for {key!r}; the Plan's default is {default!r}")


@pytest.mark.parametrize("name", ["train.py", "evaluate.py"])
def test_the_keys_a_script_insists_on_are_in_every_config_yaml(files, name):
    config = yaml.safe_load(files["config.yaml"])
    assert plan_keys(files[name]) and plan_keys(files[name]) <= set(config) == set(Plan.model_fields)


def test_the_space_app_has_the_plan_values_rendered_in(files):
    app = files["app.py"]
    assert not config_reads(app)
    tree = ast.parse(app)
    constants = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name) and t.id in ("MAX_LENGTH", "LABEL_COLUMN")}
    assert constants == {"MAX_LENGTH": 40, "LABEL_COLUMN": "category"}


def test_the_check_catches_a_second_default():
    source = ('x = int(config.get("max_length", 128))\ny = config.get("threads") or 1\n'
              'z = config.get("seed", 42)\nw = config["epochs"]\n')
    assert config_reads(source) == [("max_length", 128), ("threads", 1), ("seed", 42), ("epochs", REQUIRED)]
    assert Plan.model_fields["max_length"].default != 128 and Plan.model_fields["threads"].default != 1
