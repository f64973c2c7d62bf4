"""The bot's real client (PyGithub 2.x over HTTP) against the forge: what a user and the bot see."""

from __future__ import annotations

import httpx
import pytest
from github import Auth, BadCredentialsException, Github, GithubException, InputGitTreeElement

from tests.forge.conftest import NO_THROTTLE, REPO


def test_issue_comment_labels_and_reactions_round_trip(gh):
    alice = gh("alice").get_repo(REPO)
    issue = alice.create_issue(title="Train a ticket classifier", body="Use Bitext", labels=["ignored"])
    assert issue.user.login == "alice"
    assert issue.labels == []  # read users cannot label at creation, like GitHub
    comment = issue.create_comment("first draft")
    comment.edit("second draft")
    assert alice.get_issue(issue.number).get_comments()[0].body == "second draft"

    bot = gh("ml-intern[bot]").get_repo(REPO).get_issue(issue.number)
    bot.add_to_labels("ml-intern", "planning")
    bot.set_labels("ml-intern", "awaiting-approval")
    bot.remove_from_labels("ml-intern")
    assert [lab.name for lab in alice.get_issue(issue.number).labels] == ["awaiting-approval"]
    assert {lab.name for lab in alice.get_labels()} >= {"ml-intern", "planning", "awaiting-approval"}

    assert bot.create_reaction("eyes").content == "eyes"
    assert bot.create_reaction("eyes").content == "eyes"  # 200 the second time, still one reaction
    assert [r.content for r in alice.get_issue(issue.number).get_reactions()] == ["eyes"]
    assert comment.create_reaction("+1").user.login == "alice"
    assert [r.content for r in comment.get_reactions()] == ["+1"]
    assert issue.get_comments()[0].reactions["+1"] == 1


def test_comment_edit_rules(gh):
    issue = gh("alice").get_repo(REPO).create_issue(title="x")
    comment = gh("ml-intern[bot]").get_repo(REPO).get_issue(issue.number).create_comment("bot says")
    with pytest.raises(GithubException) as err:
        gh("alice").get_repo(REPO).get_issue(issue.number).get_comment(comment.id).edit("hijack")
    assert err.value.status == 403
    gh("maintainer").get_repo(REPO).get_issue(issue.number).get_comment(comment.id).edit("fixed typo")
    assert gh("alice").get_repo(REPO).get_issue(issue.number).get_comment(comment.id).body == "fixed typo"


def test_collaborator_permissions(gh):
    repo = gh("alice").get_repo(REPO)
    assert repo.get_collaborator_permission("alice") == "read"
    assert repo.get_collaborator_permission("maintainer") == "write"
    assert repo.get_collaborator_permission("ml-intern[bot]") == "write"
    assert repo.get_collaborator_role_name("maintainer") == "write"
    with pytest.raises(GithubException) as err:
        repo.add_to_collaborators("alice", "admin")
    assert err.value.status == 403


def test_git_data_pull_request_and_push_updates_head(gh):
    repo = gh("ml-intern[bot]").get_repo(REPO)
    main = repo.get_git_ref("heads/main")
    parent = repo.get_git_commit(main.object.sha)
    blob = repo.create_git_blob("cHJpbnQoJ2hpJykK", "base64")
    assert repo.get_git_blob(blob.sha).content.replace("\n", "") == "cHJpbnQoJ2hpJykK"
    tree = repo.create_git_tree(
        [InputGitTreeElement("src/train.py", "100644", "blob", sha=blob.sha),
         InputGitTreeElement("config.yaml", "100644", "blob", content="epochs: 1\n")],
        base_tree=parent.tree)
    commit = repo.create_git_commit("Add training code", tree, [parent])
    assert commit.parents[0].sha == parent.sha and commit.tree.sha == tree.sha
    ref = repo.create_git_ref("refs/heads/ml-intern/issue-1", commit.sha)
    pr = repo.create_pull(title="Fine-tune", body="Plan", head="acme:ml-intern/issue-1", base="main")
    assert pr.head.sha == commit.sha and pr.base.ref == "main" and pr.mergeable
    assert sorted(f.filename for f in pr.get_files()) == ["config.yaml", "src/train.py"]
    assert [c.sha for c in pr.get_commits()] == [commit.sha]
    assert repo.get_issue(pr.number).pull_request is not None

    tree2 = repo.create_git_tree([InputGitTreeElement("config.yaml", "100644", "blob", content="epochs: 3\n")],
                                 base_tree=commit.tree)
    commit2 = repo.create_git_commit("More epochs", tree2, [commit])
    ref.edit(commit2.sha)
    assert repo.get_pull(pr.number).head.sha == commit2.sha
    with pytest.raises(GithubException) as err:
        ref.edit(commit.sha)  # going back is not a fast-forward
    assert err.value.status == 422
    ref.edit(commit.sha, force=True)
    assert repo.get_git_ref("heads/ml-intern/issue-1").object.sha == commit.sha
    assert [p.number for p in repo.get_pulls(state="open", head="acme:ml-intern/issue-1")] == [pr.number]
    with pytest.raises(GithubException) as err:
        repo.create_pull(title="dup", body="", head="ml-intern/issue-1", base="main")
    assert err.value.status == 422
    pr.edit(title="Fine-tune MiniLM", state="closed")
    assert repo.get_pull(pr.number).state == "closed"
    assert repo.get_pulls(state="open").totalCount == 0


def test_contents_and_files(gh):
    repo = gh("ml-intern[bot]").get_repo(REPO)
    assert repo.get_contents("README.md").decoded_content == b"# support-bot\n"
    with pytest.raises(GithubException) as err:
        repo.get_contents("nope.md")
    assert err.value.status == 404
    created = repo.create_file("docs/notes.md", "add notes", "hello\n", branch="main")
    assert repo.get_contents("docs/notes.md", ref="main").decoded_content == b"hello\n"
    repo.update_file("docs/notes.md", "edit notes", "bye\n", created["content"].sha, branch="main")
    assert repo.get_contents("docs/notes.md").decoded_content == b"bye\n"
    assert repo.get_branch("main").commit.commit.message == "edit notes"


def test_workflow_dispatch_is_recorded(forge, gh):
    workflow = gh("ml-intern[bot]").get_repo(REPO).get_workflow("train.yml")
    assert workflow.name == "ML intern training" and workflow.path == ".github/workflows/train.yml"
    assert workflow.create_dispatch("main", {"run_id": "42"}) is True
    assert [(d["path"], d["ref"], d["inputs"], d["sender"]) for d in forge.dispatches()] == [
        (".github/workflows/train.yml", "main", {"run_id": "42"}, "ml-intern[bot]")]
    assert gh("reader").get_repo(REPO).get_workflow("train.yml").create_dispatch("main") is False


def test_bad_token_is_401(server):
    with pytest.raises(BadCredentialsException) as err:
        Github(base_url=server.api_url, auth=Auth.Token("forge_wrong"), retry=None).get_user("alice")
    assert err.value.status == 401 and err.value.data["message"] == "Bad credentials"


def test_read_only_user_cannot_write_refs_or_labels(gh):
    repo = gh("reader").get_repo(REPO)
    sha = repo.get_git_ref("heads/main").object.sha
    for attempt in (lambda: repo.create_git_ref("refs/heads/evil", sha),
                    lambda: repo.create_label("evil", "ff0000"),
                    lambda: repo.get_issue(repo.create_issue(title="t").number).add_to_labels("evil")):
        with pytest.raises(GithubException) as err:
            attempt()
        assert err.value.status == 403
        assert err.value.data["message"] == "Resource not accessible by integration"
    with pytest.raises(GithubException) as err:
        repo.get_issue(999)
    assert err.value.status == 404


def test_private_repo_is_invisible_without_a_role(forge, gh):
    forge.create_repo("acme/secret", owner_type="Organization", private=True)
    with pytest.raises(GithubException) as err:
        gh("alice").get_repo("acme/secret")
    assert err.value.status == 404
    forge.set_permission("acme/secret", "alice", "read")
    assert gh("alice").get_repo("acme/secret").private is True


def test_issue_list_pagination_and_state_filter(gh, server, tokens):
    repo = gh("maintainer").get_repo(REPO)
    for i in range(5):
        repo.create_issue(title=f"issue {i}")
    repo.get_issue(1).edit(state="closed")
    client = Github(base_url=server.api_url, auth=Auth.Token(tokens["maintainer"]), per_page=2,
                    retry=None, **NO_THROTTLE)
    titles = [i.title for i in client.get_repo(REPO).get_issues(state="open")]
    assert titles == ["issue 4", "issue 3", "issue 2", "issue 1"]
    assert [i.number for i in repo.get_issues(state="closed")] == [1]


def _urls(node, keys=("url", "html_url")):
    """Every non-templated url/html_url in a JSON document."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in keys and isinstance(v, str) and "{" not in v:
                yield v
            else:
                yield from _urls(v, keys)
    elif isinstance(node, list):
        for v in node:
            yield from _urls(v, keys)


def test_every_emitted_url_resolves(gh, tokens):
    """PyGithub completes lazy objects from their `url`, and people click `html_url`."""
    repo = gh("ml-intern[bot]").get_repo(REPO)
    issue = repo.create_issue(title="urls", body="b", labels=["needs triage"])
    comment = issue.create_comment("c")
    comment.create_reaction("heart")
    parent = repo.get_git_commit(repo.get_git_ref("heads/main").object.sha)
    tree = repo.create_git_tree([InputGitTreeElement("a/b.txt", "100644", "blob", content="x")], parent.tree)
    ref = repo.create_git_ref("refs/heads/u", repo.create_git_commit("u", tree, [parent]).sha)
    pr = repo.create_pull(title="u", body="", head="u", base="main")
    docs = [issue.raw_data, comment.raw_data, pr.raw_data, ref.raw_data, repo.raw_data,
            repo.get_contents("a/b.txt", ref="u").raw_data, repo.get_git_tree(tree.sha, recursive=True).raw_data,
            [f.raw_data for f in pr.get_files()], [c.raw_data for c in pr.get_commits()]]
    urls = sorted({u for doc in docs for u in _urls(doc)})
    assert len(urls) > 20
    with httpx.Client(headers={"Authorization": f"token {tokens['ml-intern[bot]']}"}) as client:
        broken = [(u, r.status_code) for u in urls if (r := client.get(u)).status_code != 200]
    assert broken == []
