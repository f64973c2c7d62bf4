"""The phase machine as a pure function: approvals, refusals and voiding, without any I/O."""

from bot.core import effects as fx
from bot.core.commands import parse_commands
from bot.core.events import Actor, CommentEvent, Facts, IssueEvent, JobNews, PollEvent, PushEvent
from bot.core.machine import step
from bot.core.records import Publication, Run
from bot.core.state import IssueState, Phase

BOT = "ml-intern[bot]"
HEAD = "a" * 40
NEW_HEAD = "b" * 40
PLAN = {"goal": "g", "dataset": "d.csv", "text_column": "t", "label_column": "l", "labels": ["x", "y"]}


TESTED_AT = "2026-11-30T10:00:00Z"


def comment(body, login="maintainer", kind="User", cid=1, at="2026-11-30T10:05:00Z"):
    return CommentEvent(repo="acme/r", number=1, comment_id=cid, body=body, sender=Actor(login, kind),
                        on_pull_request=False, issue_title="Classify tickets", issue_body="by issue type please",
                        created_at=at, commands=tuple(parse_commands(body)))


def facts(permission="write", head=HEAD, new_commits=(), job=None):
    return Facts(bot_login=BOT, permission=permission, pr_head_sha=head, new_commits=new_commits, job=job)


def planned():
    return IssueState(phase=Phase.PLANNED, plan=PLAN, pr_number=2, branch="ml-intern/issue-1", head_sha=HEAD,
                      tested_sha=HEAD, tested_at=TESTED_AT)


def trained():
    state = planned()
    state.phase, state.approved_sha = Phase.TRAINED, HEAD
    state.run = Run(sha=HEAD, status="succeeded")
    return state


def kinds(effects):
    return [type(e) for e in effects]


def notes(effects):
    return " ".join(e.body for e in effects if isinstance(e, fx.Reply))


def test_labelled_goal_issue_starts_research_with_eyes():
    event = IssueEvent("acme/r", 1, "opened", "Ticket classifier", "label tickets by type", ("ml-intern",), Actor("alice"))
    state, effects = step(IssueState(), event, facts(None))
    assert kinds(effects) == [fx.React, fx.Research]
    assert effects[0].content == "eyes" and state.activity


def test_issue_without_trigger_is_left_alone():
    event = IssueEvent("acme/r", 1, "opened", "Bug", "it crashes", (), Actor("alice"))
    assert step(IssueState(), event, facts(None))[1] == []


def test_hand_added_phase_label_grants_nothing():
    event = IssueEvent("acme/r", 1, "labeled", "t", "b", ("ml-intern:trained",), Actor("maintainer"),
                       label="ml-intern:trained")
    state, effects = step(planned(), event, facts())
    assert state.phase == Phase.PLANNED and effects == []


def test_maintainer_approval_trains_exactly_the_current_head():
    state, effects = step(planned(), comment("/approve-train"), facts("write"))
    assert state.phase == Phase.TRAINING and state.approved_sha == HEAD and state.approved_by == "maintainer"
    train = [e for e in effects if isinstance(e, fx.Train)]
    assert train and train[0].sha == HEAD


def test_read_only_approval_is_refused_with_the_reason_and_starts_nothing():
    state, effects = step(planned(), comment("/approve-train", login="reader"), facts("read"))
    assert state.phase == Phase.PLANNED and state.approved_sha is None
    assert fx.Train not in kinds(effects)
    assert "needs write, maintain or admin" in notes(effects) and "read" in notes(effects)


def test_approval_from_a_bot_account_is_refused_even_with_write_permission():
    _, effects = step(planned(), comment("/approve-train", login="helper[bot]", kind="Bot"), facts("admin"))
    assert fx.Train not in kinds(effects) and "bot accounts" in notes(effects)


def test_the_bot_ignores_its_own_comments():
    assert step(planned(), comment("/approve-train", login=BOT, kind="Bot"), facts("admin"))[1] == []


def test_approval_for_a_sha_that_is_no_longer_the_head_is_refused():
    _, effects = step(planned(), comment(f"/approve-train {HEAD[:7]}"), facts("write", head=NEW_HEAD))
    assert fx.Train not in kinds(effects)
    assert "no longer the head" in notes(effects)


def test_the_same_comment_delivered_twice_acts_once():
    state, first = step(planned(), comment("/approve-train", cid=9), facts())
    _, second = step(state, comment("/approve-train", cid=9), facts())
    assert fx.Train in kinds(first) and second == []


def test_a_push_after_training_voids_the_approval_and_blocks_publishing():
    push = PushEvent("acme/r", 2, 1, NEW_HEAD, Actor("maintainer"))
    state, effects = step(trained(), push, facts())
    assert state.phase == Phase.PLANNED and state.approved_sha is None
    assert "void" in notes(effects)
    state, effects = step(state, comment("/approve-publish", cid=3), facts(head=NEW_HEAD))
    assert fx.Publish not in kinds(effects)


def test_publish_needs_the_trained_sha_to_still_be_the_head():
    _, effects = step(trained(), comment("/approve-publish"), facts(head=NEW_HEAD))
    assert fx.Publish not in kinds(effects) and "head is now" in notes(effects)


def test_approve_publish_twice_publishes_once():
    state, effects = step(trained(), comment("/approve-publish", cid=5), facts())
    assert fx.Publish in kinds(effects)
    state, _ = step(state, fx.Published(HEAD, Publication(HEAD, "m", "s")), facts())
    state, effects = step(state, comment("/approve-publish", cid=6), facts())
    assert state.phase == Phase.PUBLISHED and fx.Publish not in kinds(effects)
    assert "Already published" in notes(effects)


def test_results_of_a_voided_run_are_not_recorded():
    state = planned()
    state.phase, state.approved_sha = Phase.TRAINING, HEAD
    state, _ = step(state, PushEvent("acme/r", 2, 1, NEW_HEAD, Actor("m")), facts())
    state, effects = step(state, fx.Trained(HEAD, Run(sha=HEAD, status="succeeded"), {}), facts())
    assert state.phase == Phase.PLANNED and state.run is None and effects == []


def test_a_failed_smoke_test_can_be_retried():
    state, effects = step(IssueState(activity="x"), fx.StepFailed("smoke", "boom", "Traceback"), facts())
    assert state.phase == Phase.FAILED and "Traceback" in notes(effects) and "/retry" in notes(effects)
    state, effects = step(state, comment("/retry", cid=4), facts())
    assert fx.Research in kinds(effects) and state.phase == Phase.NEW


def test_plan_overrides_are_validated_and_void_approval():
    state, effects = step(planned(), comment("/plan label=intent epochs=2"), facts())
    assert state.overrides == {"label_column": "intent", "epochs": 2}
    assert fx.Research in kinds(effects)
    _, effects = step(planned(), comment("/plan rm=-rf", cid=2), facts())
    assert "unknown plan key 'rm'" in notes(effects)


JOB = {"backend": "hf-jobs", "id": "j1", "url": "https://hf.example/jobs/j1", "artifacts": "", "sha": HEAD}


def test_cancel_during_training_stops_the_job():
    state = planned()
    state.phase, state.approved_sha, state.job = Phase.TRAINING, HEAD, JOB
    state, effects = step(state, comment("/cancel"), facts())
    assert state.phase == Phase.CANCELLED and fx.CancelRun(JOB) in effects and state.job is None


def test_a_job_submitted_after_a_cancel_is_cancelled_at_once():
    state = planned()
    state.phase, state.approved_sha = Phase.TRAINING, HEAD  # submitting
    state, _ = step(state, comment("/cancel"), facts())
    state, effects = step(state, fx.RunSubmitted(HEAD, {"backend": "actions", "id": "7"}), facts())
    assert effects == [fx.CancelRun({"backend": "actions", "id": "7"})] and state.phase == Phase.CANCELLED


def test_polls_follow_the_job_until_it_ends_then_collect_it():
    state = planned()
    state.phase, state.approved_sha, state.job = Phase.TRAINING, HEAD, JOB
    news = JobNews("running", latest={"event": "progress", "step": 5, "total_steps": 10, "loss": 1.0, "elapsed": 9})
    state, effects = step(state, PollEvent("acme/x", 1), facts(job=news))
    assert effects == [] and "step 5/10" in state.activity and "https://hf.example/jobs/j1" in state.activity
    state, effects = step(state, PollEvent("acme/x", 1), facts(job=JobNews("timed_out")))
    assert effects == [fx.Collect(HEAD, JOB)] and "timed out" in state.activity


def test_a_poll_for_another_phase_or_without_news_changes_nothing():
    state = planned()
    assert step(state, PollEvent("acme/x", 1), facts(job=JobNews("succeeded"))) == (state, [])
    state.phase, state.job = Phase.TRAINING, JOB
    assert step(state, PollEvent("acme/x", 1), facts()) == (state, [])


def test_retry_restarts_a_run_interrupted_by_a_bot_restart():
    """Regression: a crash mid-training left the issue in `training` with no way forward."""
    state = planned()
    state.phase, state.approved_sha, state.activity = Phase.TRAINING, HEAD, "Training: step 40/100"
    state, effects = step(state, comment("/retry"), facts())
    assert state.phase == Phase.TRAINING and [e.sha for e in effects if isinstance(e, fx.Train)] == [HEAD]


def test_a_bare_approval_means_the_smoke_tested_commit_never_a_newer_head():
    """Regression: a push 0.2 s after `/approve-train` made the bot train the pushed commit."""
    pushed = ("`bbbbbbb` by @mallory",)
    state, effects = step(planned(), comment("/approve-train"), facts(head=NEW_HEAD, new_commits=pushed))
    assert state.phase == Phase.PLANNED and state.approved_sha is None and fx.Train not in kinds(effects)
    refusal = notes(effects)
    assert "smoke-tested `aaaaaaa`" in refusal and "`bbbbbbb` by @mallory" in refusal
    assert "/approve-train bbbbbbb" in refusal


def test_a_pushed_commit_trains_only_when_approved_by_its_sha_and_says_it_was_not_smoke_tested():
    state, effects = step(planned(), comment(f"/approve-train {NEW_HEAD[:7]}"), facts(head=NEW_HEAD))
    assert state.approved_sha == NEW_HEAD and state.approved_untested
    assert [e.sha for e in effects if isinstance(e, fx.Train)] == [NEW_HEAD]
    from bot.core.render import render

    assert "did **not** smoke-test" in render("comments/status.md.j2", state=state)


def test_an_approval_typed_before_the_smoke_tested_commit_was_announced_is_refused():
    _, effects = step(planned(), comment("/approve-train", at="2026-11-30T09:59:59Z"), facts())
    assert fx.Train not in kinds(effects) and "written before" in notes(effects)


def test_a_sha_argument_must_be_a_real_sha_prefix():
    for arg in ("a", "zzzzzzz", "HEAD"):
        _, effects = step(planned(), comment(f"/approve-train {arg}"), facts())
        assert fx.Train not in kinds(effects), arg


def test_an_interrupted_step_is_shown_and_retry_resumes_it():
    state = IssueState(activity="Researching datasets and models…", lease={"step": "research", "beat": "t"})
    state, _ = step(state, fx.Interrupted("research", "2026-11-30T10:00:00Z"), facts())
    assert state.interrupted == {"step": "research", "since": "2026-11-30T10:00:00Z"}
    assert not state.activity and state.lease is None
    from bot.core.render import render

    assert "Interrupted during **research**" in render("comments/status.md.j2", state=state)
    state, effects = step(state, comment("/retry"), facts())
    assert fx.Research in kinds(effects) and state.interrupted is None


def test_start_after_an_interrupted_research_starts_again_instead_of_saying_already_on_it():
    state, _ = step(IssueState(activity="Researching…"), fx.Interrupted("research", "t"), facts())
    _, effects = step(state, comment("/ml-intern", login="alice"), facts(permission="read"))
    assert fx.Research in kinds(effects)


def test_approval_during_an_interrupted_training_asks_for_retry():
    state = planned()
    state.phase, state.approved_sha = Phase.TRAINING, HEAD
    state, _ = step(state, fx.Interrupted("training", "t"), facts())
    _, effects = step(state, comment("/approve-train", cid=7), facts())
    assert fx.Train not in kinds(effects) and "/retry" in notes(effects)
    _, effects = step(state, comment("/ml-intern", login="alice", cid=9), facts(permission="read"))
    assert "interrupted" in notes(effects) and "already on it" not in notes(effects)
    state, effects = step(state, comment("/retry", cid=8), facts())
    assert [e.sha for e in effects if isinstance(e, fx.Train)] == [HEAD] and state.interrupted is None


def test_the_reply_to_a_command_typed_on_the_pr_goes_to_the_pr():
    on_pr = CommentEvent(repo="acme/r", number=2, comment_id=11, body="/status", sender=Actor("alice"),
                         on_pull_request=True, commands=tuple(parse_commands("/status")))
    _, effects = step(planned(), on_pr, facts(permission="read"))
    assert [e.on for e in effects if isinstance(e, fx.Reply)] == [2]
    _, effects = step(planned(), comment("/status", cid=12), facts(permission="read"))
    assert [e.on for e in effects if isinstance(e, fx.Reply)] == [1]


def test_published_refuses_plan_retry_and_cancel_and_says_why():
    state = trained()
    state.phase, state.published = Phase.PUBLISHED, Publication(HEAD, "m", "s")
    for n, body in enumerate(["/plan epochs=2", "/retry", "/cancel"]):
        after, effects = step(state, comment(body, cid=20 + n), facts())
        assert after.phase == Phase.PUBLISHED and "published" in notes(effects) and "new issue" in notes(effects)


def test_a_bad_plan_value_or_a_missing_column_is_refused_at_once_with_what_is_allowed():
    state = planned()
    state.columns = ["instruction", "category", "intent"]
    after, effects = step(state, comment("/plan lr=banana", cid=30), facts())
    assert fx.Research not in kinds(effects) and after.overrides == {}
    assert "`lr=banana` is not a number" in notes(effects) and "0.01" in notes(effects)
    after, effects = step(state, comment("/plan label=text2", cid=31), facts())
    assert fx.Research not in kinds(effects) and "instruction, category, intent" in notes(effects)
    after, effects = step(state, comment("/plan label=intent", cid=32), facts())
    assert fx.Research in kinds(effects) and after.overrides == {"label_column": "intent"}
