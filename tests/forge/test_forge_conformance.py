"""Every forge endpoint's actual response validates against GitHub's OpenAPI description.

The spec is `@octokit/openapi` generated/api.github.com.json (see ../shared/github/README.md):
loaded once, with openapi-core's own spec validation off, and nullable enums patched to allow null
(the `openapi` and `api` fixtures live in conftest.py; test_forge_refusals.py checks the errors).
"""

from __future__ import annotations

import base64

from tests.forge.conftest import REPO


def test_users_repo_and_meta_conform(api):
    assert api.call("GET", "/user").json()["login"] == "ml-intern[bot]"
    assert api.call("GET", "/users/alice").json()["type"] == "User"
    assert api.call("GET", f"/repos/{REPO}").json()["full_name"] == REPO
    assert api.call("GET", "/rate_limit").json()["resources"]["core"]["limit"] == 5000
    perm = api.call("GET", f"/repos/{REPO}/collaborators/maintainer/permission").json()
    assert (perm["permission"], perm["role_name"]) == ("write", "write")
    assert api.call("GET", "/user", as_user="forge_not-a-token", expect=401).json()["message"] == "Bad credentials"
    api.call("GET", "/users/nobody-here", expect=404)


def test_issue_comment_label_reaction_endpoints_conform(api):
    issue = api.call("POST", f"/repos/{REPO}/issues", as_user="alice", expect=201,
                     json={"title": "Fine-tune on bitext", "body": "please"}).json()
    n = issue["number"]
    api.call("GET", f"/repos/{REPO}/issues", params={"state": "all"})
    api.call("GET", f"/repos/{REPO}/issues/{n}")
    api.call("PATCH", f"/repos/{REPO}/issues/{n}", json={"title": "Fine-tune on Bitext"})
    c = api.call("POST", f"/repos/{REPO}/issues/{n}/comments", expect=201, json={"body": "On it"}).json()
    api.call("GET", f"/repos/{REPO}/issues/{n}/comments")
    api.call("GET", f"/repos/{REPO}/issues/comments/{c['id']}")
    api.call("PATCH", f"/repos/{REPO}/issues/comments/{c['id']}", json={"body": "On it!"})
    api.call("POST", f"/repos/{REPO}/labels", expect=201, json={"name": "ml-intern", "color": "0e8a16"})
    api.call("POST", f"/repos/{REPO}/labels", expect=422, json={"name": "ml-intern"})
    api.call("GET", f"/repos/{REPO}/labels")
    api.call("GET", f"/repos/{REPO}/labels/ml-intern")
    api.call("POST", f"/repos/{REPO}/issues/{n}/labels", json={"labels": ["ml-intern"]})
    api.call("PUT", f"/repos/{REPO}/issues/{n}/labels", json={"labels": ["ml-intern", "planning"]})
    api.call("GET", f"/repos/{REPO}/issues/{n}/labels")
    api.call("DELETE", f"/repos/{REPO}/issues/{n}/labels/planning")
    api.call("POST", f"/repos/{REPO}/issues/{n}/reactions", expect=201, json={"content": "eyes"})
    api.call("POST", f"/repos/{REPO}/issues/{n}/reactions", expect=200, json={"content": "eyes"})
    api.call("GET", f"/repos/{REPO}/issues/{n}/reactions")
    api.call("POST", f"/repos/{REPO}/issues/comments/{c['id']}/reactions", expect=201,
             json={"content": "rocket"})
    api.call("GET", f"/repos/{REPO}/issues/comments/{c['id']}/reactions")
    api.call("DELETE", f"/repos/{REPO}/issues/comments/{c['id']}", expect=204)
    api.call("GET", f"/repos/{REPO}/issues/9999", expect=404)
    api.call("POST", f"/repos/{REPO}/labels", as_user="reader", expect=403, json={"name": "nope"})


def _commit_on_branch(api, branch: str, files: dict[str, str], parent: str | None = None) -> str:
    """Blob + tree + commit + ref through the API; returns the commit sha."""
    main = api.call("GET", f"/repos/{REPO}/git/ref/heads%2Fmain").json()["object"]["sha"]
    parent = parent or main
    base_tree = api.call("GET", f"/repos/{REPO}/git/commits/{parent}").json()["tree"]["sha"]
    entries = []
    for path, text in files.items():
        blob = api.call("POST", f"/repos/{REPO}/git/blobs", expect=201,
                        json={"content": base64.b64encode(text.encode()).decode(), "encoding": "base64"})
        entries.append({"path": path, "mode": "100644", "type": "blob", "sha": blob.json()["sha"]})
    tree = api.call("POST", f"/repos/{REPO}/git/trees", expect=201,
                    json={"base_tree": base_tree, "tree": entries}).json()
    commit = api.call("POST", f"/repos/{REPO}/git/commits", expect=201,
                      json={"message": f"update {branch}", "tree": tree["sha"], "parents": [parent],
                            "author": {"name": "ML Intern", "email": "bot@example.com",
                                       "date": "2024-05-01T12:00:00Z"}}).json()
    return commit["sha"]


def test_git_data_contents_and_pulls_conform(api):
    sha = _commit_on_branch(api, "ml-intern/1", {"src/train.py": "print('train')\n"})
    ref = api.call("POST", f"/repos/{REPO}/git/refs", expect=201,
                   json={"ref": "refs/heads/ml-intern/1", "sha": sha}).json()
    assert ref["object"]["sha"] == sha
    api.call("POST", f"/repos/{REPO}/git/refs", expect=422, json={"ref": "refs/heads/ml-intern/1", "sha": sha})
    api.call("GET", f"/repos/{REPO}/git/matching-refs/heads%2Fml-intern")
    tree_sha = api.call("GET", f"/repos/{REPO}/git/commits/{sha}").json()["tree"]["sha"]
    tree = api.call("GET", f"/repos/{REPO}/git/trees/{tree_sha}", params={"recursive": "1"}).json()
    blob_sha = next(e["sha"] for e in tree["tree"] if e["path"] == "src/train.py")
    api.call("GET", f"/repos/{REPO}/git/blobs/{blob_sha}")
    api.call("GET", f"/repos/{REPO}/contents/src%2Ftrain.py", params={"ref": "ml-intern/1"})
    api.call("GET", f"/repos/{REPO}/contents/missing.py", expect=404)
    api.call("GET", f"/repos/{REPO}/commits/{sha}")
    api.call("GET", f"/repos/{REPO}/branches/ml-intern%2F1")
    pr = api.call("POST", f"/repos/{REPO}/pulls", expect=201,
                  json={"title": "Fine-tune", "body": "plan", "head": "acme:ml-intern/1", "base": "main"}).json()
    api.call("POST", f"/repos/{REPO}/pulls", expect=422,
             json={"title": "again", "head": "ml-intern/1", "base": "main"})
    sha2 = _commit_on_branch(api, "ml-intern/1", {"src/train.py": "print('v2')\n"}, parent=sha)
    api.call("PATCH", f"/repos/{REPO}/git/refs/heads%2Fml-intern%2F1", json={"sha": sha2})
    api.call("PATCH", f"/repos/{REPO}/git/refs/heads%2Fml-intern%2F1", expect=422, json={"sha": sha})
    api.call("GET", f"/repos/{REPO}/pulls", params={"head": "acme:ml-intern/1", "state": "open"})
    got = api.call("GET", f"/repos/{REPO}/pulls/{pr['number']}").json()
    assert got["head"]["sha"] == sha2
    api.call("PATCH", f"/repos/{REPO}/pulls/{pr['number']}", json={"body": "plan v2"})
    api.call("GET", f"/repos/{REPO}/pulls/{pr['number']}/files")
    api.call("GET", f"/repos/{REPO}/pulls/{pr['number']}/commits")
    new = base64.b64encode(b"# notes\n").decode()
    api.call("PUT", f"/repos/{REPO}/contents/NOTES.md", expect=201,
             json={"message": "notes", "content": new, "branch": "ml-intern/1"})
    api.call("DELETE", f"/repos/{REPO}/git/refs/heads%2Fml-intern%2F1", expect=204)
    api.call("POST", f"/repos/{REPO}/git/refs", as_user="reader", expect=403,
             json={"ref": "refs/heads/x", "sha": sha})


def test_actions_conform(api):
    listing = api.call("GET", f"/repos/{REPO}/actions/workflows").json()
    wf = listing["workflows"][0]
    assert wf["path"] == ".github/workflows/train.yml"
    api.call("GET", f"/repos/{REPO}/actions/workflows/{wf['id']}")
    api.call("GET", f"/repos/{REPO}/actions/workflows/train.yml")
    api.call("POST", f"/repos/{REPO}/actions/workflows/train.yml/dispatches", expect=204,
             json={"ref": "main", "inputs": {"run_id": "1"}})
    api.call("POST", f"/repos/{REPO}/actions/workflows/train.yml/dispatches", expect=422,
             json={"ref": "no-such-branch"})
