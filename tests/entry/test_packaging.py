"""The wheel a user installs: templates inside it, the console script, and an import that finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The templates the PR, the Space and the comments are rendered from (contract: bot/writing/codegen.py, publish).
REQUIRED_TEMPLATES = ["scripts/train.py.j2", "scripts/evaluate.py.j2", "scripts/app.py.j2"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel the way pip does for a user, without the network (hatchling is in the venv)."""
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    [built] = out.glob("ml_intern_bot-0.1.0-*.whl")
    return built


def repo_templates() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT / "templates"))
        for p in (ROOT / "templates").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def test_wheel_ships_every_template_inside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in REQUIRED_TEMPLATES:
        assert f"bot/_templates/{name}" in names
    missing = [t for t in repo_templates() if f"bot/_templates/{t}" not in names]
    assert missing == []
    assert not any(n.startswith("templates/") for n in names), "templates must live inside the bot package"


def test_wheel_ships_the_offline_catalog_and_both_packages(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "bot/research/catalog.json" in names
    assert {"bot/__init__.py", "bot/cli.py", "bot/edge/server.py", "bot/edge/action.py", "runners/__init__.py"} <= names
    assert not any(n.startswith(("tests/", ".venv/")) for n in names)


def test_wheel_declares_the_console_script_and_metadata(wheel):
    archive = zipfile.ZipFile(wheel)
    dist_info = "ml_intern_bot-0.1.0.dist-info"
    entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert "[console_scripts]" in entry_points
    assert "ml-intern-bot = bot.cli:main" in entry_points
    metadata = archive.read(f"{dist_info}/METADATA").decode()
    assert "Name: ml-intern-bot" in metadata and "Requires-Python: >=3.11" in metadata
    assert "Requires-Dist: torch>=2.2" in metadata
    assert "Provides-Extra: claude" in metadata


def test_installed_wheel_finds_its_own_templates(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import bot, pathlib; d = bot.templates_dir(); "
        "print(pathlib.Path(bot.__file__).resolve()); print(d.resolve()); "
        "print((d / 'scripts' / 'train.py.j2').is_file())"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    module, templates, has_train = done.stdout.split()
    assert Path(module).is_relative_to(site.resolve()), "imported the checkout, not the wheel"
    assert Path(templates) == (site / "bot" / "_templates").resolve()
    assert has_train == "True"
