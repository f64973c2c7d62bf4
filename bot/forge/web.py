"""Read-only HTML view of the forge, for a person following the demo in a browser.

Markdown is rendered like GitHub's: CommonMark + tables, raw HTML off, and HTML comments hidden
(the bot's `<!-- ml-intern:... -->` state markers never show). All other text is escaped.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markdown_it import MarkdownIt

from bot.forge.gitrepo import GitError
from bot.forge.objects import REACTION_KEYS
from bot.forge.rows import Row, present

if TYPE_CHECKING:
    from bot.forge.store import Forge

router = APIRouter()
_md = MarkdownIt("commonmark", {"html": False}).enable("table")
_COMMENT = re.compile(r"<!--[\s\S]*?-->")
EMOJI = {"+1": "👍", "-1": "👎", "laugh": "😄", "hooray": "🎉", "confused": "😕", "heart": "❤️",
         "rocket": "🚀", "eyes": "👀"}

CSS = """
body{font:15px/1.5 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:10px 24px}header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:960px;margin:24px auto;padding:0 16px}a{color:#0969da}
.box{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:12px 0}
.box>h3{margin:0;padding:8px 16px;background:#f6f8fa;border-bottom:1px solid #d0d7de;font-size:14px;font-weight:400}
.body{padding:8px 16px;overflow-x:auto}.muted{color:#656d76;font-size:13px}
.label{display:inline-block;padding:0 8px;border-radius:12px;font-size:12px;font-weight:600;margin-right:4px;border:1px solid #0002}
.state{display:inline-block;padding:2px 10px;border-radius:16px;color:#fff;font-size:13px}
.open{background:#1f883d}.closed{background:#8250df}.failed{background:#cf222e}.running{background:#bf8700}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:4px 10px}
pre{background:#f6f8fa;padding:12px;overflow-x:auto;font-size:12px;border-radius:6px}
ul.list{list-style:none;padding:0;margin:0}ul.list li{padding:8px 16px;border-top:1px solid #d0d7de}
.reactions span{border:1px solid #d0d7de;border-radius:12px;padding:0 8px;margin-right:4px;font-size:13px}
"""


# GitHub's sanitizer keeps these attribute-free tags; everything else stays escaped text.
_SAFE_TAGS = re.compile(r"&lt;(/?)(details|summary|sub|sup|br|kbd)&gt;")


def markdown(text: str | None) -> str:
    """GitHub-flavoured enough: tables, a few safe tags, no other raw HTML, hidden comments."""
    return _SAFE_TAGS.sub(r"<\1\2>", _md.render(_COMMENT.sub("", text or "")))


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """The common page frame."""
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body><header><a href='/'>forge</a> · "
            f"<span>{escape(title)}</span></header><main>{body}</main></body></html>")
    return HTMLResponse(html, status_code=status)


def missing(what: str = "Not found") -> HTMLResponse:
    return page(what, f"<h1>{escape(what)}</h1>", status=404)


def _forge(request: Request) -> Forge:
    return request.app.state.forge


def _repo(request: Request, owner: str, name: str) -> Row | None:
    """Public repositories only: the view has no login."""
    repo = _forge(request).repo(f"{owner}/{name}")
    return repo if repo and not repo["private"] else None


def _label_html(lab: dict) -> str:
    return (f"<span class='label' style='background:#{escape(lab['color'])}'>"
            f"{escape(lab['name'])}</span>")


def _reactions_html(forge: Forge, subject: str, sid: int) -> str:
    rows = forge.reactions(subject, sid)
    counts = {k: sum(1 for r in rows if r["content"] == k) for k in REACTION_KEYS}
    spans = "".join(f"<span title='{k}'>{EMOJI[k]} {n}</span>" for k, n in counts.items() if n)
    return f"<div class='reactions'>{spans}</div>" if spans else ""


def _post(forge: Forge, who: str, when: str, body: str | None, subject: str, sid: int, anchor: str = "") -> str:
    """One issue body or comment box."""
    ident = f" id='{anchor}'" if anchor else ""
    return (f"<div class='box'{ident}><h3><b>{escape(who)}</b> <span class='muted'>{escape(when)}</span></h3>"
            f"<div class='body markdown'>{markdown(body)}{_reactions_html(forge, subject, sid)}</div></div>")


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    repos = [r for r in _forge(request).repos() if not r["private"]]
    items = "".join(f"<li><a href='/{escape(r['full_name'])}'>{escape(r['full_name'])}</a> "
                    f"<span class='muted'>{escape(r['description'] or '')}</span></li>" for r in repos)
    return page("Repositories", f"<h1>Repositories</h1><div class='box'><ul class='list'>{items}</ul></div>")


@router.get("/avatars/{login}")
def avatar(login: str):
    """A letter avatar, so avatar_url resolves."""
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' width='40' height='40'><rect width='40' height='40' "
           f"fill='#8c959f'/><text x='20' y='26' font-size='18' text-anchor='middle' fill='#fff'>"
           f"{escape(login[:1].upper())}</text></svg>")
    return Response(svg, media_type="image/svg+xml")


@router.get("/_forge/deliveries", response_class=HTMLResponse)
def deliveries(request: Request):
    """Webhook deliveries, like a repository's "Recent Deliveries" tab."""
    rows = "".join(f"<tr><td>{escape(d['id'])}</td><td>{escape(d['event'])}</td>"
                   f"<td>{escape(str(d['action']))}</td><td>{d['status_code']}</td>"
                   f"<td>{'redelivery' if d['redelivery'] else ''}</td><td>{escape(d['created_at'])}</td></tr>"
                   for d in _forge(request).deliveries())
    return page("Webhook deliveries", "<h1>Webhook deliveries</h1><table><tr><th>delivery</th><th>event"
                f"</th><th>action</th><th>status</th><th></th><th>queued</th></tr>{rows}</table>")


@router.get("/{login}", response_class=HTMLResponse)
def user_page(login: str, request: Request):
    """A user's or organisation's html_url: its public repositories."""
    forge = _forge(request)
    user = forge.user(login)
    if user is None:
        return missing()
    repos = [r for r in forge.repos() if r["owner"].lower() == login.lower() and not r["private"]]
    items = "".join(f"<li><a href='/{escape(r['full_name'])}'>{escape(r['full_name'])}</a></li>" for r in repos)
    return page(user["login"], f"<h1>{escape(user['login'])} <span class='muted'>{escape(user['type'])}</span>"
                f"</h1><div class='box'><ul class='list'>{items or '<li>No repositories.</li>'}</ul></div>")


@router.get("/{owner}/{name}", response_class=HTMLResponse)
def repo_page(owner: str, name: str, request: Request):
    repo = _repo(request, owner, name)
    if repo is None:
        return missing()
    git, fn, branch = _forge(request).git(repo["full_name"]), repo["full_name"], repo["default_branch"]
    entries = [e for e in git.ls_tree(f"refs/heads/{branch}", recursive=True) if e["type"] == "blob"]
    files = "".join(f"<li><a href='/{escape(fn)}/blob/{escape(branch)}/{escape(e['path'])}'>"
                    f"{escape(e['path'])}</a></li>" for e in entries)
    readme = ""
    if any(e["path"] == "README.md" for e in entries):
        sha = git.resolve(f"refs/heads/{branch}:README.md")
        assert sha is not None  # listed in the tree just read
        text = git.read_blob(sha).decode("utf-8", "replace")
        readme = f"<div class='box'><h3>README.md</h3><div class='body'>{markdown(text)}</div></div>"
    body = (f"<h1>{escape(fn)}</h1><p><a href='/{escape(fn)}/issues'>Issues and pull requests</a> · "
            f"<a href='/{escape(fn)}/actions'>Actions</a></p>"
            f"<div class='box'><h3>{escape(branch)}</h3><ul class='list'>{files}</ul></div>{readme}")
    return page(fn, body)


@router.get("/{owner}/{name}/issues", response_class=HTMLResponse)
def issues_page(owner: str, name: str, request: Request):
    repo = _repo(request, owner, name)
    if repo is None:
        return missing()
    forge, fn = _forge(request), repo["full_name"]
    items = []
    for i in forge.issues(repo, "all"):
        kind = "pull" if i["is_pull"] else "issues"
        labels = "".join(_label_html(lab) for lab in forge.issue_labels(i))
        items.append(f"<li><span class='state {i['state']}'>{i['state']}</span> "
                     f"<a href='/{escape(fn)}/{kind}/{i['number']}'>{escape(i['title'])}</a> "
                     f"<span class='muted'>#{i['number']} by {escape(i['user'])}"
                     f"{' · pull request' if i['is_pull'] else ''}</span> {labels}</li>")
    return page(f"{fn} issues", f"<h1>{escape(fn)}</h1><div class='box'><ul class='list'>"
                f"{''.join(items) or '<li>No issues yet.</li>'}</ul></div>")


def _thread(forge: Forge, repo: Row, issue: Row) -> str:
    """Title, state, labels, body and every comment of an issue or PR."""
    labels = "".join(_label_html(lab) for lab in forge.issue_labels(issue))
    parts = [f"<h1>{escape(issue['title'])} <span class='muted'>#{issue['number']}</span></h1>",
             f"<p><span class='state {issue['state']}'>{issue['state']}</span> {labels}</p>",
             _post(forge, issue["user"], issue["created_at"], issue["body"], "issue", issue["id"])]
    for c in forge.comments(issue):
        parts.append(_post(forge, c["user"], c["created_at"], c["body"], "comment", c["id"],
                           anchor=f"issuecomment-{c['id']}"))
    return "".join(parts)


@router.get("/{owner}/{name}/issues/{number:int}", response_class=HTMLResponse)
def issue_page(owner: str, name: str, number: int, request: Request):
    repo = _repo(request, owner, name)
    issue = repo and _forge(request).issue(repo, number)
    if not repo or not issue:
        return missing()
    return page(f"{issue['title']} · #{number}", _thread(_forge(request), repo, issue))


@router.get("/{owner}/{name}/pull/{number:int}", response_class=HTMLResponse)
def pull_page(owner: str, name: str, number: int, request: Request):
    repo = _repo(request, owner, name)
    forge = _forge(request)
    issue = repo and forge.issue(repo, number)
    if not repo or not issue or not issue["is_pull"]:
        return missing()
    info, git = present(forge.pull_info(issue)), forge.git(repo["full_name"])
    head = git.ref_sha(f"refs/heads/{info['head_ref']}") or ""
    files, commits = forge.pull_diff(repo, issue)
    blocks = []
    for f in files:
        content = ""
        if f["status"] != "removed":
            content = git.read_blob(f["sha"]).decode("utf-8", "replace")
        blocks.append(f"<div class='box'><h3>{escape(f['filename'])} <span class='muted'>{f['status']} "
                      f"+{f['additions']} −{f['deletions']}</span></h3><pre>{escape(content)}</pre></div>")
    meta = (f"<p class='muted'>{escape(info['head_ref'])} → {escape(info['base_ref'])} · head "
            f"<code class='head-sha'>{head}</code> · {len(commits)} commit(s), {len(files)} file(s)</p>")
    return page(f"{issue['title']} · PR #{number}", _thread(forge, repo, issue) + meta + "".join(blocks))


@router.get("/{owner}/{name}/commit/{sha}", response_class=HTMLResponse)
def commit_page(owner: str, name: str, sha: str, request: Request):
    """A commit: message, author and its diff against the first parent."""
    repo = _repo(request, owner, name)
    if repo is None:
        return missing()
    git = _forge(request).git(repo["full_name"])
    try:
        info = git.read_commit(sha)
    except GitError:
        return missing()
    parent = info.parents[0] if info.parents else git.build_tree(None, [])
    diffs = "".join(f"<div class='box'><h3>{escape(f['filename'])} <span class='muted'>{f['status']}</span>"
                    f"</h3><pre>{escape(f['patch'])}</pre></div>" for f in git.diff_files(parent, sha))
    body = (f"<h1>{escape(info.message.splitlines()[0] if info.message else sha)}</h1><p class='muted'>"
            f"{escape(info.author.name)} · <code>{sha}</code></p>{diffs}")
    return page(f"commit {sha[:7]}", body)


@router.get("/{owner}/{name}/tree/{rest:path}", response_class=HTMLResponse)
def tree_page(owner: str, name: str, rest: str, request: Request):
    """A branch (or a directory on it): the files below it."""
    repo = _repo(request, owner, name)
    if repo is None:
        return missing()
    git, parts = _forge(request).git(repo["full_name"]), rest.split("/")
    for i in range(len(parts), 0, -1):
        ref, path = "/".join(parts[:i]), "/".join(parts[i:])
        tree = git.resolve(f"{ref}:{path}" if path else f"{ref}^{{tree}}")
        if tree and git.object_type(tree) == "tree":
            prefix = f"{path}/" if path else ""
            items = "".join(
                f"<li><a href='/{escape(repo['full_name'])}/blob/{escape(ref)}/{escape(prefix + e['path'])}'>"
                f"{escape(prefix + e['path'])}</a></li>"
                for e in git.ls_tree(tree, recursive=True) if e["type"] == "blob")
            return page(rest, f"<h1>{escape(rest)}</h1><div class='box'><ul class='list'>{items}</ul></div>")
    return missing()


def _blob(request: Request, owner: str, name: str, rest: str) -> tuple[str, str, bytes] | None:
    """Split `ref/path` like GitHub (refs may hold slashes): the first prefix that resolves wins."""
    repo = _repo(request, owner, name)
    if repo is None:
        return None
    git, parts = _forge(request).git(repo["full_name"]), rest.split("/")
    for i in range(1, len(parts)):
        ref, path = "/".join(parts[:i]), "/".join(parts[i:])
        sha = git.resolve(f"{ref}:{path}")
        if sha:
            try:
                return ref, path, git.read_blob(sha)
            except GitError:
                return None
    return None


@router.get("/{owner}/{name}/blob/{rest:path}", response_class=HTMLResponse)
def blob_page(owner: str, name: str, rest: str, request: Request):
    found = _blob(request, owner, name, rest)
    if found is None:
        return missing()
    ref, path, data = found
    body = (f"<h1>{escape(path)}</h1><p class='muted'>{escape(owner)}/{escape(name)} @ {escape(ref)}</p>"
            f"<pre>{escape(data.decode('utf-8', 'replace'))}</pre>")
    return page(path, body)


@router.get("/{owner}/{name}/raw/{rest:path}")
def raw_file(owner: str, name: str, rest: str, request: Request):
    """download_url target."""
    found = _blob(request, owner, name, rest)
    if found is None:
        return Response("404: Not Found", status_code=404, media_type="text/plain")
    return Response(found[2], media_type="text/plain; charset=utf-8")


# --- actions ----------------------------------------------------------------------------------------
def _run_badge(run: Row) -> str:
    state = run["conclusion"] or run["status"]
    color = {"success": "open", "failure": "failed", "cancelled": "closed"}.get(state, "running")
    return f"<span class='state {color}'>{escape(state)}</span>"


@router.get("/{owner}/{name}/actions", response_class=HTMLResponse)
def runs_page(owner: str, name: str, request: Request):
    """A repository's workflow runs, newest first."""
    repo = _repo(request, owner, name)
    if repo is None:
        return missing()
    fn = repo["full_name"]
    items = "".join(f"<li>{_run_badge(r)} <a href='/{escape(fn)}/actions/runs/{r['id']}'>{escape(r['display_title'])}"
                    f"</a> <span class='muted'>{escape(r['name'])} #{r['run_number']} · {escape(r['actor'])} · "
                    f"{escape(r['created_at'])}</span></li>" for r in _forge(request).runs(repo))
    return page(f"{fn} · Actions", f"<h1>Actions</h1><div class='box'><ul class='list'>"
                f"{items or '<li>No workflow runs yet.</li>'}</ul></div>")


@router.get("/{owner}/{name}/actions/runs/{run_id:int}", response_class=HTMLResponse)
@router.get("/{owner}/{name}/actions/runs/{run_id:int}/job/{job_id:int}", response_class=HTMLResponse)
def run_page(owner: str, name: str, run_id: int, request: Request, job_id: int | None = None):
    """A run (its html_url) and its jobs' (html_url) steps, logs and artifacts."""
    repo = _repo(request, owner, name)
    forge = _forge(request)
    run = forge.run(repo, run_id) if repo else None
    if repo is None or run is None:
        return missing()
    fn = repo["full_name"]
    jobs = ""
    for job in forge.jobs(run_id):
        steps = "".join(f"<li>{escape(s['conclusion'] or s['status'])} · {escape(s['name'])}</li>"
                        for s in json.loads(job["steps"]))
        log = forge.job_log(job["id"]).decode("utf-8", "replace")
        jobs += (f"<div class='box' id='job-{job['id']}'><h3><b>{escape(job['name'])}</b> "
                 f"{escape(job['conclusion'] or job['status'])}</h3><ul class='list'>{steps}</ul>"
                 f"<div class='body'><pre>{escape(log)}</pre></div></div>")
    arts = "".join(f"<li><a href='/{escape(fn)}/actions/runs/{run_id}/artifacts/{a['id']}'>{escape(a['name'])}</a> "
                   f"<span class='muted'>{a['size']} bytes</span></li>" for a in forge.artifacts(repo, run_id))
    body = (f"<h1>{escape(run['display_title'])} {_run_badge(run)}</h1><p class='muted'>{escape(run['name'])} "
            f"#{run['run_number']} · {escape(run['event'])} by {escape(run['actor'])} on "
            f"{escape(run['head_branch'] or '')} @ <a href='/{escape(fn)}/commit/{escape(run['head_sha'])}'>"
            f"{escape(run['head_sha'][:7])}</a></p>"
            + (f"<div class='box'><h3>The workflow could not start</h3><div class='body'>{escape(run['error'])}</div>"
               "</div>" if run["error"] else "")
            + f"{jobs}<div class='box'><h3>Artifacts</h3><ul class='list'>"
            f"{arts or '<li>None.</li>'}</ul></div>")
    return page(run["display_title"], body)


@router.get("/{owner}/{name}/actions/runs/{run_id:int}/artifacts/{artifact_id:int}")
def artifact_download(owner: str, name: str, run_id: int, artifact_id: int, request: Request):
    """The zip behind upload-artifact's `artifact-url` output."""
    repo = _repo(request, owner, name)
    forge = _forge(request)
    artifact = forge.artifact(repo, artifact_id) if repo else None
    if artifact is None or artifact["run_id"] != run_id or not forge.artifact_path(artifact_id).exists():
        return missing()
    return Response(forge.artifact_path(artifact_id).read_bytes(), media_type="application/zip",
                    headers={"Content-Disposition": f"attachment; filename={artifact['name']}.zip"})
