"""GitHub-shaped JSON for forge rows (REST responses and webhook payloads share these builders).

Shapes follow GitHub's OpenAPI description (`components/schemas/*`) and the webhook JSON schemas,
which forbid extra keys: builders emit only keys both documents accept, and `webhook=True`
drops the few REST-only ones.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib

from bot.forge.gitrepo import CommitInfo, GitError, Person

REACTION_KEYS = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")


def node_id(kind: str, ident: int | str) -> str:
    """Opaque global id in GitHub's style (prefix + base64)."""
    return kind + "_" + base64.b64encode(f"forge:{kind}:{ident}".encode()).decode().rstrip("=")


def iso(ts: int) -> str:
    """Unix seconds to GitHub's ISO 8601 UTC format."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Views:
    """Builds JSON objects with URLs rooted at the forge's own base (api_url / html_url)."""

    def __init__(self, forge):
        self.forge = forge
        self.api = forge.api_url
        self.html = forge.html_url.rstrip("/")

    # --- users & repos -----------------------------------------------------------------
    def user(self, login: str) -> dict:
        """simple-user (also the webhook `user` definition, which allows no extra keys)."""
        row = self.forge.user(login) or {"id": zlib.crc32(login.encode()), "login": login, "type": "User"}
        u, base = row["login"], f"{self.api}/users/{row['login']}"
        return {
            "login": u, "id": row["id"], "node_id": node_id("U", row["id"]),
            "avatar_url": f"{self.html}/avatars/{u}", "gravatar_id": "", "url": base,
            "html_url": f"{self.html}/{u}", "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}", "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs", "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}", "received_events_url": f"{base}/received_events",
            "type": row["type"], "site_admin": False,
        }

    def repo(self, repo: dict, *, full: bool = True, webhook: bool = False) -> dict:
        """full-repository / repository / webhook repository."""
        fn, api = repo["full_name"], f"{self.api}/repos/{repo['full_name']}"
        open_count = len(self.forge.issues(repo, "open"))
        out = {
            "id": repo["id"], "node_id": node_id("R", repo["id"]), "name": repo["name"], "full_name": fn,
            "private": bool(repo["private"]), "owner": self.user(repo["owner"]),
            "html_url": f"{self.html}/{fn}", "description": repo["description"], "fork": False, "url": api,
        }
        for key, suffix in _REPO_URLS:
            out[key] = api + suffix
        out.update({
            "created_at": repo["created_at"], "updated_at": repo["updated_at"],
            "pushed_at": repo["pushed_at"], "git_url": f"{self.html}/{fn}.git".replace("http", "git", 1),
            "ssh_url": f"git@forge.local:{fn}.git", "clone_url": f"{self.html}/{fn}.git",
            "svn_url": f"{self.html}/{fn}", "homepage": None, "size": 0, "stargazers_count": 0,
            "watchers_count": 0, "language": None, "has_issues": True, "has_projects": False,
            "has_downloads": True, "has_wiki": False, "has_pages": False, "has_discussions": False,
            "forks_count": 0, "mirror_url": None, "archived": False, "disabled": False,
            "open_issues_count": open_count, "license": None, "allow_forking": True,
            "is_template": False, "web_commit_signoff_required": False, "topics": [],
            "visibility": "private" if repo["private"] else "public", "forks": 0,
            "open_issues": open_count, "watchers": 0, "default_branch": repo["default_branch"],
            "custom_properties": {},
        })
        if full and not webhook:
            out.update(network_count=0, subscribers_count=0)
        return out

    # --- issues -------------------------------------------------------------------------
    def association(self, repo: dict, login: str) -> str:
        """author_association: OWNER / COLLABORATOR / NONE (GitHub's enum)."""
        role = self.forge.explicit_role(repo, login)
        if login.lower() == repo["owner"].lower():
            return "OWNER"
        return "COLLABORATOR" if role else "NONE"

    def label(self, repo: dict, lab: dict) -> dict:
        """label."""
        return {"id": lab["id"], "node_id": node_id("LA", lab["id"]),
                "url": f"{self.api}/repos/{repo['full_name']}/labels/{lab['name']}".replace(" ", "%20"),
                "name": lab["name"], "color": lab["color"], "default": False,
                "description": lab["description"]}

    def rollup(self, url: str, subject: str, subject_id: int) -> dict:
        """reaction-rollup."""
        rows = self.forge.reactions(subject, subject_id)
        out = {"url": url, "total_count": len(rows)}
        out.update({k: sum(1 for r in rows if r["content"] == k) for k in REACTION_KEYS})
        return out

    def issue(self, repo: dict, issue: dict) -> dict:
        """issue (also valid as the webhook `issue` definition)."""
        api = f"{self.api}/repos/{repo['full_name']}/issues/{issue['number']}"
        kind = "pull" if issue["is_pull"] else "issues"
        out = {
            "url": api, "repository_url": f"{self.api}/repos/{repo['full_name']}",
            "labels_url": f"{api}/labels{{/name}}", "comments_url": f"{api}/comments",
            "events_url": f"{api}/events", "html_url": f"{self.html}/{repo['full_name']}/{kind}/{issue['number']}",
            "id": issue["id"], "node_id": node_id("I", issue["id"]), "number": issue["number"],
            "title": issue["title"], "user": self.user(issue["user"]),
            "labels": [self.label(repo, lab) for lab in self.forge.issue_labels(issue)],
            "state": issue["state"], "locked": bool(issue["locked"]), "assignee": None, "assignees": [],
            "milestone": None, "comments": len(self.forge.comments(issue)),
            "created_at": issue["created_at"], "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"], "author_association": self.association(repo, issue["user"]),
            "active_lock_reason": None, "body": issue["body"],
            "reactions": self.rollup(f"{api}/reactions", "issue", issue["id"]),
            "timeline_url": f"{api}/timeline", "performed_via_github_app": None,
            "state_reason": issue["state_reason"],
        }
        if issue["is_pull"]:
            pr = f"{self.api}/repos/{repo['full_name']}/pulls/{issue['number']}"
            html = f"{self.html}/{repo['full_name']}/pull/{issue['number']}"
            info = self.forge.pull_info(issue) or {}
            out["draft"] = bool(info.get("draft"))
            out["pull_request"] = {"url": pr, "html_url": html, "diff_url": html + ".diff",
                                   "patch_url": html + ".patch", "merged_at": info.get("merged_at")}
        return out

    def comment(self, repo: dict, c: dict) -> dict:
        """issue-comment."""
        issue = self.forge.issue_by_id(c["issue_id"])
        base = f"{self.api}/repos/{repo['full_name']}"
        kind = "pull" if issue["is_pull"] else "issues"
        return {
            "url": f"{base}/issues/comments/{c['id']}",
            "html_url": f"{self.html}/{repo['full_name']}/{kind}/{issue['number']}#issuecomment-{c['id']}",
            "issue_url": f"{base}/issues/{issue['number']}", "id": c["id"],
            "node_id": node_id("IC", c["id"]), "user": self.user(c["user"]),
            "created_at": c["created_at"], "updated_at": c["updated_at"],
            "author_association": self.association(repo, c["user"]), "body": c["body"],
            "reactions": self.rollup(f"{base}/issues/comments/{c['id']}/reactions", "comment", c["id"]),
            "performed_via_github_app": None,
        }

    def reaction(self, r: dict) -> dict:
        """reaction."""
        return {"id": r["id"], "node_id": node_id("REA", r["id"]), "user": self.user(r["user"]),
                "content": r["content"], "created_at": r["created_at"]}

    # --- git data -------------------------------------------------------------------------
    def ref(self, repo: dict, name: str, sha: str, kind: str = "commit") -> dict:
        """git-ref."""
        base = f"{self.api}/repos/{repo['full_name']}/git"
        return {"ref": name, "node_id": node_id("REF", f"{repo['id']}:{name}"),
                "url": f"{base}/{name}",
                "object": {"type": kind, "sha": sha, "url": f"{base}/{kind}s/{sha}"}}

    def person(self, p: Person) -> dict:
        """Git author/committer identity."""
        return {"name": p.name, "email": p.email, "date": iso(p.timestamp)}

    def git_commit(self, repo: dict, c: CommitInfo) -> dict:
        """git-commit."""
        base = f"{self.api}/repos/{repo['full_name']}/git"
        return {
            "sha": c.sha, "node_id": node_id("C", c.sha), "url": f"{base}/commits/{c.sha}",
            "html_url": f"{self.html}/{repo['full_name']}/commit/{c.sha}",
            "author": self.person(c.author), "committer": self.person(c.committer),
            "tree": {"sha": c.tree, "url": f"{base}/trees/{c.tree}"}, "message": c.message,
            "parents": [{"sha": p, "url": f"{base}/commits/{p}",
                         "html_url": f"{self.html}/{repo['full_name']}/commit/{p}"} for p in c.parents],
            "verification": {"verified": False, "reason": "unsigned", "signature": None,
                             "payload": None, "verified_at": None},
        }

    def commit(self, repo: dict, c: CommitInfo, files: list[dict] | None = None) -> dict:
        """commit (the REST `GET /commits/{sha}` and PR-commits shape)."""
        base = f"{self.api}/repos/{repo['full_name']}"
        gc = self.git_commit(repo, c)
        inner = {k: gc[k] for k in ("author", "committer", "message", "tree", "url", "verification")}
        inner["comment_count"] = 0
        out = {"url": f"{base}/commits/{c.sha}", "sha": c.sha, "node_id": gc["node_id"],
               "html_url": gc["html_url"], "comments_url": f"{base}/commits/{c.sha}/comments",
               "commit": inner, "author": self._account(c.author), "committer": self._account(c.committer),
               "parents": [{"sha": p, "url": f"{base}/commits/{p}",
                            "html_url": f"{self.html}/{repo['full_name']}/commit/{p}"} for p in c.parents]}
        if files is not None:
            out["files"] = [self.diff_entry(repo, f, c.sha) for f in files]
            adds, dels = sum(f["additions"] for f in files), sum(f["deletions"] for f in files)
            out["stats"] = {"additions": adds, "deletions": dels, "total": adds + dels}
        return out

    def _account(self, p: Person) -> dict:
        """The forge user behind a commit identity (matched by noreply email), else {} like GitHub."""
        login = p.email.split("@", 1)[0] if p.email.endswith("@users.noreply.forge.local") else None
        return self.user(login) if login and self.forge.user(login) else {}

    def diff_entry(self, repo: dict, f: dict, ref: str) -> dict:
        """diff-entry (PR files)."""
        fn = repo["full_name"]
        return {"sha": f["sha"], "filename": f["filename"], "status": f["status"],
                "additions": f["additions"], "deletions": f["deletions"],
                "changes": f["additions"] + f["deletions"],
                "blob_url": f"{self.html}/{fn}/blob/{ref}/{f['filename']}",
                "raw_url": f"{self.html}/{fn}/raw/{ref}/{f['filename']}",
                "contents_url": f"{self.api}/repos/{fn}/contents/{f['filename']}?ref={ref}",
                "patch": f["patch"]}

    def tree(self, repo: dict, sha: str, entries: list[dict]) -> dict:
        """git-tree."""
        base = f"{self.api}/repos/{repo['full_name']}/git"
        items = []
        for e in entries:
            item = {"path": e["path"], "mode": e["mode"], "type": e["type"], "sha": e["sha"],
                    "url": f"{base}/{e['type']}s/{e['sha']}"}
            if e["type"] == "blob":
                item["size"] = e["size"]
            items.append(item)
        return {"sha": sha, "url": f"{base}/trees/{sha}", "tree": items, "truncated": False}

    def blob(self, repo: dict, sha: str, data: bytes) -> dict:
        """blob (base64 content, as GitHub returns it)."""
        return {"sha": sha, "node_id": node_id("B", sha), "size": len(data),
                "url": f"{self.api}/repos/{repo['full_name']}/git/blobs/{sha}",
                "content": base64.encodebytes(data).decode(), "encoding": "base64"}

    def content_item(self, repo: dict, path: str, ref: str, sha: str, kind: str, size: int) -> dict:
        """content-file without the content (directory listings use this shape)."""
        fn, api = repo["full_name"], f"{self.api}/repos/{repo['full_name']}"
        self_url = f"{api}/contents/{path}?ref={ref}"
        git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"
        html = f"{self.html}/{fn}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
        return {"type": kind, "size": size, "name": path.rsplit("/", 1)[-1], "path": path, "sha": sha,
                "url": self_url, "git_url": git_url, "html_url": html,
                "download_url": None if kind == "dir" else f"{self.html}/{fn}/raw/{ref}/{path}",
                "_links": {"self": self_url, "git": git_url, "html": html}}

    def content_file(self, repo: dict, path: str, ref: str, sha: str, data: bytes) -> dict:
        """content-file."""
        out = self.content_item(repo, path, ref, sha, "file", len(data))
        out.update(content=base64.encodebytes(data).decode(), encoding="base64")
        return out

    # --- pull requests ----------------------------------------------------------------------
    def pull(self, repo: dict, issue: dict, *, webhook: bool = False) -> dict:
        """pull-request (stats computed from the real git history)."""
        info = self.forge.pull_info(issue)
        git = self.forge.git(repo["full_name"])
        head_sha = git.ref_sha(f"refs/heads/{info['head_ref']}") or "0" * 40
        base_sha = git.ref_sha(f"refs/heads/{info['base_ref']}") or "0" * 40
        files, commits = self.forge.pull_diff(repo, issue)
        fn, num = repo["full_name"], issue["number"]
        api, html = f"{self.api}/repos/{fn}/pulls/{num}", f"{self.html}/{fn}/pull/{num}"
        ish = self.issue(repo, issue)
        link = {"self": api, "html": html, "issue": ish["url"], "comments": ish["comments_url"],
                "review_comments": f"{api}/comments",
                "review_comment": f"{self.api}/repos/{fn}/pulls/comments{{/number}}",
                "commits": f"{api}/commits", "statuses": f"{self.api}/repos/{fn}/statuses/{head_sha}"}
        out = {
            "url": api, "id": issue["id"], "node_id": node_id("PR", issue["id"]), "html_url": html,
            "diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": ish["url"],
            "number": num, "state": issue["state"], "locked": bool(issue["locked"]),
            "title": issue["title"], "user": ish["user"], "body": issue["body"],
            "created_at": issue["created_at"], "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"], "merged_at": info["merged_at"], "merge_commit_sha": None,
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
            "labels": ish["labels"], "milestone": None, "draft": bool(info["draft"]),
            "commits_url": link["commits"], "review_comments_url": link["review_comments"],
            "review_comment_url": link["review_comment"], "comments_url": ish["comments_url"],
            "statuses_url": link["statuses"],
            "head": self._branch(repo, info["head_ref"], head_sha, webhook),
            "base": self._branch(repo, info["base_ref"], base_sha, webhook),
            "_links": {k: {"href": v} for k, v in link.items()},
            "author_association": ish["author_association"], "auto_merge": None,
            "active_lock_reason": None, "merged": bool(info["merged"]),
            "mergeable": True if issue["state"] == "open" else None, "rebaseable": None,
            "mergeable_state": "clean" if issue["state"] == "open" else "unknown", "merged_by": None,
            "comments": ish["comments"], "review_comments": 0,
            "maintainer_can_modify": bool(info["maintainer_can_modify"]), "commits": len(commits),
            "additions": sum(f["additions"] for f in files),
            "deletions": sum(f["deletions"] for f in files), "changed_files": len(files),
        }
        return out

    def _branch(self, repo: dict, ref: str, sha: str, webhook: bool) -> dict:
        """A PR's head/base: label, ref, sha, user, repo."""
        return {"label": f"{repo['owner']}:{ref}", "ref": ref, "sha": sha,
                "user": self.user(repo["owner"]), "repo": self.repo(repo, full=False, webhook=webhook)}


    # --- actions ----------------------------------------------------------------------------
    def workflow(self, repo: dict, w: dict) -> dict:
        """workflow (also the webhook `workflow` definition)."""
        fn = repo["full_name"]
        return {"id": w["id"], "node_id": node_id("W", w["id"]), "name": w["name"], "path": w["path"],
                "state": "active", "created_at": repo["created_at"], "updated_at": repo["updated_at"],
                "url": f"{self.api}/repos/{fn}/actions/workflows/{w['id']}",
                "html_url": f"{self.html}/{fn}/blob/{repo['default_branch']}/{w['path']}",
                "badge_url": f"{self.html}/{fn}/workflows/{w['path'].rsplit('/', 1)[-1]}/badge.svg"}

    def _repo_lite(self, repo: dict) -> dict:
        """The webhook `repository-lite` (a workflow run's repository): only the keys it allows."""
        full = self.repo(repo, full=False, webhook=True)
        return {k: full[k] for k in _REPO_LITE_KEYS}

    def head_commit(self, repo: dict, sha: str) -> dict | None:
        """simple-commit (a run's head_commit)."""
        try:
            c = self.forge.git(repo["full_name"]).read_commit(sha)
        except GitError:
            return None
        return {"id": c.sha, "tree_id": c.tree, "message": c.message.rstrip("\n"),
                "timestamp": iso(c.committer.timestamp),
                "author": {"name": c.author.name, "email": c.author.email},
                "committer": {"name": c.committer.name, "email": c.committer.email}}

    def workflow_run(self, repo: dict, run: dict, *, webhook: bool = False) -> dict:
        """workflow-run (REST) or the webhook `workflow-run` (which allows no extra keys)."""
        fn, rid = repo["full_name"], run["id"]
        api = f"{self.api}/repos/{fn}/actions/runs/{rid}"
        actor = self.user(run["actor"])
        out = {
            "id": rid, "name": run["name"], "node_id": node_id("WFR", rid), "head_branch": run["head_branch"],
            "head_sha": run["head_sha"], "path": run["path"], "display_title": run["display_title"],
            "run_number": run["run_number"], "event": run["event"], "status": run["status"],
            "conclusion": run["conclusion"], "workflow_id": run["workflow_id"], "check_suite_id": rid,
            "check_suite_node_id": node_id("CS", rid), "url": api,
            "html_url": f"{self.html}/{fn}/actions/runs/{rid}", "pull_requests": [],
            "created_at": run["created_at"], "updated_at": run["updated_at"], "actor": actor,
            "run_attempt": 1, "referenced_workflows": [], "run_started_at": run["run_started_at"],
            "triggering_actor": actor, "jobs_url": f"{api}/jobs", "logs_url": f"{api}/logs",
            "check_suite_url": f"{self.api}/repos/{fn}/check-suites/{rid}", "artifacts_url": f"{api}/artifacts",
            "cancel_url": f"{api}/cancel", "rerun_url": f"{api}/rerun", "previous_attempt_url": None,
            "workflow_url": f"{self.api}/repos/{fn}/actions/workflows/{run['workflow_id']}",
            "head_commit": self.head_commit(repo, run["head_sha"]),
        }
        if webhook:
            out.update(repository=self._repo_lite(repo), head_repository=self._repo_lite(repo))
            if out["head_branch"] is None:  # the webhook schema wants a string
                out["head_branch"] = ""
        else:
            mini = self.repo(repo, full=False)
            out.update(repository=mini, head_repository=mini, head_repository_id=repo["id"])
        return out

    def workflow_job(self, repo: dict, job: dict, run: dict) -> dict:
        """job (REST), which is also the webhook `workflow-job`."""
        fn, jid = repo["full_name"], job["id"]
        running = job["status"] != "queued"
        return {
            "id": jid, "run_id": run["id"], "workflow_name": run["name"], "head_branch": run["head_branch"],
            "run_url": f"{self.api}/repos/{fn}/actions/runs/{run['id']}", "run_attempt": 1,
            "node_id": node_id("CR", jid), "head_sha": run["head_sha"],
            "url": f"{self.api}/repos/{fn}/actions/jobs/{jid}",
            "html_url": f"{self.html}/{fn}/actions/runs/{run['id']}/job/{jid}", "status": job["status"],
            "conclusion": job["conclusion"], "created_at": job["created_at"],
            "started_at": job["started_at"] or job["created_at"], "completed_at": job["completed_at"],
            "name": job["name"], "steps": json.loads(job["steps"]),
            "check_run_url": f"{self.api}/repos/{fn}/check-runs/{jid}", "labels": json.loads(job["labels"]),
            "runner_id": 1 if running else None, "runner_name": "forge-runner" if running else None,
            "runner_group_id": 1 if running else None, "runner_group_name": "Default" if running else None,
        }

    def artifact(self, repo: dict, a: dict, run: dict) -> dict:
        """artifact."""
        base = f"{self.api}/repos/{repo['full_name']}/actions/artifacts/{a['id']}"
        return {"id": a["id"], "node_id": node_id("MDg", a["id"]), "name": a["name"], "size_in_bytes": a["size"],
                "url": base, "archive_download_url": f"{base}/zip", "expired": False,
                "created_at": a["created_at"], "expires_at": a["expires_at"], "updated_at": a["created_at"],
                "digest": a["digest"],
                "workflow_run": {"id": run["id"], "repository_id": repo["id"], "head_repository_id": repo["id"],
                                 "head_branch": run["head_branch"], "head_sha": run["head_sha"]}}


_REPO_URLS = [(k, s) for k, s in [
    ("forks_url", "/forks"), ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"), ("teams_url", "/teams"),
    ("hooks_url", "/hooks"), ("issue_events_url", "/issues/events{/number}"), ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"), ("branches_url", "/branches{/branch}"), ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"), ("git_tags_url", "/git/tags{/sha}"), ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"), ("statuses_url", "/statuses/{sha}"), ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"), ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"), ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"), ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"), ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"), ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"), ("archive_url", "/{archive_format}{/ref}"), ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"), ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"), ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"), ("releases_url", "/releases{/id}"), ("deployments_url", "/deployments"),
]]
_REPO_LITE_KEYS = (
    "id", "node_id", "name", "full_name", "private", "owner", "html_url", "description", "fork", "url", "archive_url",
    "assignees_url", "blobs_url", "branches_url", "collaborators_url", "comments_url", "commits_url", "compare_url",
    "contents_url", "contributors_url", "deployments_url", "downloads_url", "events_url", "forks_url",
    "git_commits_url", "git_refs_url", "git_tags_url", "hooks_url", "issue_comment_url", "issue_events_url",
    "issues_url", "keys_url", "labels_url", "languages_url", "merges_url", "milestones_url", "notifications_url",
    "pulls_url", "releases_url", "stargazers_url", "statuses_url", "subscribers_url", "subscription_url", "tags_url",
    "teams_url", "trees_url",
)
