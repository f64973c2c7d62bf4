"""How the demo picks its data set, and what it says when it finds none."""

import pytest

from bot.playground import demo
from bot.research import data


def test_demo_defaults_to_the_local_bitext_copy(bitext_csv):
    assert demo.choose_dataset(None) == str(bitext_csv.resolve())


def test_a_catalogued_hub_id_means_its_local_copy(bitext_csv):
    """The demo's Hub is the local one, which holds models; a catalogued data set is read from its copy."""
    assert demo.choose_dataset(demo.BITEXT_HUB_ID) == str(bitext_csv.resolve())


def test_demo_without_data_says_how_to_point_it_at_some(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(data, "default_data_dirs", lambda: [tmp_path])
    assert demo.run_demo(None, tmp_path / "out") == 2
    message = capsys.readouterr().out
    assert "--dataset" in message and "ML_INTERN_DATA_DIR" in message


@pytest.mark.parametrize("name", ["tickets.csv", "acme/not-catalogued"])
def test_a_dataset_that_is_neither_a_file_nor_catalogued_is_named(tmp_path, name):
    with pytest.raises(demo.DemoError, match="no such file, and not a catalogued Hub data set"):
        demo.choose_dataset(str(tmp_path / name) if name.endswith(".csv") else name)
