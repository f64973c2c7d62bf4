"""Issues, comments, labels and reactions routes (GitHub REST "Issues" and "Reactions" sections)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from bot.forge import schemas as s
from bot.forge import webhooks as wh
from bot.forge.api import ApiError, Ctx, forbidden, invalid, not_found, paginate, repo_ctx

router = APIRouter()
R = "/repos/{owner}/{repo}"


def _label_names(payload: Any) -> list[str]:
    """Labels bodies come as ["a"], {"labels": ["a"]} or {"labels": [{"name": "a"}]} (types checked
    already); an object without a name names nothing."""
    items = (payload.get("labels") or []) if isinstance(payload, dict) else payload
    return [i["name"] if isinstance(i, dict) else i for i in items if not isinstance(i, dict) or i.get("name")]


def too_long(body: str | None) -> bool:
    """GitHub refuses bodies over 262,144 UTF-8 bytes, calling it "maximum is 65536 characters"
    (recorded on api.github.com: 65,536 four-byte emoji pass, one more byte fails)."""
    return body is not None and len(body.encode()) > 262144


def body_limit(resource: str, body: str | None) -> None:
    """An issue's or pull request's body over the limit: GitHub's `custom` error on `body`."""
    if too_long(body):
        raise ApiError(422, "Validation Failed", [{"resource": resource, "code": "custom", "field": "body",
                                                   "message": "body is too long (maximum is 65536 characters)"}])


# --- issues ----------------------------------------------------------------------------------
@router.post(R + "/issues", status_code=201)
def create_issue(c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.CREATE_ISSUE.read)):
    title = str(payload["title"])  # the spec allows an integer title; GitHub stores it as text
    if not title.strip():
        raise invalid("Issue", "title", "missing_field")
    body_limit("Issue", payload.get("body"))
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
def edit_issue(number: int, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.UPDATE_ISSUE.read)):
    issue = c.issue(number)
    author = issue["user"].lower() == c.login.lower()
    if not (author or c.has("triage")):
        raise forbidden()
    payload = {k: v for k, v in payload.items() if not (k == "title" and v is None)}  # null title: no change
    if "title" in payload:
        payload["title"] = str(payload["title"])
        if not payload["title"].strip():
            raise invalid("Issue", "title", "missing_field")
    body_limit("Issue", payload.get("body"))
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


def _comment_body(body: str) -> str:
    """The checks GitHub makes after the schema, in its words (recorded on api.github.com)."""
    problem = "Body cannot be blank" if not body else "Body is too long (maximum is 65536 characters)"
    if not body or too_long(body):
        raise ApiError(422, "Validation Failed", [{"resource": "IssueComment", "code": "unprocessable",
                                                   "field": "data", "message": problem}])
    return body


@router.post(R + "/issues/{number:int}/comments", status_code=201)
def create_comment(number: int, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.CREATE_COMMENT.read)):
    issue, body = c.issue(number), _comment_body(payload["body"])
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
def edit_comment(comment_id: int, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.UPDATE_COMMENT.read)):
    row = _comment(c, comment_id)
    if row["user"].lower() != c.login.lower() and not c.has("write"):
        raise forbidden()
    body = _comment_body(payload["body"])
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
def create_label(c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.CREATE_LABEL.read)):
    c.need("write")
    name = payload["name"]
    if not name:
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
def add_issue_labels(number: int, c: Ctx = Depends(repo_ctx), payload: Any = Depends(s.ADD_LABELS.read)):
    c.need("triage")
    issue = c.issue(number)
    _add_labels(c, issue, _label_names(payload))
    return _issue_labels(c, issue)


@router.put(R + "/issues/{number:int}/labels")
def set_issue_labels(number: int, c: Ctx = Depends(repo_ctx), payload: Any = Depends(s.SET_LABELS.read)):
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
def _react(c: Ctx, subject: str, subject_id: int, payload: dict) -> JSONResponse:
    content = payload["content"]  # the enum is checked with the body
    row, created = c.forge.add_reaction(subject, subject_id, c.login, content)
    return JSONResponse(c.views.reaction(row), status_code=201 if created else 200)


@router.post(R + "/issues/{number:int}/reactions", status_code=201)
def react_issue(number: int, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.REACT_ISSUE.read)):
    return _react(c, "issue", c.issue(number)["id"], payload)


@router.get(R + "/issues/{number:int}/reactions")
def list_issue_reactions(number: int, content: str | None = None, c: Ctx = Depends(repo_ctx)):
    rows = c.forge.reactions("issue", c.issue(number)["id"])
    return paginate(c.request, [c.views.reaction(r) for r in rows if content in (None, r["content"])])


@router.post(R + "/issues/comments/{comment_id:int}/reactions", status_code=201)
def react_comment(comment_id: int, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.REACT_COMMENT.read)):
    return _react(c, "comment", _comment(c, comment_id)["id"], payload)


@router.get(R + "/issues/comments/{comment_id:int}/reactions")
def list_comment_reactions(comment_id: int, content: str | None = None, c: Ctx = Depends(repo_ctx)):
    rows = c.forge.reactions("comment", _comment(c, comment_id)["id"])
    return paginate(c.request, [c.views.reaction(r) for r in rows if content in (None, r["content"])])
