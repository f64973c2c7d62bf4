"""Webhook payloads shaped like GitHub's; hookshot.py records and sends them.

Payloads validate against @octokit/webhooks-schemas (`issues$opened`, `pull_request$synchronize`...)
and have the keys of the real payloads in @octokit/webhooks-examples.
"""

from __future__ import annotations


# --- payload builders (the forge's Views supply the objects) ----------------------------------
def _base(views, repo: dict, sender: str, action: str) -> dict:
    return {"action": action, "repository": views.repo(repo, webhook=True), "sender": views.user(sender)}


def issues_payload(views, repo: dict, issue: dict, sender: str, action: str, *, label: dict | None = None,
                   changes: dict | None = None) -> dict:
    """`issues` event (opened, edited, labeled, unlabeled, closed, reopened)."""
    out = _base(views, repo, sender, action)
    out["issue"] = views.issue(repo, issue)
    if label is not None:
        out["label"] = views.label(repo, label)
    if changes is not None:
        out["changes"] = changes
    return _order(out, ("action", "issue", "label", "changes", "repository", "sender"))


def comment_payload(views, repo: dict, issue: dict, comment: dict, sender: str, action: str,
                    changes: dict | None = None) -> dict:
    """`issue_comment` event (created, edited, deleted)."""
    out = _base(views, repo, sender, action)
    out.update(issue=views.issue(repo, issue), comment=views.comment(repo, comment))
    if changes is not None:
        out["changes"] = changes
    return _order(out, ("action", "changes", "issue", "comment", "repository", "sender"))


def pull_payload(views, repo: dict, issue: dict, sender: str, action: str, *, before: str | None = None,
                 after: str | None = None, changes: dict | None = None, label: dict | None = None) -> dict:
    """`pull_request` event (opened, synchronize, edited, closed, reopened, labeled, unlabeled)."""
    out = _base(views, repo, sender, action)
    out.update(number=issue["number"], pull_request=views.pull(repo, issue, webhook=True))
    if label is not None:
        out["label"] = views.label(repo, label)
    if before is not None:
        out.update(before=before, after=after)
    if changes is not None:
        out["changes"] = changes
    return _order(out, ("action", "number", "before", "after", "changes", "pull_request", "label",
                        "repository", "sender"))


def _order(d: dict, keys: tuple) -> dict:
    """Key order like GitHub's examples (readability of logs only)."""
    return {k: d[k] for k in keys if k in d}


def workflow_dispatch_payload(views, repo: dict, workflow: dict, ref: str, inputs: dict, sender: str) -> dict:
    """`workflow_dispatch` event (no action): the inputs as sent, the full ref, the workflow's path."""
    return {"inputs": inputs or None, "ref": ref, "repository": views.repo(repo, webhook=True),
            "sender": views.user(sender), "workflow": workflow["path"]}


def workflow_run_payload(views, repo: dict, run: dict, workflow: dict, action: str) -> dict:
    """`workflow_run` event (requested, in_progress, completed); the sender is who dispatched the run."""
    out = _base(views, repo, run["actor"], action)
    out.update(workflow=views.workflow(repo, workflow), workflow_run=views.workflow_run(repo, run, webhook=True))
    return _order(out, ("action", "workflow_run", "workflow", "repository", "sender"))


def workflow_job_payload(views, repo: dict, job: dict, run: dict, action: str) -> dict:
    """`workflow_job` event (queued, in_progress, completed)."""
    out = _base(views, repo, run["actor"], action)
    out["workflow_job"] = views.workflow_job(repo, job, run)
    return _order(out, ("action", "workflow_job", "repository", "sender"))
