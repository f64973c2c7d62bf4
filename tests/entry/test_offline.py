"""`serve` and `demo` offline: the packaged model laid out as a Hub cache every script can find."""

import os
from pathlib import Path

from bot.offline import prepare_offline


def test_offline_start_up_gives_scripts_an_absolute_cache_wherever_they_run(tmp_path, monkeypatch):
    """Regression: a relative default workdir gave HF_HOME=.ml-intern/hf-home, which the smoke test (run in
    another folder) could not find, so `serve` failed every smoke test offline on a fresh clone."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert prepare_offline(Path(".ml-intern") / "hf-home", online=False)
    home = Path(os.environ["HF_HOME"])
    assert home.is_absolute() and os.environ["HF_HUB_OFFLINE"] == "1"
    snapshot = next((home / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots").iterdir())
    assert (snapshot / "config.json").is_file()


def test_online_start_up_changes_nothing(monkeypatch):
    monkeypatch.setenv("HF_HOME", "/somewhere")
    assert not prepare_offline(Path("unused"), online=True)
    assert os.environ["HF_HOME"] == "/somewhere"
