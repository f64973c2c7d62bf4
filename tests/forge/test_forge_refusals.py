"""The forge refuses what GitHub refuses, in GitHub's words and shape.

Messages marked "recorded" are GitHub's own, recorded from api.github.com; the rest follow the same
grammar (the spec's `requestBody` schemas, worded like GitHub's validator). Every refusal is JSON
with `message` and `documentation_url`, and validates against the spec where the operation
documents that status (the `api` client in conftest.py checks both).
"""

from __future__ import annotations

import json

import pytest
from fastapi.exceptions import RequestValidationError

from bot.forge import errors, schemas
from tests.forge.conftest import REPO

R = f"/repos/{REPO}"
SHA0 = "0" * 40
TOO_LONG = "🌈" * 65536 + "a"  # one byte over GitHub's 262,144 (recorded)
INVALID = "Invalid request.\n\n"


@pytest.fixture
def ids(api) -> dict:
    """An issue, a comment on it, and main's tree and commit."""
    n = api.call("POST", f"{R}/issues", expect=201, json={"title": "t"}).json()["number"]
    comment = api.call("POST", f"{R}/issues/{n}/comments", expect=201, json={"body": "c"}).json()["id"]
    head = api.call("GET", f"{R}/git/ref/heads%2Fmain").json()["object"]["sha"]
    tree = api.call("GET", f"{R}/git/commits/{head}").json()["tree"]["sha"]
    return {"n": n, "c": comment, "head": head, "tree": tree}


# (method, path, request kwargs, status, message: exact, or the start of it when it ends with "...")
BAD_BODIES = [
    # issues (https://docs.github.com/rest/issues/issues)
    ("POST", "/issues", {"json": {"body": "x"}}, 422, INVALID + '"title" wasn\'t supplied.'),  # recorded
    ("POST", "/issues", {"json": {"title": True}}, 422,
     INVALID + "For 'properties/title', true is not a string or an integer."),
    ("POST", "/issues", {"json": {"title": "t", "body": 5}}, 422,
     INVALID + "For 'properties/body', 5 is not a string or null."),
    ("POST", "/issues", {"json": {"title": "t", "labels": None}}, 422,
     INVALID + "For 'properties/labels', nil is not an array."),  # recorded
    ("POST", "/issues", {"json": {"title": "t", "labels": [1]}}, 422,
     INVALID + "For 'items', 1 is not a string or an object."),
    ("POST", "/issues", {"json": {"title": " "}}, 422, "Validation Failed"),
    ("POST", "/issues", {"json": {"title": "t", "body": TOO_LONG}}, 422, "Validation Failed"),
    ("POST", "/issues", {"data": "{not json"}, 400, "Problems parsing JSON"),
    ("POST", "/issues", {"json": ["title"]}, 400, "Problems parsing JSON"),
    ("POST", "/issues", {"json": "title"}, 400, "Problems parsing JSON"),
    ("POST", "/issues", {"data": '{"title": NaN}'}, 400, "Problems parsing JSON"),
    ("POST", "/issues", {"data": b"\xff\xfe"}, 400, "Problems parsing JSON"),
    ("POST", "/issues", {"data": ""}, 422, INVALID + "For 'links/0/schema', nil is not an object."),
    ("PATCH", "/issues/{n}", {"json": {"state": "maybe"}}, 422,
     INVALID + "For 'properties/state', \"maybe\" is not one of [\"open\", \"closed\"]."),
    ("PATCH", "/issues/{n}", {"json": {"state_reason": "maybe"}}, 422,
     INVALID + "For 'properties/state_reason', \"maybe\" is not one of "
               "[\"completed\", \"not_planned\", \"duplicate\", \"reopened\", nil]."),
    ("PATCH", "/issues/{n}", {"json": {"state": True}}, 422, INVALID + "For 'properties/state', true is not a string."),
    ("PATCH", "/issues/{n}", {"json": {"labels": {"a": 1}}}, 422,
     INVALID + "For 'properties/labels', {\"a\" => 1} is not an array."),  # recorded ({} is not an array)
    ("PATCH", "/issues/{n}", {"json": {"body": 1, "state": 2}}, 422,
     INVALID + "For 'properties/body', 1 is not a string or null.\nFor 'properties/state', 2 is not a string."),
    ("PATCH", "/issues/{n}", {"json": 7}, 400, "Problems parsing JSON"),
    # comments (recorded: https://docs.github.com/rest/issues/comments#create-an-issue-comment)
    ("POST", "/issues/{n}/comments", {"json": {}}, 422, INVALID + '"body" wasn\'t supplied.'),
    ("POST", "/issues/{n}/comments", {"json": {"body": None}}, 422, INVALID + "For 'properties/body', nil is not a string."),
    ("POST", "/issues/{n}/comments", {"json": {"body": ""}}, 422, "Validation Failed"),
    ("POST", "/issues/{n}/comments", {"json": {"body": TOO_LONG}}, 422, "Validation Failed"),
    ("PATCH", "/issues/comments/{c}", {"json": {"body": 1}}, 422, INVALID + "For 'properties/body', 1 is not a string."),
    # labels and reactions
    ("POST", "/issues/{n}/labels", {"json": [True]}, 422, INVALID + "For 'items', true is not a string or an object."),
    ("POST", "/issues/{n}/labels", {"json": "bug"}, 400, "Problems parsing JSON"),
    ("PUT", "/issues/{n}/labels", {"json": {"labels": "bug"}}, 422,
     INVALID + "For 'properties/labels', \"bug\" is not an array."),
    ("POST", "/labels", {"json": {"name": 5}}, 422, INVALID + "For 'properties/name', 5 is not a string."),
    ("POST", "/issues/{n}/reactions", {"json": {"content": "thumbsup"}}, 422,
     INVALID + "For 'properties/content', \"thumbsup\" is not one of "
               "[\"+1\", \"-1\", \"laugh\", \"confused\", \"heart\", \"hooray\", \"rocket\", \"eyes\"]."),
    ("POST", "/issues/comments/{c}/reactions", {"json": {"content": 1}}, 422,
     INVALID + "For 'properties/content', 1 is not a string."),
    # git database (recorded: https://docs.github.com/rest/git/commits#create-a-commit)
    ("POST", "/git/blobs", {"json": {"content": 5}}, 422, INVALID + "For 'properties/content', 5 is not a string."),
    ("POST", "/git/trees", {"json": {"tree": "a"}}, 422, INVALID + "For 'properties/tree', \"a\" is not an array."),
    ("POST", "/git/trees", {"json": {"tree": [{"path": "a", "mode": "100645", "content": "x"}]}}, 422,
     INVALID + "For 'properties/mode', \"100645\" is not one of [\"100644\", \"100755\", \"040000\", \"160000\", "
               "\"120000\"]."),
    ("POST", "/git/trees", {"json": {"tree": [{"path": 1, "mode": "100644", "sha": "abc"}]}}, 422,
     INVALID + "For 'properties/path', 1 is not a string."),
    ("POST", "/git/trees", {"json": {"tree": [{"path": "a", "mode": "100644", "sha": "abc"}]}}, 422,
     "The tree.sha parameter must be exactly 40 characters and contain only [0-9a-f]."),
    ("POST", "/git/commits", {"json": {"message": "m"}}, 422, INVALID + '"tree" wasn\'t supplied.'),
    ("POST", "/git/commits", {"json": {"message": "m", "tree": None}}, 422,
     INVALID + "For 'properties/tree', nil is not a string."),
    ("POST", "/git/commits", {"json": {"message": "m", "tree": "nonsense"}}, 422,
     "The tree parameter must be exactly 40 characters and contain only [0-9a-f]."),
    ("POST", "/git/commits", {"json": {"message": "m", "tree": "{tree}", "author": None}}, 422,
     INVALID + "For 'properties/author', nil is not an object."),
    ("POST", "/git/commits", {"json": {"message": "m", "tree": "{tree}", "author": {"name": None, "email": None}}},
     422, "Invalid request.\n\nFor 'properties/email', nil is not a string.\nFor 'properties/name', nil is not a string."),
    ("POST", "/git/commits", {"json": {"message": "m", "tree": "{tree}",
                                       "author": {"name": "B", "email": "b@b.b", "date": "4728-11-02T15:05:10"}}},
     422, INVALID + "4728-11-02T15:05:10 is not a valid date-time."),
    ("POST", "/git/commits", {"json": {"message": "m", "tree": "{tree}", "author": {"name": "", "email": "b@b.b"}}},
     422, "Validation Failed"),
    ("POST", "/git/commits", {"json": {"message": "m", "tree": "{tree}", "parents": "{head}"}}, 422,
     INVALID + "For 'properties/parents', \"{head}\" is not an array."),
    ("POST", "/git/commits", {"json": {"message": "m", "tree": SHA0}}, 422, "Tree SHA does not exist"),
    ("POST", "/git/refs", {"json": {"ref": "heads/x", "sha": "{head}"}}, 422,
     "Reference name must start with 'refs/' and have at least two slashes."),
    ("POST", "/git/refs", {"json": {"ref": "refs/heads/x", "sha": "abc"}}, 422,
     "The sha parameter must be exactly 40 characters and contain only [0-9a-f]."),
    ("POST", "/git/refs", {"json": {"ref": "refs/heads/x", "sha": 123}}, 422,
     INVALID + "For 'properties/sha', 123 is not a string."),
    ("POST", "/git/refs", {"json": {"ref": "refs/heads/x"}}, 422, INVALID + '"sha" wasn\'t supplied.'),
    ("PATCH", "/git/refs/heads%2Fmain", {"json": {"sha": "{head}", "force": "yes"}}, 422,
     INVALID + "For 'properties/force', \"yes\" is not a boolean."),
    ("PATCH", "/git/refs/heads%2Fmain", {"json": {"sha": "{head}", "force": 1}}, 422,
     INVALID + "For 'properties/force', 1 is not a boolean."),
    # pulls, workflows, contents, collaborators
    ("POST", "/pulls", {"json": {"title": "t"}}, 422, INVALID + '"head", "base" weren\'t supplied.'),
    ("POST", "/pulls", {"json": {"title": "t", "head": "x", "base": "main", "draft": "no"}}, 422,
     INVALID + "For 'properties/draft', \"no\" is not a boolean."),
    ("PATCH", "/pulls/{n}", {"json": {"state": "merged"}}, 422,
     INVALID + "For 'properties/state', \"merged\" is not one of [\"open\", \"closed\"]."),
    ("POST", "/actions/workflows/train.yml/dispatches", {"json": {"ref": True}}, 422,
     INVALID + "For 'properties/ref', true is not a string."),
    ("POST", "/actions/workflows/train.yml/dispatches", {"json": {"ref": "main", "inputs": "x"}}, 422,
     INVALID + "For 'properties/inputs', \"x\" is not an object."),
    ("POST", "/actions/workflows/train.yml/dispatches",
     {"json": {"ref": "main", "inputs": {f"k{i}": "v" for i in range(26)}}}, 422,
     INVALID + "No more than 25 properties are allowed; 26 were supplied."),
    ("POST", "/actions/workflows/train.yml/dispatches", {"json": {"ref": "main", "inputs": {"run_id": "1", "x": "2"}}},
     422, 'Unexpected inputs provided: ["x"]'),
    ("POST", "/actions/workflows/train.yml/dispatches", {"json": {"ref": "main"}}, 422,
     "Required input 'run_id' not provided"),
    ("PUT", "/contents/x.md", {"json": {"message": "m"}}, 422, INVALID + '"content" wasn\'t supplied.'),
    ("PUT", "/contents/x.md", {"json": {"message": "m", "content": "eA==", "committer": {"name": "n"}}}, 422,
     INVALID + '"email" wasn\'t supplied.'),
    ("PUT", "/collaborators/alice", {"json": {"permission": 5}}, 422,
     INVALID + "For 'properties/permission', 5 is not a string."),
]


def _fill(value, ids: dict):
    """Put the fixture's numbers and shas into a case's path or body."""
    if isinstance(value, str):
        for key, real in ids.items():
            value = value.replace("{" + key + "}", str(real))
        return value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def test_bad_bodies_are_refused_like_github(api, ids):
    for method, path, kwargs, status, message in BAD_BODIES:
        resp = api.call(method, R + _fill(path, ids), expect=status, **_fill(kwargs, ids))
        body = resp.json()
        assert body["message"] == _fill(message, ids), (method, path, kwargs, body)
        assert body["status"] == str(status)
        if status == 422 and body["message"].startswith("Invalid request."):
            assert body["documentation_url"].startswith("https://docs.github.com/rest/"), body
    comment = api.call("POST", f"{R}/issues/{ids['n']}/comments", expect=422, json={"body": ""}).json()
    assert comment == {"message": "Validation Failed", "status": "422", "errors": [  # recorded
        {"resource": "IssueComment", "code": "unprocessable", "field": "data", "message": "Body cannot be blank"}],
        "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment"}
    long = api.call("POST", f"{R}/issues/{ids['n']}/comments", expect=422, json={"body": TOO_LONG}).json()
    assert long["errors"][0]["message"] == "Body is too long (maximum is 65536 characters)"  # recorded
    api.call("POST", f"{R}/issues/{ids['n']}/comments", expect=201, json={"body": "🌈" * 65536})


def test_nothing_refused_was_written(api, ids):
    """Refused writes leave no trace: no extra issue, comment, ref or label."""
    for method, path, kwargs, status, _ in BAD_BODIES:
        if method == "POST" and path in ("/issues", "/issues/{n}/comments", "/labels"):
            api.call(method, R + _fill(path, ids), expect=status, **_fill(kwargs, ids))
    assert [i["number"] for i in api.call("GET", f"{R}/issues").json()] == [ids["n"]]
    assert len(api.call("GET", f"{R}/issues/{ids['n']}/comments").json()) == 1
    assert api.call("GET", f"{R}/labels").json() == []
    assert [r["ref"] for r in api.call("GET", f"{R}/git/matching-refs/heads").json()] == ["refs/heads/main"]


def test_github_accepts_these_so_the_forge_does(api, ids):
    """Integer titles (the spec's oneOf), null bodies, bare label arrays, any Content-Type."""
    assert api.call("POST", f"{R}/issues", expect=201, json={"title": 42, "body": None}).json()["title"] == "42"
    api.call("PATCH", f"{R}/issues/{ids['n']}", json={"title": None, "state": "closed", "state_reason": "not_planned"})
    api.call("POST", f"{R}/issues/{ids['n']}/labels", json=["bug", {"name": "ml-intern"}])
    api.call("PUT", f"{R}/issues/{ids['n']}/labels", json=[])
    api.call("POST", f"{R}/issues/{ids['n']}/comments", expect=201, data='{"body": "plain"}',
             headers={"Content-Type": "text/plain"})
    api.call("GET", f"{R}/issues", params={"per_page": "lots", "page": "x"})


def test_framework_errors_have_githubs_shape(api):
    assert api.call("GET", "/no/such/route", expect=404).json()["message"] == "Not Found"
    # GitHub answers a method the route lacks with 404, not 405 (REST troubleshooting page).
    assert api.call("DELETE", "/rate_limit", expect=404).json()["message"] == "Not Found"
    assert api.call("PUT", f"{R}/issues", expect=404, json={}).json()["message"] == "Not Found"
    assert api.call("GET", "/user", as_user=None, expect=401).json() == {  # recorded
        "message": "Requires authentication", "documentation_url": "https://docs.github.com/rest", "status": "401"}
    assert api.call("GET", "/user", as_user="forge_nope", expect=401).json()["message"] == "Bad credentials"
    # Authentication comes before the body is read, as on GitHub.
    api.call("POST", f"{R}/issues", as_user=None, expect=401, data="{not json")
    api.call("POST", "/repos/acme/nope/issues", expect=404, data="{not json")


def test_fastapis_own_errors_are_worded_like_githubs():
    """Not reachable through today's routes (every parameter is a string or a path converter), so
    the handlers are called directly."""
    bad_query = RequestValidationError([{"type": "int_parsing", "loc": ("query", "per_page"),
                                         "msg": "Input should be a valid integer"}])
    resp = errors._validation_error(None, bad_query)
    assert resp.status_code == 422
    assert json.loads(resp.body)["message"] == "Invalid request.\n\nFor 'query/per_page', Input should be a valid integer."
    resp = errors._validation_error(None, RequestValidationError([{"type": "json_invalid", "loc": ("body", 1)}]))
    assert (resp.status_code, json.loads(resp.body)["message"]) == (400, "Problems parsing JSON")

    class Req:
        method, url = "GET", type("U", (), {"path": "/x"})

    resp = errors._server_error(Req(), RuntimeError("boom"))
    assert json.loads(resp.body) == {"message": "Server Error", "documentation_url": errors.DOCS, "status": "500"}


def _types(node: dict) -> set[str]:
    if "oneOf" in node:
        return {t for b in node["oneOf"] for t in _types(b)}
    return {node["type"]} if "type" in node else set()


def _branch(node: dict, kind: str) -> dict:
    return next((b for b in node.get("oneOf", [node]) if kind in _types(b)), node)


def _agree(op, ours: dict, theirs: dict, where: str = "") -> list[str]:
    """Differences between our schema and the spec's at one node (recursively)."""
    if (op, where) in schemas.LENIENT:
        return []
    out = []
    if _types(ours) != _types(theirs):
        out.append(f"{where}: types {_types(ours)} vs {_types(theirs)}")
    if ours.get("nullable") and not theirs.get("nullable"):
        out.append(f"{where}: nullable only here")
    for key in ("enum", "format", "maxProperties"):
        if ours.get(key) != theirs.get(key) and not (key == "enum" and set(ours.get(key, [])) == set(theirs.get(key, []))):
            out.append(f"{where}: {key} {ours.get(key)} vs {theirs.get(key)}")
    for kind in _types(ours) & {"object", "array"}:
        mine, spec = _branch(ours, kind), _branch(theirs, kind)
        if kind == "array":
            out += _agree(op, mine.get("items", {}), spec.get("items", {}), where + "/items")
            continue
        if sorted(mine.get("required", [])) != sorted(spec.get("required", [])):
            out.append(f"{where}: required {mine.get('required')} vs {spec.get('required')}")
        for name, sub in mine.get("properties", {}).items():
            if name not in spec.get("properties", {}):
                out.append(f"{where}/properties/{name}: not in the spec")
            else:
                out += _agree(op, sub, spec["properties"][name], f"{where}/properties/{name}")
    return out


@pytest.mark.parametrize("op", schemas.OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_request_schemas_agree_with_the_spec(spec, op):
    operation = spec["paths"][op.path][op.method]
    body = operation["requestBody"]
    theirs = body["content"]["application/json"]["schema"]
    assert op.docs == operation["externalDocs"]["url"]
    assert op.required == body.get("required", False) or (op, "") in schemas.LENIENT
    assert _agree(op, op.schema, theirs) == []
