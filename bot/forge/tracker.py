"""Issues, pull requests, comments, labels and reactions: the forge's SQLite-backed tracker."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bot.forge.rows import Row, present

if TYPE_CHECKING:
    import threading

DEFAULT_LABEL_COLOR = "ededed"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class TrackerMixin:
    """Issue-tracker operations; mixed into Forge, which provides q/one/x and the lock."""

    if TYPE_CHECKING:  # Forge's, as the methods below use them
        _lock: threading.RLock

        def q(self, sql: str, *args) -> list[Row]: ...
        def one(self, sql: str, *args) -> Row | None: ...
        def x(self, sql: str, *args) -> int: ...

    # --- issues ---------------------------------------------------------------------
    def create_issue(self, repo: Row, login: str, title: str, body: str | None,
                     is_pull: bool = False) -> Row:
        """Open an issue (or the issue half of a PR); numbers are shared like GitHub's."""
        with self._lock:
            row = present(self.one("SELECT COALESCE(MAX(number), 0) + 1 AS n FROM issues WHERE repo_id=?",
                                   repo["id"]))
            ts = _now()
            iid = self.x("INSERT INTO issues (repo_id, number, title, body, state, user, is_pull, "
                         "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)", repo["id"], row["n"],
                         title, body, "open", login, int(is_pull), ts, ts)
            return self.issue_by_id(iid)

    def issue_by_id(self, iid: int) -> Row:
        """An issue row by its global id (ids come from the forge's own rows; issues are never deleted)."""
        return present(self.one("SELECT * FROM issues WHERE id=?", iid))

    def issue(self, repo: Row, number: int) -> Row | None:
        """An issue (or PR) by number."""
        return self.one("SELECT * FROM issues WHERE repo_id=? AND number=?", repo["id"], number)

    def issues(self, repo: Row, state: str = "open", pulls: bool | None = None) -> list[Row]:
        """Issues newest first, filtered by state (open|closed|all)."""
        sql, args = "SELECT * FROM issues WHERE repo_id=?", [repo["id"]]
        if state != "all":
            sql += " AND state=?"
            args.append(state)
        if pulls is not None:
            sql += " AND is_pull=?"
            args.append(int(pulls))
        return self.q(sql + " ORDER BY number DESC", *args)

    def update_issue(self, issue: Row, login: str, **fields) -> Row:
        """Apply title/body/state/state_reason changes, keeping closed_at consistent."""
        ts = _now()
        sets = {k: v for k, v in fields.items() if k in ("title", "body", "state", "state_reason")}
        if sets.get("state") == "closed" and issue["state"] != "closed":
            sets.update(closed_at=ts, closed_by=login)
            sets.setdefault("state_reason", "completed")
        elif sets.get("state") == "open" and issue["state"] != "open":
            sets.update(closed_at=None, closed_by=None, state_reason="reopened")
        sets["updated_at"] = ts
        cols = ", ".join(f"{k}=?" for k in sets)
        self.x(f"UPDATE issues SET {cols} WHERE id=?", *sets.values(), issue["id"])
        return self.issue_by_id(issue["id"])

    def touch_issue(self, issue: Row) -> None:
        """Bump an issue's updated_at."""
        self.x("UPDATE issues SET updated_at=? WHERE id=?", _now(), issue["id"])

    # --- labels ---------------------------------------------------------------------
    def create_label(self, repo: Row, name: str, color: str = DEFAULT_LABEL_COLOR,
                     description: str | None = None) -> Row:
        """Create a repository label."""
        lid = self.x("INSERT INTO labels (repo_id, name, color, description) VALUES (?,?,?,?)",
                     repo["id"], name, color.lstrip("#").lower(), description)
        return present(self.one("SELECT * FROM labels WHERE id=?", lid))

    def label(self, repo: Row, name: str) -> Row | None:
        """A label by name, case-insensitive like GitHub."""
        return self.one("SELECT * FROM labels WHERE repo_id=? AND lower(name)=lower(?)",
                        repo["id"], name)

    def labels(self, repo: Row) -> list[Row]:
        """All labels of a repository."""
        return self.q("SELECT * FROM labels WHERE repo_id=? ORDER BY lower(name)", repo["id"])

    def issue_labels(self, issue: Row) -> list[Row]:
        """Labels on an issue in the order they were added."""
        return self.q("SELECT l.* FROM labels l JOIN issue_labels il ON il.label_id=l.id "
                      "WHERE il.issue_id=? ORDER BY il.pos", issue["id"])

    def add_issue_labels(self, repo: Row, issue: Row, names: list[str]) -> list[Row]:
        """Add labels (auto-creating missing ones); returns the labels newly applied."""
        added = []
        with self._lock:
            have = {lab["id"] for lab in self.issue_labels(issue)}
            for name in names:
                lab = self.label(repo, name) or self.create_label(repo, name)
                if lab["id"] in have:
                    continue
                self.x("INSERT INTO issue_labels (issue_id, label_id, pos) VALUES (?,?,"
                       "(SELECT COALESCE(MAX(pos),0)+1 FROM issue_labels WHERE issue_id=?))",
                       issue["id"], lab["id"], issue["id"])
                have.add(lab["id"])
                added.append(lab)
            if added:
                self.touch_issue(issue)
        return added

    def remove_issue_label(self, issue: Row, label: Row) -> bool:
        """Take a label off an issue; False when it was not there."""
        with self._lock:
            present = self.one("SELECT 1 AS x FROM issue_labels WHERE issue_id=? AND label_id=?",
                               issue["id"], label["id"])
            self.x("DELETE FROM issue_labels WHERE issue_id=? AND label_id=?", issue["id"], label["id"])
            if present:
                self.touch_issue(issue)
            return bool(present)

    # --- comments -------------------------------------------------------------------
    def create_comment(self, repo: Row, issue: Row, login: str, body: str) -> Row:
        """Add a comment to an issue or PR."""
        ts = _now()
        cid = self.x("INSERT INTO comments (repo_id, issue_id, user, body, created_at, updated_at) "
                     "VALUES (?,?,?,?,?,?)", repo["id"], issue["id"], login, body, ts, ts)
        self.touch_issue(issue)
        return present(self.comment(repo, cid))

    def comment(self, repo: Row, cid: int) -> Row | None:
        """A comment by id within a repository."""
        return self.one("SELECT * FROM comments WHERE id=? AND repo_id=?", cid, repo["id"])

    def comments(self, issue: Row) -> list[Row]:
        """An issue's comments, oldest first."""
        return self.q("SELECT * FROM comments WHERE issue_id=? ORDER BY id", issue["id"])

    def update_comment(self, comment: Row, body: str) -> Row:
        """Edit a comment body."""
        self.x("UPDATE comments SET body=?, updated_at=? WHERE id=?", body, _now(), comment["id"])
        return present(self.one("SELECT * FROM comments WHERE id=?", comment["id"]))

    def delete_comment(self, comment: Row) -> None:
        """Remove a comment and its reactions."""
        self.x("DELETE FROM comments WHERE id=?", comment["id"])
        self.x("DELETE FROM reactions WHERE subject='comment' AND subject_id=?", comment["id"])

    # --- reactions ------------------------------------------------------------------
    def add_reaction(self, subject: str, subject_id: int, login: str, content: str) -> tuple[Row, bool]:
        """Add a reaction; (row, created) where created is False when it already existed."""
        with self._lock:
            row = self.one("SELECT * FROM reactions WHERE subject=? AND subject_id=? AND user=? "
                           "AND content=?", subject, subject_id, login, content)
            if row:
                return row, False
            rid = self.x("INSERT INTO reactions (subject, subject_id, user, content, created_at) "
                         "VALUES (?,?,?,?,?)", subject, subject_id, login, content, _now())
            return present(self.one("SELECT * FROM reactions WHERE id=?", rid)), True

    def reactions(self, subject: str, subject_id: int) -> list[Row]:
        """Reactions on an issue ('issue') or comment ('comment')."""
        return self.q("SELECT * FROM reactions WHERE subject=? AND subject_id=? ORDER BY id",
                      subject, subject_id)

    # --- pull requests ----------------------------------------------------------------
    def create_pull(self, repo: Row, login: str, title: str, body: str | None, head: str,
                    base: str, draft: bool = False, maintainer_can_modify: bool = True) -> Row:
        """Open a PR: an issue row plus its head/base branches."""
        with self._lock:
            issue = self.create_issue(repo, login, title, body, is_pull=True)
            self.x("INSERT INTO pulls (issue_id, head_ref, base_ref, draft, maintainer_can_modify) "
                   "VALUES (?,?,?,?,?)", issue["id"], head, base, int(draft), int(maintainer_can_modify))
            return issue

    def pull_info(self, issue: Row) -> Row | None:
        """The PR half of an issue row, or None for a plain issue."""
        return self.one("SELECT * FROM pulls WHERE issue_id=?", issue["id"])

    def update_pull(self, issue: Row, **fields) -> None:
        """Change a PR's base branch or flags."""
        sets = {k: v for k, v in fields.items() if k in ("base_ref", "maintainer_can_modify", "draft")}
        if sets:
            cols = ", ".join(f"{k}=?" for k in sets)
            self.x(f"UPDATE pulls SET {cols} WHERE issue_id=?", *sets.values(), issue["id"])

    def open_pulls_for_head(self, repo: Row, head_ref: str) -> list[Row]:
        """Open PRs whose head is this branch (for `synchronize` events)."""
        return self.q("SELECT i.* FROM issues i JOIN pulls p ON p.issue_id=i.id WHERE i.repo_id=? "
                      "AND i.state='open' AND p.head_ref=?", repo["id"], head_ref)
