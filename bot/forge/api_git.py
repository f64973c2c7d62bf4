"""Git Database, commits, contents and branches routes, backed by real objects in the bare repo.

Error messages follow GitHub's (https://docs.github.com/en/rest/git): e.g. "Reference already
exists", "Update is not a fast forward", "Object does not exist".
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import time
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from bot.forge import schemas as s
from bot.forge import webhooks as wh
from bot.forge.api import ApiError, Ctx, invalid, not_found, paginate, repo_ctx
from bot.forge.gitrepo import GitError, Person

router = APIRouter()
R = "/repos/{owner}/{repo}"
MODES = {"100644": "blob", "100755": "blob", "120000": "blob", "040000": "tree", "160000": "commit"}
_SHA = re.compile(r"^[0-9a-f]{40}$")


def full_sha_ok(value: str) -> bool:
    return bool(_SHA.match(value))


def full_sha(value: str, field: str) -> str:
    """GitHub wants full object ids in git-database bodies (recorded: "The tree parameter must be
    exactly 40 characters and contain only [0-9a-f].")."""
    if not full_sha_ok(value):
        raise ApiError(422, f"The {field} parameter must be exactly 40 characters and contain only [0-9a-f].")
    return value


def _git(c: Ctx):
    return c.forge.git(c.repo["full_name"])


def _ref_json(c: Ctx, name: str, sha: str) -> dict:
    return c.views.ref(c.repo, name, sha, _git(c).object_type(sha) or "commit")


# --- refs ----------------------------------------------------------------------------------------
@router.get(R + "/git/ref/{ref:path}")
def get_ref(ref: str, c: Ctx = Depends(repo_ctx)):
    sha = _git(c).ref_sha(f"refs/{ref}")
    if sha is None:
        raise not_found()
    return _ref_json(c, f"refs/{ref}", sha)


@router.get(R + "/git/matching-refs/{ref:path}")
def matching_refs(ref: str, c: Ctx = Depends(repo_ctx)):
    rows = [r for r in _git(c).refs("refs/") if r[0].startswith(f"refs/{ref}")]
    return paginate(c.request, [_ref_json(c, name, sha) for name, sha, _ in rows])


@router.get(R + "/git/refs")
def list_refs(c: Ctx = Depends(repo_ctx)):
    return paginate(c.request, [_ref_json(c, n, s) for n, s, _ in _git(c).refs("refs/")])


@router.get(R + "/git/refs/{ref:path}")
def get_ref_legacy(ref: str, c: Ctx = Depends(repo_ctx)):
    """The ref's own `url` (PyGithub completes lazy GitRefs from it): one ref, or a prefix list."""
    sha = _git(c).ref_sha(f"refs/{ref}")
    if sha is not None:
        return _ref_json(c, f"refs/{ref}", sha)
    rows = [r for r in _git(c).refs("refs/") if r[0].startswith(f"refs/{ref}")]
    if not rows:
        raise not_found()
    return [_ref_json(c, n, s) for n, s, _ in rows]


@router.post(R + "/git/refs", status_code=201)
def create_ref(c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.CREATE_REF.read)):
    c.need("write")
    ref, sha = payload["ref"], payload["sha"]
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if _git(c).object_type(full_sha(sha, "sha")) is None:
        raise ApiError(422, "Object does not exist")
    if _git(c).ref_sha(ref) is not None:
        raise ApiError(422, "Reference already exists")
    _git(c).update_ref(ref, sha)
    c.forge.touch_repo(c.repo, pushed=True)
    return JSONResponse(_ref_json(c, ref, sha), status_code=201)


@router.patch(R + "/git/refs/{ref:path}")
def update_ref(ref: str, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.UPDATE_REF.read)):
    c.need("write")
    git, full = _git(c), f"refs/{ref}"
    old, sha = git.ref_sha(full), full_sha(payload["sha"], "sha")
    if old is None:
        raise ApiError(422, "Reference does not exist")
    if git.object_type(sha) != "commit":
        raise ApiError(422, "Object does not exist")
    if not payload.get("force") and not git.is_ancestor(old, sha):
        raise ApiError(422, "Update is not a fast forward")
    move_branch(c, full, old, sha)
    return _ref_json(c, full, sha)


def move_branch(c: Ctx, full: str, old: str | None, new: str) -> None:
    """Update a ref and tell open PRs headed there (`pull_request` `synchronize`)."""
    _git(c).update_ref(full, new)
    c.forge.touch_repo(c.repo, pushed=True)
    if old == new or not full.startswith("refs/heads/"):
        return
    for issue in c.forge.open_pulls_for_head(c.repo, full[len("refs/heads/"):]):
        c.forge.touch_issue(issue)
        issue = c.forge.issue_by_id(issue["id"])
        c.emit("pull_request", wh.pull_payload(c.views, c.repo, issue, c.login, "synchronize",
                                               before=old or "0" * 40, after=new))


@router.delete(R + "/git/refs/{ref:path}", status_code=204)
def delete_ref(ref: str, c: Ctx = Depends(repo_ctx)):
    c.need("write")
    if _git(c).ref_sha(f"refs/{ref}") is None:
        raise ApiError(422, "Reference does not exist")
    _git(c).delete_ref(f"refs/{ref}")
    return Response(status_code=204)


# --- blobs, trees, commits ------------------------------------------------------------------------
def _decode(content: str, encoding: str, field: str) -> bytes:
    if encoding in ("utf-8", "utf8"):
        return content.encode()
    if encoding == "base64":
        try:
            return base64.b64decode(content)
        except (binascii.Error, ValueError) as exc:
            raise invalid("Blob", field) from exc
    raise invalid("Blob", "encoding")


@router.post(R + "/git/blobs", status_code=201)
def create_blob(c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.CREATE_BLOB.read)):
    c.need("write")
    data = _decode(payload["content"], payload.get("encoding", "utf-8"), "content")
    sha = _git(c).hash_blob(data)
    url = f"{c.views.api}/repos/{c.repo['full_name']}/git/blobs/{sha}"
    return JSONResponse({"url": url, "sha": sha}, status_code=201)


@router.get(R + "/git/blobs/{sha}")
def get_blob(sha: str, c: Ctx = Depends(repo_ctx)):
    try:
        return c.views.blob(c.repo, sha, _git(c).read_blob(sha))
    except GitError as exc:
        raise not_found() from exc


def _tree_entry(c: Ctx, e: dict) -> dict:
    """Check one POST /git/trees entry (types were checked with the body); `content` becomes a blob."""
    path, mode = e.get("path"), e.get("mode", "100644")
    if not path:
        raise invalid("Tree", "tree")
    if e.get("type") not in (None, MODES[mode]):
        raise ApiError(422, f"tree.type {e['type']} does not match mode {mode}")
    if "content" in e:
        return {"path": path, "mode": mode, "sha": _git(c).hash_blob(e["content"].encode())}
    sha = e.get("sha")
    if sha is not None and MODES[mode] != "commit" and _git(c).object_type(full_sha(sha, "tree.sha")) != MODES[mode]:
        raise ApiError(422, f"tree.sha {sha} is not a valid {MODES[mode]}")
    return {"path": path, "mode": mode, "sha": sha}


@router.post(R + "/git/trees", status_code=201)
def create_tree(c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.CREATE_TREE.read)):
    c.need("write")
    items, base = payload["tree"], payload.get("base_tree")
    if base and _git(c).object_type(full_sha(base, "base_tree")) not in ("tree", "commit"):
        raise ApiError(422, "base_tree is not a valid tree oid")
    entries = [_tree_entry(c, e) for e in items]
    try:
        sha = _git(c).build_tree(base, entries)
    except GitError as exc:
        raise ApiError(422, f"Invalid tree: {exc}") from exc
    return JSONResponse(c.views.tree(c.repo, sha, _git(c).ls_tree(sha)), status_code=201)


@router.get(R + "/git/trees/{sha}")
def get_tree(sha: str, recursive: str | None = None, c: Ctx = Depends(repo_ctx)):
    git = _git(c)
    tree = git.resolve(f"{sha}^{{tree}}")
    if tree is None:
        raise not_found()
    return c.views.tree(c.repo, tree, git.ls_tree(tree, recursive=bool(recursive)))


def _person(c: Ctx, data: Any, default: Person, resource: str = "author") -> Person:
    """InputGitAuthor {name, email, date} -> Person; the caller is the default like GitHub, which
    refuses a blank name or email (recorded: Validation Failed, missing_field, resource author)."""
    if not isinstance(data, dict):
        return default
    blank = [k for k in ("name", "email") if k in data and not data[k]]
    if blank:
        raise ApiError(422, "Validation Failed", [{"code": "missing_field", "field": k, "resource": resource}
                                                  for k in blank])
    ts = default.timestamp
    if data.get("date"):
        try:
            ts = int(dt.datetime.fromisoformat(data["date"]).timestamp())
        except ValueError as exc:
            raise ApiError(422, f"Invalid request.\n\n{data['date']} is not a valid date-time.") from exc
    return Person(data.get("name") or default.name, data.get("email") or default.email, max(ts, 0))


@router.post(R + "/git/commits", status_code=201)
def create_commit(c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.CREATE_COMMIT.read)):
    c.need("write")
    git = _git(c)
    message, tree, parents = payload["message"], full_sha(payload["tree"], "tree"), payload.get("parents", [])
    if git.object_type(tree) != "tree":
        raise ApiError(422, "Tree SHA does not exist")
    if any(not full_sha_ok(p) or git.object_type(p) != "commit" for p in parents):
        raise ApiError(422, "Parent SHA does not exist or is not a commit object")
    me = Person(c.login, f"{c.login}@users.noreply.forge.local", int(time.time()))
    author = _person(c, payload.get("author"), me)
    committer = _person(c, payload.get("committer"), author if payload.get("author") else me, "committer")
    sha = git.commit_tree(tree, parents, message, author, committer)
    return JSONResponse(c.views.git_commit(c.repo, git.read_commit(sha)), status_code=201)


@router.get(R + "/git/commits/{sha}")
def get_git_commit(sha: str, c: Ctx = Depends(repo_ctx)):
    try:
        return c.views.git_commit(c.repo, _git(c).read_commit(sha))
    except GitError as exc:
        raise not_found() from exc


def commit_json(c: Ctx, sha: str, with_files: bool = True) -> dict:
    """The REST commit object, files diffed against the first parent."""
    git = _git(c)
    info = git.read_commit(sha)
    files = None
    if with_files:
        parent = info.parents[0] if info.parents else git.build_tree(None, [])
        files = git.diff_files(parent, sha)
    return c.views.commit(c.repo, info, files)


@router.get(R + "/commits/{ref:path}")
def get_commit(ref: str, c: Ctx = Depends(repo_ctx)):
    sha = _git(c).resolve(f"{ref}^{{commit}}")
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return commit_json(c, sha)


# --- contents & branches ----------------------------------------------------------------------------
def resolve_ref(c: Ctx, ref: str | None) -> tuple[str, str]:
    """(ref name, commit sha) for a branch, tag or sha; default branch when absent."""
    ref = ref or c.repo["default_branch"]
    sha = _git(c).resolve(f"{ref}^{{commit}}")
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    return ref, sha


def _contents(c: Ctx, path: str, ref: str | None):
    ref, sha = resolve_ref(c, ref)
    git, path = _git(c), path.strip("/")
    obj = git.resolve(f"{sha}:{path}") if path else git.resolve(f"{sha}^{{tree}}")
    kind = obj and git.object_type(obj)
    if kind == "blob":
        return c.views.content_file(c.repo, path, ref, obj, git.read_blob(obj))
    if kind == "tree":
        items = []
        for e in git.ls_tree(obj):
            sub = f"{path}/{e['path']}" if path else e["path"]
            items.append(c.views.content_item(c.repo, sub, ref, e["sha"],
                                              "dir" if e["type"] == "tree" else "file", e["size"] or 0))
        return items
    raise not_found()


@router.get(R + "/contents")
def get_root_contents(ref: str | None = None, c: Ctx = Depends(repo_ctx)):
    return _contents(c, "", ref)


@router.get(R + "/contents/{path:path}")
def get_contents(path: str, ref: str | None = None, c: Ctx = Depends(repo_ctx)):
    return _contents(c, path, ref)


@router.put(R + "/contents/{path:path}")
def put_contents(path: str, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.PUT_CONTENTS.read)):
    """Create or update one file with a commit on a branch (PyGithub create_file/update_file)."""
    c.need("write")
    git = _git(c)
    branch = payload.get("branch") or c.repo["default_branch"]
    data = _decode(payload["content"], "base64", "content")
    full = f"refs/heads/{branch}"
    head = git.ref_sha(full)
    if head is None:
        raise ApiError(404, f"Branch {branch} not found")
    current = git.resolve(f"{head}:{path}")
    if current and payload.get("sha") != current:
        raise ApiError(409, f"{path} does not match {payload.get('sha')}")
    blob = git.hash_blob(data)
    tree = git.build_tree(head, [{"path": path, "mode": "100644", "sha": blob}])
    me = Person(c.login, f"{c.login}@users.noreply.forge.local", int(time.time()))
    author = _person(c, payload.get("author"), me)
    sha = git.commit_tree(tree, [head], payload["message"], author,
                          _person(c, payload.get("committer"), author))
    move_branch(c, full, head, sha)
    body = {"content": c.views.content_file(c.repo, path, branch, blob, data),
            "commit": c.views.git_commit(c.repo, git.read_commit(sha))}
    body["content"].pop("encoding"), body["content"].pop("content")
    return JSONResponse(body, status_code=200 if current else 201)


@router.get(R + "/branches/{branch:path}")
def get_branch(branch: str, c: Ctx = Depends(repo_ctx)):
    sha = _git(c).ref_sha(f"refs/heads/{branch}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    base = f"{c.views.api}/repos/{c.repo['full_name']}/branches/{branch}"
    return {"name": branch, "commit": commit_json(c, sha, with_files=False),
            "_links": {"self": base, "html": f"{c.views.html}/{c.repo['full_name']}/tree/{branch}"},
            "protected": False, "protection": {"enabled": False}, "protection_url": f"{base}/protection"}
