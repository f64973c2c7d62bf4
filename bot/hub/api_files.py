"""File routes of a repository: tree, paths-info, refs, commits, preupload, commit and resolve.

Shapes follow what huggingface_hub 2.x sends and parses (hf_api.py: `list_repo_tree`, `get_paths_info`,
`list_repo_refs`, `list_repo_commits`; _commit_api.py: `_fetch_upload_modes`, `_prepare_commit_payload`,
`_send_commit`; file_download.py: `get_hf_file_metadata`, `http_get`). `{kind}` is models, datasets or spaces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from bot.hub.api_repos import kind_of, need_write, repo_url, repos
from bot.hub.errors import bad_request, entry_not_found, optional_user, required_user, store_of
from bot.hub.repos import file_entry
from bot.hub.store import HubStore, User

router = APIRouter()


# --- listing ------------------------------------------------------------------------------------------
@router.get("/api/{kind}/{owner}/{name}/tree/{revision}")
@router.get("/api/{kind}/{owner}/{name}/tree/{revision}/{path:path}")
def tree(kind: str, owner: str, name: str, revision: str, request: Request, path: str = "", recursive: bool = False,
         expand: bool = False, user: User | None = Depends(optional_user)) -> list[dict]:
    repo_id, kind = f"{owner}/{name}", kind_of(kind)
    store = repos(request)
    store.visible(kind, repo_id, user)
    sha, files = store.files(kind, repo_id, revision)
    path = path.strip("/")
    if path in files:
        raise entry_not_found(path, sha)  # the tree of a file is not a listing, as on the Hub
    prefix = f"{path}/" if path else ""
    folders, entries = set(), []
    for file_path, entry in sorted(files.items()):
        if not file_path.startswith(prefix):
            continue
        rest = file_path[len(prefix):].split("/")
        for depth in range(1, len(rest)):
            folders.add(prefix + "/".join(rest[:depth]))
        if recursive or len(rest) == 1:
            entries.append(_tree_file(file_path, entry))
    if path and not entries and not folders:
        raise entry_not_found(path, sha)
    shown = sorted(f for f in folders if recursive or "/" not in f[len(prefix):])
    listing = [_tree_folder(f, sha) for f in shown] + entries
    if expand:
        history = store.history(kind, repo_id, sha)
        for item in listing:
            item["lastCommit"] = _last_commit(history, item["path"])
    return listing


def _tree_file(path: str, entry: dict) -> dict:
    item = {"type": "file", "oid": entry["oid"], "size": entry["size"], "path": path}
    if entry["lfs"]:
        item["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": entry["pointerSize"]}
    return item


def _tree_folder(path: str, sha: str) -> dict:
    return {"type": "directory", "oid": hashlib.sha1(f"{sha}:{path}".encode()).hexdigest(), "size": 0, "path": path}


def _last_commit(history: list[dict], path: str) -> dict:
    """The oldest commit of the newest run in which `path` (a file, or anything under a folder) is unchanged."""
    def state(commit: dict):
        files = commit["files"]
        return files.get(path) or sorted((k, v["oid"]) for k, v in files.items() if k.startswith(path + "/"))
    last = history[0]
    for older in history[1:]:
        if state(older) != state(last):
            break
        last = older
    return {"id": last["id"], "title": last["title"], "date": last["date"]}


@router.post("/api/{kind}/{owner}/{name}/paths-info/{revision}")
async def paths_info(kind: str, owner: str, name: str, revision: str, request: Request,
                     user: User | None = Depends(optional_user)) -> list[dict]:
    repo_id, kind = f"{owner}/{name}", kind_of(kind)
    store = repos(request)
    store.visible(kind, repo_id, user)
    form = await request.form()
    sha, files = store.files(kind, repo_id, revision)
    out = []
    for path in (str(p).strip("/") for p in form.getlist("paths")):
        if path in files:
            out.append(_tree_file(path, files[path]))
        elif any(file_path.startswith(path + "/") for file_path in files):
            out.append(_tree_folder(path, sha))
    return out


@router.get("/api/{kind}/{owner}/{name}/refs")
def refs(kind: str, owner: str, name: str, request: Request, user: User | None = Depends(optional_user)) -> dict:
    repo_id, kind = f"{owner}/{name}", kind_of(kind)
    repos(request).visible(kind, repo_id, user)
    branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": sha}
                for b, sha in sorted(repos(request).refs(kind, repo_id).items())]
    return {"branches": branches, "converts": [], "tags": [], "pullRequests": []}


@router.get("/api/{kind}/{owner}/{name}/commits/{revision}")
def commits(kind: str, owner: str, name: str, revision: str, request: Request,
            user: User | None = Depends(optional_user)) -> list[dict]:
    repo_id, kind = f"{owner}/{name}", kind_of(kind)
    repos(request).visible(kind, repo_id, user)
    return [{"id": c["id"], "title": c["title"], "message": c["message"], "date": c["date"],
             "authors": [{"user": c["author"]}]} for c in repos(request).history(kind, repo_id, revision)]


# --- uploading ----------------------------------------------------------------------------------------
@router.post("/api/{kind}/{owner}/{name}/preupload/{revision}")
async def preupload(kind: str, owner: str, name: str, revision: str, request: Request,
                    user: User = Depends(required_user)) -> dict:
    repo_id, kind = f"{owner}/{name}", kind_of(kind)
    store = repos(request)
    store.visible(kind, repo_id, user)
    need_write(user, repo_id)
    _no_pull_requests(request)
    sha, files = store.files(kind, repo_id, revision)
    answers = []
    for item in (await request.json()).get("files", []):
        path, sample = item["path"], base64.b64decode(item.get("sample", ""))
        mode = store.upload_mode(files, path, int(item.get("size", 0)), sample)
        current = files.get(path)
        oid = None if current is None else current["sha256"] if current["lfs"] else current["oid"]
        answers.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
    return {"files": answers, "commitOid": sha}


def _no_pull_requests(request: Request) -> None:
    if request.query_params.get("create_pr") in ("1", "true", "True"):
        raise bad_request("The local Hub does not support pull requests (create_pr)")


@router.post("/api/{kind}/{owner}/{name}/commit/{revision}")
async def commit(kind: str, owner: str, name: str, revision: str, request: Request,
                 user: User = Depends(required_user)) -> dict:
    """The NDJSON commit: a header line, then file / lfsFile / deletedFile / deletedFolder lines."""
    repo_id, kind = f"{owner}/{name}", kind_of(kind)
    store = repos(request)
    store.visible(kind, repo_id, user)
    need_write(user, repo_id)
    _no_pull_requests(request)
    try:
        lines = [json.loads(line) for line in (await request.body()).splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise bad_request(f"The commit payload is not NDJSON: {exc}") from exc
    if not lines or lines[0].get("key") != "header":
        raise bad_request("The commit payload must start with a header line")
    header = lines[0].get("value", {})
    operations = [_operation(store_of(request), line) for line in lines[1:]]
    sha = store.commit(kind, repo_id, revision, operations, header.get("summary") or "", header.get("description")
                       or "", user.name, header.get("parentCommit"))
    return {"success": True, "commitOid": sha, "commitUrl": f"{repo_url(request, kind, repo_id)}/commit/{sha}",
            "commitMessage": header.get("summary"), "hookOutput": "", "pullRequestUrl": None}


def _operation(store: HubStore, line: dict) -> dict:
    key, value = line.get("key"), line.get("value") or {}
    path = str(value.get("path", "")).strip("/")
    if not path or ".." in path.split("/"):
        raise bad_request(f"Invalid path in repository: {value.get('path')!r}")
    if key == "file":
        try:
            data = base64.b64decode(value.get("content", ""), validate=True)
        except binascii.Error as exc:
            raise bad_request(f"{path}: the content is not base64") from exc
        return {"op": "add", "path": path, "entry": file_entry(store.put_bytes(data), len(data), False, data)}
    if key == "lfsFile":
        oid = str(value.get("oid", ""))
        if value.get("algo", "sha256") != "sha256" or not store.has_object(oid, value.get("size")):
            raise bad_request(f"{path}: LFS object {oid} was not uploaded (use the LFS batch API or Xet first)")
        return {"op": "add", "path": path, "entry": file_entry(oid, store.object_path(oid).stat().st_size, True)}
    if key in ("deletedFile", "deletedFolder"):
        return {"op": "delete" if key == "deletedFile" else "delete_folder", "path": path}
    raise bad_request(f"Unknown commit operation {key!r}")


# --- downloading --------------------------------------------------------------------------------------
@router.api_route("/datasets/{owner}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"])
def resolve_dataset(owner: str, name: str, revision: str, path: str, request: Request,
                    user: User | None = Depends(optional_user)) -> FileResponse:
    return _resolve(request, "dataset", f"{owner}/{name}", revision, path, user)


@router.api_route("/spaces/{owner}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"])
def resolve_space(owner: str, name: str, revision: str, path: str, request: Request,
                  user: User | None = Depends(optional_user)) -> FileResponse:
    return _resolve(request, "space", f"{owner}/{name}", revision, path, user)


@router.api_route("/{owner}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"])
def resolve_model(owner: str, name: str, revision: str, path: str, request: Request,
                  user: User | None = Depends(optional_user)) -> FileResponse:
    return _resolve(request, "model", f"{owner}/{name}", revision, path, user)


def _resolve(request: Request, kind: str, repo_id: str, revision: str, path: str, user: User | None) -> FileResponse:
    """The file itself (Range supported), with ETag, X-Repo-Commit and, for LFS files, X-Linked-Etag/-Size."""
    store = repos(request)
    store.visible(kind, repo_id, user)
    sha, files = store.files(kind, repo_id, revision)
    entry = files.get(path)
    if entry is None:
        raise entry_not_found(path, sha)
    etag = f'"{entry["sha256"] if entry["lfs"] else entry["oid"]}"'
    headers = {"ETag": etag, "X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
    if entry["lfs"]:
        headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(entry["size"])})
    filename = path.rsplit("/", 1)[-1]
    return FileResponse(store_of(request).object_path(entry["sha256"]), headers=headers, filename=filename,
                        content_disposition_type="inline")
