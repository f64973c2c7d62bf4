"""How the demo picks its data set, and what it says when it finds none."""

import pytest

from bot.playground import demo
from bot.research import data


def test_demo_defaults_to_the_local_bitext_copy_offline(bitext_csv):
    assert demo.choose_dataset(None, online=False) == str(bitext_csv.resolve())


def test_demo_defaults_to_the_hub_bitext_online():
    assert demo.choose_dataset(None, online=True) == demo.BITEXT_HUB_ID


def test_demo_without_data_says_how_to_point_it_at_some(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(data, "default_data_dirs", lambda: [tmp_path])
    assert demo.run_demo(None, tmp_path / "out") == 2
    message = capsys.readouterr().out
    assert "--dataset" in message and "ML_INTERN_DATA_DIR" in message


def test_a_missing_dataset_file_is_named(tmp_path):
    with pytest.raises(demo.DemoError, match="no such file"):
        demo.choose_dataset(str(tmp_path / "tickets.csv"), online=False)
