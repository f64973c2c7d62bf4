"""Pull request and Actions workflow routes (the forge records dispatches, it never runs them)."""

from __future__ import annotations

import json
import zlib

import yaml
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from bot.forge import schemas as s
from bot.forge import webhooks as wh
from bot.forge.api import ApiError, Ctx, forbidden, invalid, not_found, paginate, repo_ctx
from bot.forge.api_git import commit_json
from bot.forge.api_issues import body_limit
from bot.forge.rows import present

router = APIRouter()
R = "/repos/{owner}/{repo}"


def _branch_name(c: Ctx, head: str) -> str:
    """`owner:branch` or `branch`; forks do not exist on the forge, so owner must match."""
    owner, sep, branch = head.rpartition(":")
    if sep and owner.lower() != c.repo["owner"].lower():
        raise invalid("PullRequest", "head")
    return branch


def _pull(c: Ctx, number: int) -> dict:
    issue = c.forge.issue(c.repo, number)
    if issue is None or not issue["is_pull"]:
        raise not_found()
    return issue


@router.post(R + "/pulls", status_code=201)
def create_pull(c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.CREATE_PULL.read)):
    c.need("write")
    git = c.forge.git(c.repo["full_name"])
    head, base = payload["head"], payload["base"]
    head_ref = _branch_name(c, head)
    head_sha, base_sha = git.ref_sha(f"refs/heads/{head_ref}"), git.ref_sha(f"refs/heads/{base}")
    if head_sha is None:
        raise invalid("PullRequest", "head")
    if base_sha is None:
        raise invalid("PullRequest", "base")
    for other in c.forge.open_pulls_for_head(c.repo, head_ref):
        if present(c.forge.pull_info(other))["base_ref"] == base:
            raise ApiError(422, "Validation Failed", [{
                "resource": "PullRequest", "code": "custom",
                "message": f"A pull request already exists for {c.repo['owner']}:{head_ref}."}])
    if not git.rev_list(base_sha, head_sha):
        raise ApiError(422, "Validation Failed", [{
            "resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {head_ref}"}])
    title = payload.get("title")
    if not title:
        raise invalid("PullRequest", "title", "missing_field")
    body_limit("PullRequest", payload.get("body"))
    issue = c.forge.create_pull(c.repo, c.login, title, payload.get("body"), head_ref, base,
                                bool(payload.get("draft")), payload.get("maintainer_can_modify", True))
    c.emit("pull_request", wh.pull_payload(c.views, c.repo, issue, c.login, "opened"))
    return JSONResponse(c.views.pull(c.repo, issue), status_code=201)


@router.get(R + "/pulls")
def list_pulls(state: str = "open", head: str | None = None, base: str | None = None,
               c: Ctx = Depends(repo_ctx)):
    rows = []
    for issue in c.forge.issues(c.repo, state, pulls=True):
        info = present(c.forge.pull_info(issue))
        if head and info["head_ref"] != head.rpartition(":")[2]:
            continue
        if head and ":" in head and head.split(":")[0].lower() != c.repo["owner"].lower():
            continue
        if base and info["base_ref"] != base:
            continue
        rows.append(c.views.pull(c.repo, issue))
    return paginate(c.request, rows)


@router.get(R + "/pulls/{number:int}")
def get_pull(number: int, c: Ctx = Depends(repo_ctx)):
    return c.views.pull(c.repo, _pull(c, number))


@router.patch(R + "/pulls/{number:int}")
def edit_pull(number: int, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.UPDATE_PULL.read)):
    issue = _pull(c, number)
    if issue["user"].lower() != c.login.lower() and not c.has("write"):
        raise forbidden()
    if "title" in payload and not payload["title"]:
        raise invalid("PullRequest", "title", "missing_field")
    body_limit("PullRequest", payload.get("body"))
    info = present(c.forge.pull_info(issue))
    changes = {k: {"from": issue[k] or ""} for k in ("title", "body")
               if k in payload and payload[k] != issue[k]}
    if "base" in payload and payload["base"] != info["base_ref"]:
        if c.forge.git(c.repo["full_name"]).ref_sha(f"refs/heads/{payload['base']}") is None:
            raise invalid("PullRequest", "base")
        changes["base"] = {"ref": {"from": info["base_ref"]}, "sha": {"from": "0" * 40}}
        c.forge.update_pull(issue, base_ref=payload["base"])
    fields = {k: payload[k] for k in ("title", "body", "state") if k in payload}
    updated = c.forge.update_issue(issue, c.login, **fields)
    if changes:
        c.emit("pull_request", wh.pull_payload(c.views, c.repo, updated, c.login, "edited", changes=changes))
    if updated["state"] != issue["state"]:
        action = "closed" if updated["state"] == "closed" else "reopened"
        c.emit("pull_request", wh.pull_payload(c.views, c.repo, updated, c.login, action))
    return c.views.pull(c.repo, updated)


@router.get(R + "/pulls/{number:int}/files")
def pull_files(number: int, c: Ctx = Depends(repo_ctx)):
    issue = _pull(c, number)
    files, _ = c.forge.pull_diff(c.repo, issue)
    head_ref = present(c.forge.pull_info(issue))["head_ref"]
    head = c.forge.git(c.repo["full_name"]).ref_sha(f"refs/heads/{head_ref}") or ""  # no files without a head
    return paginate(c.request, [c.views.diff_entry(c.repo, f, head) for f in files])


@router.get(R + "/pulls/{number:int}/commits")
def pull_commits(number: int, c: Ctx = Depends(repo_ctx)):
    _, commits = c.forge.pull_diff(c.repo, _pull(c, number))
    return paginate(c.request, [commit_json(c, sha, with_files=False) for sha in commits])


# --- actions ---------------------------------------------------------------------------------
def _triggers(doc: dict) -> dict:
    """The `on:` block as a dict (YAML 1.1 reads a bare `on` key as True)."""
    on = doc.get("on", doc.get(True, {}))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on if isinstance(on, dict) else {}


def _parse_workflow(text: bytes, path: str) -> dict:
    """name, whether it has a workflow_dispatch trigger, and that trigger's declared inputs."""
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    triggers = _triggers(doc)
    dispatch = triggers.get("workflow_dispatch") if "workflow_dispatch" in triggers else None
    inputs = (dispatch or {}).get("inputs") if isinstance(dispatch, dict) else None
    return {"name": doc.get("name") or path, "dispatchable": "workflow_dispatch" in triggers,
            "inputs": inputs if isinstance(inputs, dict) else {}}


def workflows(c: Ctx) -> list[dict]:
    """Workflows are the `.github/workflows/*.yml` files on the default branch, like GitHub's."""
    git = c.forge.git(c.repo["full_name"])
    tree = git.resolve(f"refs/heads/{c.repo['default_branch']}:.github/workflows")
    if tree is None:
        return []
    out = []
    for e in git.ls_tree(tree):
        if e["type"] != "blob" or not e["path"].endswith((".yml", ".yaml")):
            continue
        path = f".github/workflows/{e['path']}"
        out.append({"id": zlib.crc32(f"{c.repo['full_name']}/{path}".encode()), "path": path,
                    **_parse_workflow(git.read_blob(e["sha"]), path)})
    return out


def _workflow_json(c: Ctx, w: dict) -> dict:
    fn = c.repo["full_name"]
    return {"id": w["id"], "node_id": f"W_{w['id']}", "name": w["name"], "path": w["path"],
            "state": "active", "created_at": c.repo["created_at"], "updated_at": c.repo["updated_at"],
            "url": f"{c.views.api}/repos/{fn}/actions/workflows/{w['id']}",
            "html_url": f"{c.views.html}/{fn}/blob/{c.repo['default_branch']}/{w['path']}",
            "badge_url": f"{c.views.html}/{fn}/workflows/{w['path'].rsplit('/', 1)[-1]}/badge.svg"}


def _workflow(c: Ctx, workflow_id: str) -> dict:
    for w in workflows(c):
        if workflow_id in (str(w["id"]), w["path"], w["path"].rsplit("/", 1)[-1]):
            return w
    raise not_found()


@router.get(R + "/actions/workflows")
def list_workflows(c: Ctx = Depends(repo_ctx)):
    items = [_workflow_json(c, w) for w in workflows(c)]
    return {"total_count": len(items), "workflows": items}


@router.get(R + "/actions/workflows/{workflow_id}")
def get_workflow(workflow_id: str, c: Ctx = Depends(repo_ctx)):
    return _workflow_json(c, _workflow(c, workflow_id))


@router.post(R + "/actions/workflows/{workflow_id}/dispatches", status_code=204)
def dispatch(workflow_id: str, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.DISPATCH.read)):
    c.need("write")
    w, ref = _workflow(c, workflow_id), payload["ref"]
    if c.forge.git(c.repo["full_name"]).resolve(f"{ref}^{{commit}}") is None:
        raise ApiError(422, f"No ref found for: {ref}")
    if not w["dispatchable"]:
        raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
    inputs = payload.get("inputs") or {}
    _check_inputs(w["inputs"], inputs)
    c.forge.record_dispatch(c.repo, w, ref, json.dumps(inputs), c.login)
    return Response(status_code=204)


def _check_inputs(declared: dict, given: dict) -> None:
    """GitHub refuses inputs the workflow does not declare, and required ones left out."""
    unexpected = [k for k in given if k not in declared]
    if unexpected:
        raise ApiError(422, "Unexpected inputs provided: " + json.dumps(unexpected))
    for name, spec in declared.items():
        if isinstance(spec, dict) and spec.get("required") and spec.get("default") is None and name not in given:
            raise ApiError(422, f"Required input '{name}' not provided")
