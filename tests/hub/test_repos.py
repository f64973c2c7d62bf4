"""Repositories on the local Hub through the real huggingface_hub client: create, upload (regular, LFS
and Xet), revisions, info, listings, deletions, downloads and refusals."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest

from bot.hub.store import read_json
from tests.hub.conftest import ALICE, BOB, ORG, tree

BLOB_SIZE = 12 * 1024 * 1024  # over the 10 MiB line, and *.safetensors: LFS either way


def safetensors_like(size: int = BLOB_SIZE) -> bytes:
    """A header like safetensors' (little-endian length + JSON), then random and zero bytes."""
    header = b'{"w":{"dtype":"F32","shape":[3,1048576],"data_offsets":[0,12582912]}}'
    body = os.urandom(size // 2) + bytes(size - size // 2 - 8 - len(header))
    return len(header).to_bytes(8, "little") + header + body


def model_folder(folder, blob: bytes, config: str = '{"labels": 2}'):
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(config)
    (folder / "README.md").write_text("---\nlicense: mit\nlibrary_name: transformers\ntags: [text-classification]\n"
                                      "---\n# A model\n")
    (folder / "sub" / "notes.txt").write_text("hello\n")
    (folder / "model.safetensors").write_bytes(blob)
    return folder


def in_xet_index(hub, sha256: str) -> bool:
    return any(v["sha256"] == sha256 for v in read_json(hub.store.root / "xet" / "files.json", {}).values())


@pytest.mark.parametrize("transfer", ["lfs", "xet"])
def test_upload_folder_then_snapshot_download_at_each_revision(hub, api, repo_id, tmp_path, monkeypatch, transfer):
    import huggingface_hub.constants
    from huggingface_hub import snapshot_download

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", transfer == "lfs")
    blob = safetensors_like()
    first = api.upload_folder(repo_id=repo_id, folder_path=model_folder(tmp_path / "v1", blob), commit_message="v1")
    second = api.upload_folder(repo_id=repo_id, folder_path=model_folder(tmp_path / "v2", blob, '{"labels": 3}'),
                               commit_message="v2")

    # the client took the LFS batch API, or the Xet CAS, as asked
    assert in_xet_index(hub, hashlib.sha256(blob).hexdigest()) is (transfer == "xet")
    latest = snapshot_download(repo_id, local_dir=tmp_path / "latest", endpoint=hub.url, token=hub.tokens[ALICE])
    snapshot_download(repo_id, revision=first.oid, local_dir=tmp_path / "older", endpoint=hub.url,
                      token=hub.tokens[ALICE])
    got_latest, got_older = tree(tmp_path / "latest"), tree(tmp_path / "older")
    assert str(latest) == str(tmp_path / "latest")
    assert got_latest["model.safetensors"] == blob and got_latest["config.json"] == b'{"labels": 3}'
    assert got_older["config.json"] == b'{"labels": 2}' and got_older["sub/notes.txt"] == b"hello\n"
    assert set(got_latest) == {".gitattributes", "README.md", "config.json", "model.safetensors", "sub/notes.txt"}
    assert second.oid != first.oid and len(second.oid) == 40
    assert [c.title for c in api.list_repo_commits(repo_id)] == ["v2", "v1", "initial commit"]


def test_the_same_upload_again_makes_no_commit(api, repo_id, tmp_path):
    folder = model_folder(tmp_path, b"\x00weights" * 100)
    first = api.upload_folder(repo_id=repo_id, folder_path=folder)
    again = api.upload_folder(repo_id=repo_id, folder_path=folder)

    assert again.oid == first.oid  # the preupload answer's oids let the client skip unchanged files
    assert len(api.list_repo_commits(repo_id)) == 2


def test_model_info_lists_siblings_with_lfs_metadata_and_the_card(api, repo_id, tmp_path):
    blob = b"\x00" + os.urandom(3000)
    commit = api.upload_folder(repo_id=repo_id, folder_path=model_folder(tmp_path, blob))

    info = api.model_info(repo_id, files_metadata=True)
    siblings = {s.rfilename: s for s in info.siblings}
    assert info.id == repo_id and info.sha == commit.oid and info.private is False
    assert info.card_data.license == "mit" and info.library_name == "transformers"
    assert "text-classification" in info.tags
    weights = siblings["model.safetensors"]
    assert weights.size == len(blob) and weights.lfs.sha256 == hashlib.sha256(blob).hexdigest()
    assert siblings["config.json"].lfs is None and siblings["config.json"].size == len(b'{"labels": 2}')
    assert api.repo_info(repo_id).sha == commit.oid


def test_list_repo_files_and_tree(api, repo_id, tmp_path):
    api.upload_folder(repo_id=repo_id, folder_path=model_folder(tmp_path, b"w"))
    from huggingface_hub.hf_api import RepoFile, RepoFolder

    files = api.list_repo_files(repo_id)
    top = {item.path: type(item) for item in api.list_repo_tree(repo_id)}
    inside = [item.path for item in api.list_repo_tree(repo_id, path_in_repo="sub", expand=True)]
    assert files == [".gitattributes", "README.md", "config.json", "model.safetensors", "sub/notes.txt"]
    assert top["sub"] is RepoFolder and top["config.json"] is RepoFile and "sub/notes.txt" not in top
    assert inside == ["sub/notes.txt"]
    assert api.file_exists(repo_id, "sub/notes.txt") and not api.file_exists(repo_id, "nope.txt")


def test_deleting_files_and_folders(api, repo_id, tmp_path):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import EntryNotFoundError

    api.upload_folder(repo_id=repo_id, folder_path=model_folder(tmp_path, b"w"))
    api.create_commit(repo_id, [CommitOperationDelete("config.json"), CommitOperationDelete("sub/", is_folder=True),
                                CommitOperationAdd("new.txt", b"new\n")], commit_message="prune")

    assert api.list_repo_files(repo_id) == [".gitattributes", "README.md", "model.safetensors", "new.txt"]
    with pytest.raises(EntryNotFoundError):
        api.create_commit(repo_id, [CommitOperationDelete("config.json")], commit_message="again")


def test_private_repos_and_refusals(hub, api, online):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    url = api.create_repo(f"{ORG}/secret-model", private=True)
    assert url.repo_id == f"{ORG}/secret-model" and url == f"{hub.url}/{ORG}/secret-model"
    assert api.create_repo(f"{ORG}/secret-model", exist_ok=True) == url
    with pytest.raises(HfHubHTTPError) as exists:
        api.create_repo(f"{ORG}/secret-model")
    assert exists.value.response.status_code == 409

    anonymous, bob = HfApi(endpoint=hub.url, token=False), HfApi(endpoint=hub.url, token=hub.tokens[BOB])
    for outsider in (anonymous, bob):
        with pytest.raises(RepositoryNotFoundError):
            outsider.model_info(f"{ORG}/secret-model")
    with pytest.raises(HfHubHTTPError) as refused:
        bob.create_repo(f"{ALICE}/not-bobs")
    assert refused.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as read_only:
        HfApi(endpoint=hub.url, token=hub.tokens["alice-read"]).create_repo(f"{ALICE}/read-only")
    assert read_only.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        HfApi(endpoint=hub.url, token="hf_not_a_token").whoami()


def test_hf_hub_download_and_its_errors(hub, api, repo_id, tmp_path):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    commit = api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data/train.csv", repo_id=repo_id)
    path = hf_hub_download(repo_id, "data/train.csv", revision=commit.oid, cache_dir=tmp_path, endpoint=hub.url,
                           token=hub.tokens[ALICE])

    assert Path(path).read_bytes() == b"a,b\n1,2\n" and commit.oid in path
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "data/missing.csv", cache_dir=tmp_path, endpoint=hub.url, token=hub.tokens[ALICE])
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "data/train.csv", revision="no-such-branch", cache_dir=tmp_path,
                        endpoint=hub.url, token=hub.tokens[ALICE])


def test_resolve_answers_the_headers_the_client_needs(hub, api, repo_id):
    blob = b"\x00" + os.urandom(5000)
    commit = api.upload_file(path_or_fileobj=blob, path_in_repo="model.safetensors", repo_id=repo_id)
    url = f"{hub.url}/{repo_id}/resolve/main/model.safetensors"

    head = httpx.head(url)
    part = httpx.get(url, headers={"Range": "bytes=1-10"})
    sha = hashlib.sha256(blob).hexdigest()
    assert head.status_code == 200 and head.headers["X-Repo-Commit"] == commit.oid
    assert head.headers["ETag"] == f'"{sha}"' and head.headers["X-Linked-Etag"] == f'"{sha}"'
    assert head.headers["Content-Length"] == head.headers["X-Linked-Size"] == str(len(blob))
    assert part.status_code == 206 and part.content == blob[1:11]
    missing = httpx.head(f"{hub.url}/{repo_id}/resolve/main/nope.bin")
    assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
    assert missing.headers["X-Repo-Commit"] == commit.oid


def test_dataset_and_space_repositories(hub, api, tmp_path):
    from huggingface_hub import hf_hub_download

    api.create_repo(f"{ORG}/tickets", repo_type="dataset")
    api.create_repo(f"{ORG}/demo", repo_type="space", space_sdk="gradio")
    api.upload_file(path_or_fileobj=b"text,label\nhi,greet\n", path_in_repo="train.csv", repo_id=f"{ORG}/tickets",
                    repo_type="dataset")
    api.upload_file(path_or_fileobj=b"import gradio\n", path_in_repo="app.py", repo_id=f"{ORG}/demo",
                    repo_type="space")

    csv = hf_hub_download(f"{ORG}/tickets", "train.csv", repo_type="dataset", cache_dir=tmp_path, endpoint=hub.url)
    assert Path(csv).read_text() == "text,label\nhi,greet\n"
    assert api.space_info(f"{ORG}/demo").sdk == "gradio"
    assert [s.rfilename for s in api.dataset_info(f"{ORG}/tickets").siblings] == [".gitattributes", "train.csv"]


def test_listing_settings_and_deleting_repositories(hub, api, online):
    from huggingface_hub import HfApi

    card = b"---\nlicense: apache-2.0\ntask_categories: [text-classification]\n---\n# Support tickets\n"
    api.create_repo(f"{ORG}/support-tickets", repo_type="dataset")
    api.upload_file(path_or_fileobj=card, path_in_repo="README.md", repo_id=f"{ORG}/support-tickets",
                    repo_type="dataset")
    api.create_repo(f"{ALICE}/hidden-tickets", repo_type="dataset", private=True)

    found = [d.id for d in api.list_datasets(search="tickets", filter="task_categories:text-classification")]
    assert found == [f"{ORG}/support-tickets"]
    assert {d.id for d in api.list_datasets(author=ALICE)} == {f"{ALICE}/hidden-tickets"}
    assert [d.id for d in HfApi(endpoint=hub.url, token=False).list_datasets(search="hidden")] == []

    api.update_repo_settings(f"{ORG}/support-tickets", private=True, repo_type="dataset")
    assert api.dataset_info(f"{ORG}/support-tickets").private is True
    api.delete_repo(f"{ORG}/support-tickets", repo_type="dataset")
    assert not api.repo_exists(f"{ORG}/support-tickets", repo_type="dataset")


def test_paths_and_ids_never_leave_the_store(hub, api, repo_id):
    auth = {"authorization": f"Bearer {hub.tokens[ALICE]}"}
    lines = [{"key": "header", "value": {"summary": "x"}},
             {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "../../../tokens.json"}}]
    body = "".join(f"{json.dumps(line)}\n" for line in lines)
    commit = httpx.post(f"{hub.url}/api/models/{repo_id}/commit/main", content=body, headers=auth)
    sneaky = httpx.post(f"{hub.url}/api/repos/create", json={"name": "x", "organization": ".."}, headers=auth)
    api.create_bucket(f"{ALICE}/scratch", exist_ok=True)
    batch = httpx.post(f"{hub.url}/api/buckets/{ALICE}/scratch/batch", headers=auth,
                       content=json.dumps({"type": "addFile", "path": "../../escape.py", "xetHash": "0" * 64}))

    assert commit.status_code == 400 and "was not uploaded" in commit.json()["error"]
    assert sneaky.status_code in (400, 403) and not (hub.store.root / "repos" / "model" / ".." / "x").exists()
    assert batch.status_code == 422 and batch.json()["failed"] == [{"path": "../../escape.py", "error": "invalid path"}]
