"""The read-only HTML view, as a person sees it in a real (headless) browser."""

from __future__ import annotations

import subprocess

import httpx
from github import InputGitTreeElement

from tests.forge.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
TABLE_COMMENT = """<!-- ml-intern:state {"phase": "plan"} -->
### Plan

| setting | value |
|---|---|
| model | all-MiniLM-L6-v2 |
| epochs | 3 |

<script>alert('x')</script>
"""


def dump_dom(url: str) -> str:
    """The DOM after the page loads in headless Chromium."""
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--dump-dom", url], capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def test_issue_page_renders_markdown_in_a_browser(server, gh):
    issue = gh("alice").get_repo(REPO).create_issue(title="Classify tickets", body="Use **Bitext**")
    bot_issue = gh("ml-intern[bot]").get_repo(REPO).get_issue(issue.number)
    bot_issue.create_comment(TABLE_COMMENT).create_reaction("rocket")
    bot_issue.add_to_labels("ml-intern")
    dom = dump_dom(f"{server.url}/{REPO}/issues/{issue.number}")
    assert "<td>all-MiniLM-L6-v2</td>" in dom
    assert "<strong>Bitext</strong>" in dom
    assert "ml-intern:state" not in dom  # hidden marker stays hidden
    assert "<script>alert" not in dom and "&lt;script&gt;" in dom  # raw HTML escaped
    assert "ml-intern</span>" in dom and "🚀 1" in dom


def test_pull_page_shows_head_and_file_contents(server, gh):
    repo = gh("ml-intern[bot]").get_repo(REPO)
    parent = repo.get_git_commit(repo.get_git_ref("heads/main").object.sha)
    tree = repo.create_git_tree([InputGitTreeElement("train.py", "100644", "blob",
                                                     content="if a < b:\n    print('ok')\n")],
                                base_tree=parent.tree)
    commit = repo.create_git_commit("train", tree, [parent])
    repo.create_git_ref("refs/heads/ml-intern/1", commit.sha)
    pr = repo.create_pull(title="Fine-tune", body="| metric | value |\n|---|---|\n| f1 | 0.9 |",
                          head="ml-intern/1", base="main")
    html = httpx.get(f"{server.url}/{REPO}/pull/{pr.number}").text
    assert commit.sha in html and "<td>0.9</td>" in html
    assert "if a &lt; b:" in html and "train.py" in html
    blob = httpx.get(f"{server.url}/{REPO}/blob/ml-intern/1/train.py")
    assert blob.status_code == 200 and "print(&#x27;ok&#x27;)" in blob.text
    assert httpx.get(f"{server.url}/{REPO}/raw/ml-intern/1/train.py").text.startswith("if a < b")


def test_index_repo_and_issue_list_pages(server, gh):
    gh("alice").get_repo(REPO).create_issue(title="A <b>bold</b> title")
    assert REPO in httpx.get(server.url + "/").text
    repo_page = httpx.get(f"{server.url}/{REPO}").text
    assert ".github/workflows/train.yml" in repo_page and "<h1>support-bot</h1>" in repo_page
    listing = httpx.get(f"{server.url}/{REPO}/issues").text
    assert "A &lt;b&gt;bold&lt;/b&gt; title" in listing
    assert httpx.get(f"{server.url}/{REPO}/issues/999").status_code == 404
    assert httpx.get(f"{server.url}/avatars/alice").headers["content-type"].startswith("image/svg")
