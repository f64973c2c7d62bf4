"""Issues, comments, labels and reactions routes (GitHub REST "Issues" and "Reactions" sections)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse, Response

from bot.forge import webhooks as wh
from bot.forge.api import ApiError, Ctx, forbidden, invalid, not_found, paginate, repo_ctx
from bot.forge.store import REACTIONS

router = APIRouter()
R = "/repos/{owner}/{repo}"


def _label_names(payload: Any) -> list[str]:
    """Labels bodies come as ["a"], {"labels": ["a"]} or {"labels": [{"name": "a"}]}."""
    items = payload.get("labels", []) if isinstance(payload, dict) else (payload or [])
    if isinstance(items, str):
        items = [items]
    return [i["name"] if isinstance(i, dict) else str(i) for i in items]


# --- issues ----------------------------------------------------------------------------------
@router.post(R + "/issues", status_code=201)
def create_issue(payload: Any = Body(None), c: Ctx = Depends(repo_ctx)):
    payload = payload or {}
    title = payload.get("title")
    if not isinstance(title, str) or not title.strip():
        raise invalid("Issue", "title", "missing_field")
    issue = c.forge.create_issue(c.repo, c.login, title, payload.get("body"))
    added = []
    if c.has("triage"):  # GitHub silently drops labels from users who cannot triage
        added = c.forge.add_issue_labels(c.repo, issue, _label_names(payload))
    c.emit("issues", wh.issues_payload(c.views, c.repo, issue, c.login, "opened"))
    for lab in added:
        _emit_label(c, issue, "labeled", lab)
    return JSONResponse(c.views.issue(c.repo, c.forge.issue_by_id(issue["id"])), status_code=201)


@router.get(R + "/issues")
def list_issues(state: str = "open", labels: str | None = None, c: Ctx = Depends(repo_ctx)):
    rows = c.forge.issues(c.repo, state)
    if labels:
        want = {n.strip().lower() for n in labels.split(",")}
        rows = [i for i in rows if want <= {lab["name"].lower() for lab in c.forge.issue_labels(i)}]
    return paginate(c.request, [c.views.issue(c.repo, i) for i in rows])


@router.get(R + "/issues/{number:int}")
def get_issue(number: int, c: Ctx = Depends(repo_ctx)):
    return c.views.issue(c.repo, c.issue(number))


@router.patch(R + "/issues/{number:int}")
def edit_issue(number: int, payload: Any = Body(None), c: Ctx = Depends(repo_ctx)):
    payload, issue = payload or {}, c.issue(number)
    author = issue["user"].lower() == c.login.lower()
    if not (author or c.has("triage")):
        raise forbidden()
    if "state" in payload and payload["state"] not in ("open", "closed"):
        raise invalid("Issue", "state")
    changes = {k: {"from": issue[k] or ""} for k in ("title", "body")
               if k in payload and payload[k] != issue[k]}
    fields = {k: payload[k] for k in ("title", "body", "state", "state_reason") if k in payload}
    updated = c.forge.update_issue(issue, c.login, **fields)
    if "labels" in payload and c.has("triage"):
        _replace_labels(c, updated, _label_names(payload))
    _emit_issue_change(c, issue, updated, changes)
    return c.views.issue(c.repo, c.forge.issue_by_id(issue["id"]))


def _emit_issue_change(c: Ctx, before: dict, after: dict, changes: dict) -> None:
    """edited/closed/reopened; a PR's issue half reports as `pull_request` like GitHub."""
    def payload(action, **kw):
        if after["is_pull"]:
            return "pull_request", wh.pull_payload(c.views, c.repo, after, c.login, action, **kw)
        return "issues", wh.issues_payload(c.views, c.repo, after, c.login, action, **kw)

    if changes:
        c.emit(*payload("edited", changes=changes))
    if after["state"] != before["state"]:
        c.emit(*payload("closed" if after["state"] == "closed" else "reopened"))


# --- comments --------------------------------------------------------------------------------
@router.get(R + "/issues/{number:int}/comments")
def list_comments(number: int, c: Ctx = Depends(repo_ctx)):
    return paginate(c.request, [c.views.comment(c.repo, x) for x in c.forge.comments(c.issue(number))])


@router.post(R + "/issues/{number:int}/comments", status_code=201)
def create_comment(number: int, payload: Any = Body(None), c: Ctx = Depends(repo_ctx)):
    issue, body = c.issue(number), (payload or {}).get("body")
    if not isinstance(body, str) or not body:
        raise invalid("IssueComment", "body", "missing_field")
    comment = c.forge.create_comment(c.repo, issue, c.login, body)
    c.emit("issue_comment", wh.comment_payload(c.views, c.repo, c.forge.issue_by_id(issue["id"]),
                                               comment, c.login, "created"))
    return JSONResponse(c.views.comment(c.repo, comment), status_code=201)


def _comment(c: Ctx, comment_id: int) -> dict:
    row = c.forge.comment(c.repo, comment_id)
    if row is None:
        raise not_found()
    return row


@router.get(R + "/issues/comments/{comment_id:int}")
def get_comment(comment_id: int, c: Ctx = Depends(repo_ctx)):
    return c.views.comment(c.repo, _comment(c, comment_id))


@router.patch(R + "/issues/comments/{comment_id:int}")
def edit_comment(comment_id: int, payload: Any = Body(None), c: Ctx = Depends(repo_ctx)):
    row, body = _comment(c, comment_id), (payload or {}).get("body")
    if row["user"].lower() != c.login.lower() and not c.has("write"):
        raise forbidden()
    if not isinstance(body, str) or not body:
        raise invalid("IssueComment", "body", "missing_field")
    updated = c.forge.update_comment(row, body)
    if body != row["body"]:
        issue = c.forge.issue_by_id(row["issue_id"])
        c.emit("issue_comment", wh.comment_payload(c.views, c.repo, issue, updated, c.login, "edited",
                                                   changes={"body": {"from": row["body"]}}))
    return c.views.comment(c.repo, updated)


@router.delete(R + "/issues/comments/{comment_id:int}", status_code=204)
def delete_comment(comment_id: int, c: Ctx = Depends(repo_ctx)):
    row = _comment(c, comment_id)
    if row["user"].lower() != c.login.lower() and not c.has("write"):
        raise forbidden()
    issue = c.forge.issue_by_id(row["issue_id"])
    payload = wh.comment_payload(c.views, c.repo, issue, row, c.login, "deleted")
    c.forge.delete_comment(row)
    c.emit("issue_comment", payload)
    return Response(status_code=204)


# --- labels ------------------------------------------------------------------------------------
@router.get(R + "/labels")
def list_labels(c: Ctx = Depends(repo_ctx)):
    return paginate(c.request, [c.views.label(c.repo, lab) for lab in c.forge.labels(c.repo)])


@router.post(R + "/labels", status_code=201)
def create_label(payload: Any = Body(None), c: Ctx = Depends(repo_ctx)):
    c.need("write")
    payload = payload or {}
    name = payload.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("Label", "name", "missing_field")
    if c.forge.label(c.repo, name):
        raise invalid("Label", "name", "already_exists")
    lab = c.forge.create_label(c.repo, name, payload.get("color") or "ededed", payload.get("description"))
    return JSONResponse(c.views.label(c.repo, lab), status_code=201)


@router.get(R + "/labels/{name:path}")
def get_label(name: str, c: Ctx = Depends(repo_ctx)):
    lab = c.forge.label(c.repo, name)
    if lab is None:
        raise not_found()
    return c.views.label(c.repo, lab)


def _issue_labels(c: Ctx, issue: dict) -> list[dict]:
    return [c.views.label(c.repo, lab) for lab in c.forge.issue_labels(issue)]


def _replace_labels(c: Ctx, issue: dict, names: list[str]) -> None:
    """PUT semantics: remove what is not listed, add the rest; one webhook per change."""
    wanted = {n.lower() for n in names}
    for lab in c.forge.issue_labels(issue):
        if lab["name"].lower() not in wanted:
            c.forge.remove_issue_label(issue, lab)
            _emit_label(c, issue, "unlabeled", lab)
    _add_labels(c, issue, names)


def _add_labels(c: Ctx, issue: dict, names: list[str]) -> None:
    for lab in c.forge.add_issue_labels(c.repo, issue, names):
        _emit_label(c, issue, "labeled", lab)


def _emit_label(c: Ctx, issue: dict, action: str, lab: dict) -> None:
    """`issues` labeled/unlabeled, or `pull_request` labeled/unlabeled for a PR (as GitHub does)."""
    issue = c.forge.issue_by_id(issue["id"])
    if issue["is_pull"]:
        c.emit("pull_request", wh.pull_payload(c.views, c.repo, issue, c.login, action, label=lab))
    else:
        c.emit("issues", wh.issues_payload(c.views, c.repo, issue, c.login, action, label=lab))


@router.get(R + "/issues/{number:int}/labels")
def list_issue_labels(number: int, c: Ctx = Depends(repo_ctx)):
    return paginate(c.request, _issue_labels(c, c.issue(number)))


@router.post(R + "/issues/{number:int}/labels")
def add_issue_labels(number: int, payload: Any = Body(None), c: Ctx = Depends(repo_ctx)):
    c.need("triage")
    issue = c.issue(number)
    _add_labels(c, issue, _label_names(payload))
    return _issue_labels(c, issue)


@router.put(R + "/issues/{number:int}/labels")
def set_issue_labels(number: int, payload: Any = Body(None), c: Ctx = Depends(repo_ctx)):
    c.need("triage")
    issue = c.issue(number)
    _replace_labels(c, issue, _label_names(payload))
    return _issue_labels(c, issue)


@router.delete(R + "/issues/{number:int}/labels", status_code=204)
def clear_issue_labels(number: int, c: Ctx = Depends(repo_ctx)):
    c.need("triage")
    _replace_labels(c, c.issue(number), [])
    return Response(status_code=204)


@router.delete(R + "/issues/{number:int}/labels/{name:path}")
def remove_issue_label(number: int, name: str, c: Ctx = Depends(repo_ctx)):
    c.need("triage")
    issue = c.issue(number)
    lab = c.forge.label(c.repo, name)
    if lab is None or not c.forge.remove_issue_label(issue, lab):
        raise ApiError(404, "Label does not exist")
    _emit_label(c, issue, "unlabeled", lab)
    return _issue_labels(c, issue)


# --- reactions ---------------------------------------------------------------------------------
def _react(c: Ctx, subject: str, subject_id: int, payload: Any) -> JSONResponse:
    content = (payload or {}).get("content")
    if content not in REACTIONS:
        raise invalid("Reaction", "content")
    row, created = c.forge.add_reaction(subject, subject_id, c.login, content)
    return JSONResponse(c.views.reaction(row), status_code=201 if created else 200)


@router.post(R + "/issues/{number:int}/reactions", status_code=201)
def react_issue(number: int, payload: Any = Body(None), c: Ctx = Depends(repo_ctx)):
    return _react(c, "issue", c.issue(number)["id"], payload)


@router.get(R + "/issues/{number:int}/reactions")
def list_issue_reactions(number: int, content: str | None = None, c: Ctx = Depends(repo_ctx)):
    rows = c.forge.reactions("issue", c.issue(number)["id"])
    return paginate(c.request, [c.views.reaction(r) for r in rows if content in (None, r["content"])])


@router.post(R + "/issues/comments/{comment_id:int}/reactions", status_code=201)
def react_comment(comment_id: int, payload: Any = Body(None), c: Ctx = Depends(repo_ctx)):
    return _react(c, "comment", _comment(c, comment_id)["id"], payload)


@router.get(R + "/issues/comments/{comment_id:int}/reactions")
def list_comment_reactions(comment_id: int, content: str | None = None, c: Ctx = Depends(repo_ctx)):
    rows = c.forge.reactions("comment", _comment(c, comment_id)["id"])
    return paginate(c.request, [c.views.reaction(r) for r in rows if content in (None, r["content"])])
