"""Account and repository routes: whoami, create, delete, settings, info and the README check.

Shapes follow what huggingface_hub 2.x sends and parses (hf_api.py: `whoami`, `create_repo`,
`delete_repo`, `update_repo_settings`, `model_info` / `dataset_info` / `space_info`, `_validate_yaml`).
`{kind}` is `models`, `datasets` or `spaces`; file routes are in api_files.py.
"""

from __future__ import annotations

import hashlib
import re

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from bot.hub.errors import (
    HubError,
    bad_request,
    base_url,
    forbidden,
    optional_user,
    required_user,
    store_of,
)
from bot.hub.repos import TYPES, Repos
from bot.hub.store import User

router = APIRouter()
NAME = re.compile(r"^(?![.-])(?!.*(--|\.\.))[A-Za-z0-9._-]{1,96}(?<![.-])$")
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
SPACE_SDKS = ("gradio", "docker", "static", "streamlit")


def repos(request: Request) -> Repos:
    return request.app.state.repos


def kind_of(kind: str) -> str:
    singular = kind.removesuffix("s")
    if singular not in TYPES:
        raise HubError(404, f"Unknown repo type {kind}")
    return singular


def need_write(user: User, repo_id: str) -> None:
    if not user.can_write(repo_id.split("/")[0]):
        raise forbidden(f"You don't have the rights to write to {repo_id}")


def repo_url(request: Request, kind: str, repo_id: str) -> str:
    return f"{base_url(request)}/{PREFIX[kind]}{repo_id}"


# --- account and repositories -------------------------------------------------------------------------
@router.get("/api/whoami-v2")
def whoami(user: User = Depends(required_user)) -> dict:
    uid = hashlib.sha1(user.name.encode()).hexdigest()[:24]
    orgs = [{"type": "org", "name": org, "fullname": org, "id": hashlib.sha1(org.encode()).hexdigest()[:24],
             "roleInOrg": user.role} for org in user.orgs]
    token = {"displayName": f"{user.name} (local Hub)", "role": user.role, "createdAt": user.token_created}
    return {"type": "user", "id": uid, "name": user.name, "fullname": user.name, "email": None,
            "emailVerified": False, "canPay": False, "isPro": False, "periodEnd": None, "avatarUrl": "",
            "orgs": orgs, "auth": {"type": "access_token", "accessToken": token}}


@router.post("/api/repos/create")
async def create_repo(request: Request, user: User = Depends(required_user)) -> JSONResponse:
    payload = await request.json()
    kind = payload.get("type") or "model"
    name, namespace = payload.get("name") or "", payload.get("organization") or user.name
    if kind not in TYPES or not NAME.match(name):
        raise bad_request(f"Invalid repo type or name: {kind} {name!r}")
    repo_id = f"{namespace}/{name}"
    sdk = payload.get("sdk")
    if kind == "space" and sdk not in SPACE_SDKS:
        raise bad_request(f"A Space needs an sdk, one of {', '.join(SPACE_SDKS)}")
    need_write(user, repo_id)
    private = payload.get("visibility", "public") != "public" or bool(payload.get("private"))
    url = repo_url(request, kind, repo_id)
    try:
        repos(request).create(kind, repo_id, user.name, private, sdk)
    except HubError as exc:
        exc.body["url"] = url  # huggingface_hub reads the url from the 409 too (create_repo(exist_ok=True))
        raise
    return JSONResponse({"url": url, "name": repo_id, "id": repo_id})


@router.delete("/api/repos/delete")
async def delete_repo(request: Request, user: User = Depends(required_user)) -> dict:
    payload = await request.json()
    repo_id = f"{payload.get('organization') or user.name}/{payload.get('name')}"
    need_write(user, repo_id)
    repos(request).delete(payload.get("type") or "model", repo_id)
    return {}


@router.put("/api/{kind}/{owner}/{name}/settings")
async def settings(kind: str, owner: str, name: str, request: Request, user: User = Depends(required_user)) -> dict:
    repo_id, kind = f"{owner}/{name}", kind_of(kind)
    repos(request).visible(kind, repo_id, user)
    need_write(user, repo_id)
    payload = await request.json()
    if "private" in payload or "visibility" in payload:
        private = payload.get("visibility", "public") != "public" if "visibility" in payload else payload["private"]
        repos(request).set_private(kind, repo_id, bool(private))
    return {}


@router.get("/api/{kind}/{owner}/{name}")
@router.get("/api/{kind}/{owner}/{name}/revision/{revision}")
def repo_info(kind: str, owner: str, name: str, request: Request, revision: str | None = None, blobs: bool = False,
              user: User | None = Depends(optional_user)) -> dict:
    repo_id, kind = f"{owner}/{name}", kind_of(kind)
    repo = repos(request).visible(kind, repo_id, user)
    return _info(request, repo, revision, siblings=True, blobs=blobs)


@router.get("/api/{kind}")
def list_repos(kind: str, request: Request, user: User | None = Depends(optional_user)) -> list[dict]:
    """`list_models` / `list_datasets` / `list_spaces`: every `search` term in the id, every `filter` in the
    tags, `author` the namespace; newest first, at most `limit` (one page, no cursor)."""
    kind, query = kind_of(kind), request.query_params
    searches, filters = [t.lower() for t in query.getlist("search")], query.getlist("filter")
    found = []
    for repo in repos(request).all(kind):
        owner = repo["id"].split("/")[0]
        if repo["private"] and (user is None or owner not in user.namespaces):
            continue
        if query.get("author") not in (None, owner) or not all(t in repo["id"].lower() for t in searches):
            continue
        info = _info(request, repo, None, siblings=query.get("full") in ("True", "true", "1"))
        if all(f in info["tags"] for f in filters):
            found.append(info)
    found.sort(key=lambda info: info["lastModified"], reverse=True)
    limit = query.get("limit")
    return found[:int(limit)] if limit and limit.isdigit() else found


def _info(request: Request, repo: dict, revision: str | None, siblings: bool, blobs: bool = False) -> dict:
    """A repo as model_info / dataset_info / space_info (and the list endpoints) read it."""
    kind, repo_id, store = repo["type"], repo["id"], repos(request)
    sha, files = store.files(kind, repo_id, revision)
    commit = store.commit_record(kind, repo_id, sha)
    card = _card_data(store_of(request), files)
    info = {"_id": hashlib.sha1(f"{kind}/{repo_id}".encode()).hexdigest()[:24], "id": repo_id,
            "author": repo_id.split("/")[0], "sha": sha, "lastModified": commit["date"],
            "createdAt": repo["createdAt"], "private": repo["private"], "gated": False, "disabled": False,
            "downloads": 0, "likes": 0, "tags": _tags(card), "usedStorage": sum(e["size"] for e in files.values())}
    if siblings:
        info["siblings"] = [_sibling(path, entry, blobs) for path, entry in sorted(files.items())]
    if card:
        info["cardData"] = card
    if kind == "model":
        info.update(modelId=repo_id, pipeline_tag=card.get("pipeline_tag"), library_name=card.get("library_name"),
                    spaces=[])
    if kind == "space":
        info["sdk"] = card.get("sdk") or repo.get("sdk")
    return info


def _tags(card: dict) -> list[str]:
    """The card's tags plus the ones the Hub derives from its metadata (e.g. task_categories:...)."""
    def listed(value) -> list[str]:
        return [str(v) for v in (value if isinstance(value, list) else [value]) if v is not None]
    tags = listed(card.get("tags")) + listed(card.get("library_name")) + listed(card.get("pipeline_tag"))
    for key in ("license", "language", "task_categories", "task_ids", "size_categories"):
        tags += [f"{key}:{value}" for value in listed(card.get(key))]
    return list(dict.fromkeys(tags))


def _sibling(path: str, entry: dict, blobs: bool) -> dict:
    if not blobs:
        return {"rfilename": path}
    item = {"rfilename": path, "size": entry["size"], "blobId": entry["oid"]}
    if entry["lfs"]:
        item["lfs"] = {"size": entry["size"], "sha256": entry["sha256"], "pointerSize": entry["pointerSize"]}
    return item


def _card_data(store, files: dict[str, dict]) -> dict:
    """The README's YAML front matter (the Hub's `cardData`), or {}."""
    readme = files.get("README.md")
    if readme is None or readme["size"] > 1_000_000:
        return {}
    text = store.object_path(readme["sha256"]).read_text(errors="replace")
    try:
        card = yaml.safe_load(_front_matter(text) or "")
    except yaml.YAMLError:
        return {}
    return card if isinstance(card, dict) else {}


def _front_matter(text: str) -> str | None:
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.DOTALL)
    return match.group(1) if match else None


@router.post("/api/validate-yaml")
async def validate_yaml(request: Request) -> JSONResponse:
    """The README check `create_commit` makes before uploading: the front matter must be a YAML mapping."""
    content = (await request.json()).get("content", "")
    front = _front_matter(content)
    try:
        meta = yaml.safe_load(front) if front is not None else {}
    except yaml.YAMLError as exc:
        return JSONResponse({"errors": [{"message": f"Invalid YAML: {exc}"}], "warnings": []}, status_code=400)
    if meta is not None and not isinstance(meta, dict):
        return JSONResponse({"errors": [{"message": "The metadata must be a YAML mapping"}], "warnings": []},
                            status_code=400)
    return JSONResponse({"errors": [], "warnings": []})
