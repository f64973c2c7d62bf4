"""Acknowledged work is never lost or done twice: real `serve` killed with a backlog, 500s after saved
writes, and a body far over GitHub's limit.
"""

from __future__ import annotations

import json
import signal
import socket
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.trust.conftest import wait_until

ISSUES, PER_ISSUE = 10, 10


def post_backlog(world, prefix: str) -> tuple[set[int], list[int]]:
    """ISSUES issues with PER_ISSUE `/status` comments each, posted from 4 threads: (issues, comment ids)."""
    numbers = [world.repo("alice").create_issue(title=f"{prefix} {n}", body="just asking").number
               for n in range(ISSUES)]
    jobs = [(number, k) for number in numbers for k in range(PER_ISSUE)]

    def post(job):
        return world.repo("alice").get_issue(job[0]).create_comment(f"/status\n\n({prefix} {job[1]})").id

    with ThreadPoolExecutor(4) as pool:
        return set(numbers), list(pool.map(post, jobs))


def acknowledged(world, ids: set[int]) -> int:
    """How many of the comments' deliveries the bot answered with 202."""
    return sum(1 for d in world.forge.deliveries()
               if d.get("status_code") == 202 and d.get("event") == "issue_comment" and d.get("comment_id") in ids)


def replies_per_comment(world, numbers: set[int]) -> Counter:
    counts: Counter = Counter()
    for number in numbers:
        for body in world.bot_comments(number):
            for line in body.splitlines():
                if line.startswith("<!-- ml-intern:reply:cmd-"):
                    counts[int(line.split("cmd-")[1].split()[0])] += 1
    return counts


def kill_with_backlog_then_restart(world, sig: int, prefix: str, figures) -> None:
    world.forge.fault(503, method="GET", path=r"/issues/\d+/comments", times=0)  # the bot falls behind
    try:
        issue_numbers, ids = post_backlog(world, prefix)
        wait_until(lambda: acknowledged(world, set(ids)) >= len(ids), 120, "every delivery to be acknowledged")
        world.bot.kill(sig)
    finally:
        world.forge.clear_faults()
    pending = world.bot.inbox().get("pending", 0)
    world.bot.start()
    wait_until(lambda: len(replies_per_comment(world, issue_numbers)) >= len(ids), 300, "every command answered")
    wait_until(lambda: not world.bot.inbox().get("pending"), 60, "the inbox to drain")
    counts = replies_per_comment(world, issue_numbers)
    figures.update(acknowledged=len(ids), pending_at_kill=pending, lost=sum(1 for i in ids if counts[i] == 0),
                   duplicates=sum(c - 1 for c in counts.values() if c > 1))
    assert pending > 0, "the kill must leave acknowledged work behind, or this test proves nothing"
    assert all(counts[i] == 1 for i in ids), "every acknowledged command is answered exactly once"


def test_sigkill_after_100_acknowledged_deliveries_loses_none_and_doubles_none(trust_world, figures):
    kill_with_backlog_then_restart(trust_world, signal.SIGKILL, "kill", figures)


def test_sigterm_with_a_backlog_keeps_it_for_the_next_start(trust_world, figures):
    kill_with_backlog_then_restart(trust_world, signal.SIGTERM, "term", figures)


def test_a_500_after_a_saved_write_makes_one_comment(trust_world, figures):
    world = trust_world
    number = world.repo("alice").create_issue(title="Hello", body="what can you do?").number
    world.bot.pause()  # so the faults meet the bot's two writes, not alice's comment
    try:
        world.repo("alice").get_issue(number).create_comment("/help")
        world.forge.fault(500, method="POST", path=rf"/issues/{number}/comments$", when="after", times=2)
    finally:
        world.bot.resume()
    world.wait_for_reply(number, "/approve-train")
    wait_until(lambda: world.bot.inbox().get("pending", 0) == 0, 60, "the bot to finish")
    bodies = world.bot_comments(number)
    replies = [b for b in bodies if "ml-intern:reply" in b]
    statuses = [b for b in bodies if "ml-intern:state" in b]
    fired = sum(fault["fired"] for fault in json.loads(world.forge.cli("fault", "list", "--json")))
    world.forge.clear_faults()
    figures.update(faults_fired=fired, replies=len(replies), status_comments=len(statuses))
    assert fired == 2, "both of the bot's writes must have met a 500"
    assert len(replies) == 1 and len(statuses) == 1


def test_a_400_mb_unsigned_body_is_refused_with_413_without_reading_it(trust_world, figures):
    bot = trust_world.bot
    before = bot.rss_kib()
    for headers in (f"Content-Length: {400 * 1024 * 1024}\r\n", "Transfer-Encoding: chunked\r\n"):
        with socket.create_connection(("127.0.0.1", bot.port), timeout=30) as sock:
            sock.sendall(f"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\n"
                         f"X-GitHub-Delivery: big\r\nX-Hub-Signature-256: sha256=00\r\n{headers}\r\n".encode())
            answer = _send_until_answered(sock, chunked="chunked" in headers)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    growth_mib = (bot.rss_kib() - before) / 1024
    figures.update(body_mib=400, status=413, rss_growth_mib=round(growth_mib, 1))
    assert growth_mib < 50


def _send_until_answered(sock: socket.socket, *, chunked: bool, limit: int = 400 * 1024 * 1024) -> bytes:
    """Stream zeros (as chunks when `chunked`) until the server answers or the limit is sent."""
    block, sent = b"0" * (1024 * 1024), 0
    sock.settimeout(0.05)
    while sent < limit:
        try:
            answer = sock.recv(4096)
            if answer:
                return answer
        except TimeoutError:
            pass
        try:
            sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(block)
    sock.settimeout(10)
    return sock.recv(4096)


def test_a_signed_payload_of_the_wrong_shape_is_400_and_can_be_sent_again(trust_world, figures):
    """Regression: a string `repository` or `"number": true` gave a 500 (or issue #1) and burned the delivery."""
    import hashlib
    import hmac

    import httpx

    from tests.trust.conftest import SECRET

    def deliver(payload: dict) -> httpx.Response:
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return httpx.post(f"{trust_world.bot.url}/webhook", content=body, timeout=30, headers={
            "X-GitHub-Event": "issues", "X-GitHub-Delivery": "wrong-shape-1", "X-Hub-Signature-256": signature,
            "Content-Type": "application/json"})

    good = {"action": "opened", "issue": {"number": 999, "title": "t", "body": "b"},
            "repository": {"full_name": "acme/support-bot"}, "sender": {"login": "alice", "type": "User"}}
    answers = [deliver({**good, "repository": "acme/support-bot"}).status_code,
               deliver({**good, "issue": {**good["issue"], "number": True}}).status_code,
               deliver({**good, "sender": [1]}).status_code]
    again = deliver(good)
    figures.update(wrong_shapes=len(answers), refused_400=answers.count(400), resent_accepted=again.status_code)
    assert answers == [400, 400, 400] and again.status_code == 202
