"""Following a training job from the core: its live progress, collecting it once it ended, stopping it.

The job runs elsewhere (runners/); the shell reads its news from the backend into `Facts.job` for every
poll and `/status`, so these stay pure.
"""

from __future__ import annotations

from bot.core import effects as fx
from bot.core.events import Facts, JobNews
from bot.core.render import note
from bot.core.state import IssueState, Phase

Result = tuple[IssueState, list[fx.Effect]]


def stop_job(state: IssueState) -> list[fx.Effect]:
    """Cancel the job in flight, if any: nothing it produces can be used any more."""
    job, state.job = state.job, None
    return [fx.CancelRun(job)] if job else []


def follow_job(state: IssueState, facts: Facts) -> Result:
    """The job's news: live progress in the status, and its outputs collected once it has ended."""
    news, job = facts.job, state.job
    if state.phase != Phase.TRAINING or not job or news is None or state.lease:
        return state, []
    state.interrupted = None  # a job that outlived its submitter is followed again
    if news.ended:
        state.activity = note("collecting", job=job, stage=news.stage)
        return state, [fx.Collect(job["sha"], job)]
    state.activity = progress_line(job, news)
    return state, []


def progress_line(job: dict, news: JobNews) -> str:
    """One line for the status comment: the scripts' latest progress, and where to watch the job."""
    latest, epoch = news.latest, news.epoch
    if latest.get("event") == "done":
        text = note("evaluating")
    elif latest.get("event") == "progress":
        text = note("training_step", step=latest.get("step", 0), total=latest.get("total_steps") or 1,
                    loss=latest.get("loss"), elapsed=latest.get("elapsed", 0))
    else:
        text = note("job_waiting", stage=news.stage, job=job)
    if epoch and latest.get("event") != "done":
        text += "; " + note("epoch_done", epoch=epoch.get("epoch"), epochs=epoch.get("epochs"),
                            val_macro_f1=epoch.get("val_macro_f1"), elapsed=epoch.get("elapsed", 0))
    return f"{text} {note('job_link', job=job)}"
