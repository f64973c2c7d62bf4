"""Pull request routes (Actions routes are in api_actions.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

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
