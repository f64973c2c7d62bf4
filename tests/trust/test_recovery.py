"""Nothing stuck, nothing lost: `serve` killed during research and the smoke test (`/status` tells the
truth and `/retry` resumes), and killed while a training job runs (the job runs on in its own process,
and the restarted bot follows it), then GitHub down while the job ends: it is reported once GitHub
answers again, never trained twice.
"""

from __future__ import annotations

import os
import shutil
import time

from bot.core.state import Phase
from tests.trust.conftest import wait_until


def restart_and_ask(world, number: int) -> str:
    """Start the bot again, then ask `/status` as the issue's author would."""
    world.bot.start()
    asked = world.repo("alice").get_issue(number).create_comment("/status")
    return world.wait_for_reply(number, f"<!-- ml-intern:reply:cmd-{asked.id} -->")


def kill_during(world, number: int, activity: str) -> None:
    world.wait_for_activity(number, activity)
    assert world.state(number).lease, "a running step carries a lease in the state marker"
    world.bot.kill()


def test_killed_during_research_smoke_test_and_training_each_resumes_with_retry(trust_world, figures):
    world = trust_world
    data = world.root / "data"
    slow = data / "slow.csv"
    os.mkfifo(slow)  # research blocks reading it: the bot is reliably killed mid-research
    world.configure(str(slow))
    issue = world.repo("alice").create_issue(title="Ticket types", body="Label customer support tickets by type.")
    number = issue.number
    issue.create_comment("/ml-intern")  # a command runs once: after a crash it is `/retry` that resumes

    kill_during(world, number, "Researching")
    slow.unlink()
    shutil.copy(data / "tickets.csv", slow)
    answer = restart_and_ask(world, number)
    assert "Interrupted during **research**" in answer and "`/retry`" in answer
    assert "Researching" not in world.status_body(number).split("Interrupted")[0], "stale progress shown as live"

    world.repo("maintainer").get_issue(number).create_comment("/retry")
    kill_during(world, number, "Smoke-testing")
    assert "Interrupted during **smoke**" in restart_and_ask(world, number)

    world.repo("maintainer").get_issue(number).create_comment("/retry")
    assert world.wait_for(number, {Phase.PLANNED, Phase.FAILED}).phase == Phase.PLANNED
    world.repo("maintainer").get_issue(number).create_comment("/approve-train")
    state = world.wait_for_activity(number, "Training:")
    job = world.root / "bot" / "jobs" / state.job["id"]
    world.bot.kill()  # the bot dies; the training job is a process of its own and runs on
    answer = restart_and_ask(world, number)
    assert "Interrupted" not in answer and ("Training:" in answer or "Epoch" in answer), answer

    world.forge.fault(503, times=0)  # GitHub is down from here until the job has ended
    try:
        wait_until(lambda: (job / "result.json").exists(), 300, "the job to finish")
        time.sleep(3)
    finally:
        world.forge.clear_faults()
    state = world.wait_for(number, {Phase.TRAINED, Phase.FAILED}, timeout=180)
    report = [b for b in world.bot_comments(number) if "ml-intern:report" in b]
    jobs = list((world.root / "bot" / "jobs").iterdir())
    figures.update(kills=3, stuck_issues=0, trainings=len(jobs), reports=len(report))
    assert state.phase == Phase.TRAINED, state.error
    assert state.run.job["id"] == job.name and len(jobs) == 1, "the job was trained again"
    assert len(report) == 1
    leaks = world.leaks_in_comments()
    figures.update(comments_with_secrets_or_colour_codes=len(leaks))
    assert leaks == []
