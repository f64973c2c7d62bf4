"""Publishing: the local layout mirrors the Hub, both targets are idempotent, the Hub path speaks the Hub API.

The OUT folders are the session's real run of the generated scripts as shipped with each predictor
(`baseline_*`, `ensemble_*`, `alone_*`: conftest.py says how). The Hub is a mock of its HTTP API, named
so below.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from bot.planner.schema import Plan
from bot.writing.artifacts import shipped_eval
from bot.writing.publish import PublishError, build_model_repo, build_space, publish_hub, publish_local

REPO_ID = "ml-intern/bitext-ticket-category"
SPACE_ID = "ml-intern/bitext-ticket-demo"
TOKEN = "hf_test_token_never_logged"
MODEL_FILES = {
    "README.md",
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "confusion_matrix.png",
    "metrics.json",
    "config.yaml",
}
SPACE_FILES = {"README.md", "app.py", "requirements.txt"}


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and modification time."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


def _front_matter(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


def test_publish_local_lays_out_model_repo_and_space_like_the_hub(
    tmp_path, alone_out, alone_plan, alone_metrics, inspection
):
    result = publish_local(tmp_path, alone_out, alone_plan, alone_metrics, REPO_ID, SPACE_ID, inspection)

    model_root, space_root = tmp_path / "models" / REPO_ID, tmp_path / "spaces" / SPACE_ID
    assert (result.model_url, result.space_url) == (str(model_root), str(space_root))
    assert set(_tree(model_root)) == MODEL_FILES
    config = json.loads((model_root / "config.json").read_text())
    assert list(config["id2label"].values()) == alone_plan.labels
    assert Plan(**yaml.safe_load((model_root / "config.yaml").read_text())) == alone_plan
    assert json.loads((model_root / "metrics.json").read_text()) == alone_metrics
    card = ModelCard.load(model_root / "README.md")
    assert card.data.eval_results[0].metric_value == shipped_eval(alone_metrics)["accuracy"]
    assert (model_root / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The local Space carries model/ so that `python app.py` runs offline; otherwise it is the Hub's Space.
    space = _tree(space_root)
    assert SPACE_FILES <= set(space)
    assert {name.removeprefix("model/") for name in space if name.startswith("model/")} == MODEL_FILES & {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    }
    meta = _front_matter((space_root / "README.md").read_text())
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and meta["pinned"] is False
    assert meta["sdk_version"] == version("gradio")
    assert meta["models"] == [REPO_ID] and meta["license"] == "cdla-sharing-1.0"
    assert all(key in meta for key in ("title", "emoji", "colorFrom", "colorTo"))
    requirements = (space_root / "requirements.txt").read_text().split()
    assert {re.split(r"[=<>]", r)[0] for r in requirements} == {
        "gradio",
        "transformers",
        "torch",
        "scikit-learn",  # scikit-learn, safetensors and numpy: the TF-IDF half of a shipped ensemble
        "safetensors",
        "numpy",
    }


def test_publish_local_twice_changes_nothing_and_says_already_published(tmp_path, alone_out, alone_plan, alone_metrics):
    first = publish_local(tmp_path, alone_out, alone_plan, alone_metrics, REPO_ID, SPACE_ID)
    before = _tree(tmp_path)
    second = publish_local(tmp_path, alone_out, alone_plan, alone_metrics, REPO_ID, SPACE_ID)

    assert (first.already_published, second.already_published) == (False, True)
    assert _tree(tmp_path) == before  # same bytes, not even rewritten
    changed = {**alone_metrics, "verdict": "retrained"}
    assert publish_local(tmp_path, alone_out, alone_plan, changed, REPO_ID, SPACE_ID).already_published is False


def test_hub_space_loads_the_model_by_repo_id_instead_of_shipping_it(alone_out, alone_plan, alone_metrics):
    files = build_space(alone_out, alone_plan, alone_metrics, SPACE_ID, REPO_ID)

    assert set(files) == SPACE_FILES
    assert f'MODEL_REPO = "{REPO_ID}"' in files["app.py"].decode()


def test_publishing_without_a_trained_model_says_what_to_do(tmp_path, alone_plan, alone_metrics):
    with pytest.raises(PublishError, match="no trained model .* run training"):
        build_model_repo(tmp_path, alone_plan, alone_metrics, REPO_ID)


def test_publish_local_refuses_repo_ids_that_would_leave_the_target(tmp_path, alone_out, alone_plan, alone_metrics):
    for bad in ("../escape", "ml-intern/../../etc", "/abs/path", "no-namespace"):
        with pytest.raises(PublishError, match="not a Hub repo id"):
            publish_local(tmp_path / "t", alone_out, alone_plan, alone_metrics, bad, SPACE_ID)
    assert not (tmp_path / "t").exists()


# --------------------------------------------------------------------------- a mock of the Hub's HTTP API


def _git_oid(data: bytes) -> str:
    """Git blob id: the `oid` the Hub's preupload endpoint reports for a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class MockHub(ThreadingHTTPServer):
    """The endpoints huggingface_hub 2.4 calls for create_repo, repo_info and create_commit.

    Formats follow huggingface_hub's hf_api.py / _commit_api.py. preupload answers uploadMode
    "regular" for every file, so content arrives base64 inside the ndjson commit and the LFS/Xet
    upload path (which the real Hub uses for model.safetensors) is not exercised here.
    """

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.repos: dict[tuple[str, str], dict] = {}  # (type, id) -> {"files", "commits", "sdk"}
        self.calls: list[tuple[str, str]] = []
        self.forbidden_namespace = "someone-else"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: MockHub

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"error": "Invalid credentials in Authorization header"})
            return False
        return True

    def _repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.server.url}/{'spaces/' if repo_type == 'space' else ''}{repo_id}"

    def do_GET(self):  # repo_info: GET /api/{type}s/{id}[/revision/{rev}]
        self.server.calls.append(("GET", self.path))
        m = re.fullmatch(r"/api/(model|space)s/([^/]+/[^/?]+)(?:/revision/[^?]+)?(?:\?.*)?", self.path)
        repo = m and self.server.repos.get((m[1], m[2]))
        if not repo:
            return self._reply(404, {"error": "Repository not found"})
        siblings = [{"rfilename": name} for name in sorted(repo["files"])]
        self._reply(
            200,
            {
                "id": m[2],
                "sha": repo["commits"][-1],
                "private": False,
                "siblings": siblings,
                **({"sdk": repo["sdk"]} if repo["sdk"] else {}),
            },
        )

    def do_POST(self):
        self.server.calls.append(("POST", self.path.split("?")[0]))
        if not self._authorized():
            return None
        body = self._body()
        path = self.path.split("?")[0]
        if path == "/api/repos/create":
            return self._create(json.loads(body))
        if path == "/api/validate-yaml":
            payload = json.loads(body)
            yaml.safe_load(payload["content"].split("---\n")[1])  # a parse error becomes a 500 in the test
            return self._reply(200, {"errors": [], "warnings": []})
        m = re.fullmatch(r"/api/(model|space)s/([^/]+/[^/]+)/(preupload|commit)/([^/]+)", path)
        repo = m and self.server.repos.get((m[1], m[2]))
        if not repo:
            return self._reply(404, {"error": "Repository not found"})
        if m[3] == "preupload":
            files = json.loads(body)["files"]
            return self._reply(
                200,
                {
                    "files": [
                        {
                            "path": f["path"],
                            "uploadMode": "regular",
                            "shouldIgnore": False,
                            "oid": _git_oid(repo["files"][f["path"]]) if f["path"] in repo["files"] else None,
                        }
                        for f in files
                    ]
                },
            )
        return self._commit(m[1], m[2], repo, body)

    def _create(self, payload: dict) -> None:
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload['organization']}/{payload['name']}"
        if payload["organization"] == self.server.forbidden_namespace:
            return self._reply(403, {"error": "You don't have the rights to create a repo under this namespace"})
        if (repo_type, repo_id) in self.server.repos:
            return self._reply(
                409, {"error": "You already created this repo", "url": self._repo_url(repo_type, repo_id)}
            )
        self.server.repos[(repo_type, repo_id)] = {"files": {}, "commits": ["0" * 40], "sdk": payload.get("sdk")}
        self._reply(200, {"url": self._repo_url(repo_type, repo_id), "name": repo_id})

    def _commit(self, repo_type: str, repo_id: str, repo: dict, body: bytes) -> None:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        assert self.headers["Content-Type"] == "application/x-ndjson" and lines[0]["key"] == "header"
        for line in lines[1:]:
            if line["key"] != "file":  # lfsFile would need the LFS batch endpoint, which this mock lacks
                return self._reply(400, {"error": f"unsupported commit operation {line['key']}"})
            repo["files"][line["value"]["path"]] = base64.b64decode(line["value"]["content"])
        oid = hashlib.sha1(body).hexdigest()
        repo["commits"].append(oid)
        self._reply(
            200, {"success": True, "commitOid": oid, "commitUrl": f"{self._repo_url(repo_type, repo_id)}/commit/{oid}"}
        )


@pytest.fixture
def hub(monkeypatch):
    """A running mock Hub; offline mode is lifted for it only (huggingface_hub blocks all HTTP when set)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    server = MockHub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _bytes(files) -> dict[str, bytes]:
    return {name: value if isinstance(value, bytes) else value.read_bytes() for name, value in files.items()}


def test_publish_hub_against_mock_hub_api(hub, alone_out, alone_plan, alone_metrics, inspection):
    result = publish_hub(TOKEN, alone_out, alone_plan, alone_metrics, REPO_ID, SPACE_ID, inspection, endpoint=hub.url)

    assert result.model_url == f"{hub.url}/{REPO_ID}" and result.space_url == f"{hub.url}/spaces/{SPACE_ID}"
    assert result.already_published is False
    model, space = hub.repos[("model", REPO_ID)], hub.repos[("space", SPACE_ID)]
    assert space["sdk"] == "gradio"
    assert model["files"] == _bytes(build_model_repo(alone_out, alone_plan, alone_metrics, REPO_ID, inspection))
    assert space["files"] == _bytes(build_space(alone_out, alone_plan, alone_metrics, SPACE_ID, REPO_ID))
    assert (len(model["commits"]), len(space["commits"])) == (2, 2)  # the initial one + exactly one each
    assert ("POST", "/api/validate-yaml") in hub.calls  # the README front matter was checked before upload

    again = publish_hub(TOKEN, alone_out, alone_plan, alone_metrics, REPO_ID, SPACE_ID, inspection, endpoint=hub.url)
    assert again.already_published is True
    assert (len(model["commits"]), len(space["commits"])) == (2, 2)  # no second commit


def test_publish_hub_explains_a_refused_namespace_without_leaking_the_token(hub, alone_out, alone_plan, alone_metrics):
    with pytest.raises(PublishError) as err:
        publish_hub(TOKEN, alone_out, alone_plan, alone_metrics, "someone-else/model", SPACE_ID, endpoint=hub.url)

    assert "HTTP 403" in str(err.value) and "write access" in str(err.value)
    assert TOKEN not in str(err.value)


def test_publish_hub_in_offline_mode_says_how_to_publish_locally(alone_out, alone_plan, alone_metrics, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PublishError, match="ML_INTERN_PUBLISH_TARGET"):
        publish_hub(TOKEN, alone_out, alone_plan, alone_metrics, REPO_ID, SPACE_ID, endpoint="http://127.0.0.1:9")


def test_an_ensemble_run_publishes_its_tfidf_companion_with_the_model_and_the_space(
    tmp_path, ensemble_out, ensemble_plan, ensemble_metrics
):
    from bot.research.tfidf import TfidfClassifier

    companion = {"tfidf/tfidf.json", "tfidf/tfidf.safetensors"}
    publish_local(tmp_path, ensemble_out, ensemble_plan, ensemble_metrics, REPO_ID, SPACE_ID)

    model_root, space_root = tmp_path / "models" / REPO_ID, tmp_path / "spaces" / SPACE_ID
    assert set(_tree(model_root)) == MODEL_FILES | companion
    loaded = TfidfClassifier.load(model_root / "tfidf")
    assert loaded.finetuned_weight == ensemble_metrics["ensemble"]["finetuned_weight"]
    assert companion <= {name.removeprefix("model/") for name in _tree(space_root)}
    threshold = ensemble_metrics["ensemble"]["abstain"]["threshold"]
    assert threshold != ensemble_metrics["finetuned"]["abstain"]["threshold"]
    assert f"THRESHOLD = {json.dumps(threshold)}  #" in (space_root / "app.py").read_text()
    readme = " ".join((space_root / "README.md").read_text().split())
    assert "It serves the predictor the model card evaluates, the **fine-tuned transformer + TF-IDF ensemble**" in readme
    weight = ensemble_metrics["ensemble"]["finetuned_weight"]
    assert f"times {weight:.2f}, plus those of the TF-IDF + LinearSVC model" in readme
    assert f"{100 * threshold:.1f} % (the abstain threshold" in readme
    # On the Hub the Space downloads the model repo, companion included, instead of carrying it.
    assert set(build_space(ensemble_out, ensemble_plan, ensemble_metrics, SPACE_ID, REPO_ID)) == SPACE_FILES


def test_a_baseline_run_publishes_the_tfidf_model_and_a_space_that_says_so(
    tmp_path, baseline_out, baseline_plan, baseline_metrics
):
    from bot.research.tfidf import TfidfClassifier

    publish_local(tmp_path, baseline_out, baseline_plan, baseline_metrics, REPO_ID, SPACE_ID)
    model_root, space_root = tmp_path / "models" / REPO_ID, tmp_path / "spaces" / SPACE_ID

    # The fine-tune is there too: it is what pipeline() loads, and the card says it is not what ships.
    assert set(_tree(model_root)) == MODEL_FILES | {"tfidf/tfidf.json", "tfidf/tfidf.safetensors"}
    assert TfidfClassifier.load(model_root / "tfidf").finetuned_weight == 0.0
    card = ModelCard.load(model_root / "README.md")
    assert card.data.eval_results[0].metric_value == baseline_metrics["finetuned"]["accuracy"]
    assert "**Result** (TF-IDF + LinearSVC baseline)." in card.text
    abstain = baseline_metrics["baseline"]["abstain"]
    assert f"THRESHOLD = {json.dumps(abstain['threshold'])}  #" in (space_root / "app.py").read_text()
    readme = " ".join((space_root / "README.md").read_text().split())
    assert "It serves the predictor the model card evaluates, the **TF-IDF + LinearSVC baseline**" in readme
    assert "this Space does not load the transformer at all" in readme
    assert f"the app answers {100 * abstain['coverage']:.1f} % of the test texts" in readme
    assert f"{100 * abstain['accuracy']:.1f} % of those answers are right" in readme
    assert (
        f"get `UNKNOWN` {100 * abstain['ood_refusal_rate']:.1f} % of the time on {abstain['ood_rows']} held-out "
        "off-topic sentences" in readme
    )
    assert "ensemble" not in readme


def test_nothing_is_published_when_the_files_and_metrics_disagree_on_what_ships(
    tmp_path, baseline_out, baseline_plan, baseline_metrics, alone_out, alone_metrics, ensemble_metrics
):
    """The card, the Space and the verdict describe one predictor, the one the model folder serves."""
    cases = [
        (baseline_out, alone_metrics, "ships the fine-tuned transformer but .* holds the TF-IDF \\+ LinearSVC baseline"),
        (alone_out, baseline_metrics, "ships the TF-IDF \\+ LinearSVC baseline but .* holds the fine-tuned transformer"),
        (baseline_out, {**baseline_metrics, "shipped": "finetuned"}, "train.py's decision chose `baseline`"),
        (baseline_out, ensemble_metrics, "holds the TF-IDF \\+ LinearSVC baseline"),
    ]
    for out, metrics, message in cases:
        for build in (build_model_repo, build_space):
            args = (REPO_ID,) if build is build_model_repo else (SPACE_ID, REPO_ID)
            with pytest.raises(PublishError, match=message):
                build(out, baseline_plan, metrics, *args)
        with pytest.raises(PublishError):
            publish_local(tmp_path / "target", out, baseline_plan, metrics, REPO_ID, SPACE_ID)
    assert not (tmp_path / "target" / "models").exists()
    assert not (tmp_path / "target" / "spaces").exists()
