"""Fixtures of the local Hub tests: one served Hub per module, its users, and the REAL huggingface_hub
client pointed at it.

tests/conftest.py sets HF_HUB_OFFLINE=1 before huggingface_hub is imported, and in offline mode the
client refuses every request, even to a local endpoint. huggingface_hub reads the flag back through
`constants.is_offline_mode()` on each request, so `online` lifts it for one test only; the same goes for
HF_HUB_DISABLE_XET (read by `is_xet_available()`), which picks LFS instead of Xet uploads.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.hub import HubServer, HubStore

ALICE, BOB = "alice", "bob"
ORG = "acme"
_names = itertools.count()


@dataclass
class Hub:
    server: HubServer
    store: HubStore
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Hub:
    """A local Hub on a free port; users alice (org acme), bob, and a read-only token for alice."""
    store = HubStore(tmp_path_factory.mktemp("hub"))
    tokens = {ALICE: store.add_token(ALICE, (ORG,)), BOB: store.add_token(BOB),
              "alice-read": store.add_token(ALICE, (ORG,), role="read")}
    server = HubServer(store).start()
    yield Hub(server, store, tokens)
    server.stop()


@pytest.fixture
def online(monkeypatch):
    """The real client, allowed to talk to the local endpoint for this test."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_EXPERIMENTAL_WARNING", True)


@pytest.fixture
def api(hub, online):
    """alice's HfApi against the local Hub."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=hub.tokens[ALICE])


@pytest.fixture
def repo_id(api) -> str:
    """A fresh model repository in alice's namespace."""
    name = f"{ALICE}/model-{next(_names)}"
    api.create_repo(name)
    return name


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (but huggingface_hub's own .cache), by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".cache" not in p.relative_to(folder).parts}
