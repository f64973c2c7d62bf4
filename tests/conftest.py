"""Shared test set-up: offline Hub cache with the real MiniLM weights, and paths to the real data.

The environment is set at import time, before any test imports transformers or huggingface_hub,
because both read HF_HOME and HF_HUB_OFFLINE when first imported.
"""

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
GITHUB_FORMATS = ROOT.parent / "shared" / "github"

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("ML_INTERN_DATA_DIR", str(DATA))
if "ML_INTERN_TEST_HF_HOME" not in os.environ:
    os.environ["ML_INTERN_TEST_HF_HOME"] = tempfile.mkdtemp(prefix="ml-intern-hf-")
os.environ["HF_HOME"] = os.environ["ML_INTERN_TEST_HF_HOME"]

from bot.research.models import ensure_offline_model

ensure_offline_model(Path(os.environ["HF_HOME"]))


@pytest.fixture(scope="session")
def hf_home() -> Path:
    """The offline Hub cache that holds sentence-transformers/all-MiniLM-L6-v2."""
    return Path(os.environ["HF_HOME"])


@pytest.fixture(scope="session")
def bitext_csv() -> Path:
    path = DATA / "bitext" / "bitext.csv"
    assert path.exists(), f"the Bitext data set is missing at {path} (see ../shared/data/README.md)"
    return path


@pytest.fixture(scope="session")
def bitext_sample(tmp_path_factory, bitext_csv) -> Path:
    """1,100 real Bitext rows (100 per category), enough to train a few steps and still see every class."""
    import pandas as pd

    frame = pd.read_csv(bitext_csv)
    sample = frame.groupby("category", sort=True).sample(n=100, random_state=0)
    path = tmp_path_factory.mktemp("bitext") / "bitext_sample.csv"
    sample.sample(frac=1.0, random_state=0).to_csv(path, index=False)
    return path
