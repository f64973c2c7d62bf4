"""A training job on Hugging Face Jobs, followed by real processes: `ml-intern-bot forge`, `ml-intern-bot serve`
and `ml-intern-bot hub` (the local Hub, where the job runs and the default model is downloaded from).

While the job runs, the issue's other events are answered at once (`/status` with live progress and a link
to the job); `/cancel` stops the job on the Hub and the status says that billing stopped.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from bot.core.state import Phase
from bot.playground.serving import free_port
from bot.research.models import MODEL_ID, package_model_path
from tests.trust.conftest import World, cli_env, planned_issue, run_cli, wait_until


class Hub:
    """`ml-intern-bot hub --root DIR --port N` in its own process, seeded with the default model."""

    def __init__(self, root):
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        run_cli("hub", "--root", str(root), "repo", "import", MODEL_ID, str(package_model_path()))
        self.token = run_cli("hub", "--root", str(root), "token", "add", "ml-intern", "--org", "acme").split()[-1]
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "hub", "--root", str(root), "--port",
                                      str(self.port)], env=cli_env(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(self._up, 60, "the local Hub to answer")

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/models/{MODEL_ID}", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def job(self, job_id: str) -> dict:
        answer = httpx.get(f"{self.url}/api/jobs/acme/{job_id}", headers={"Authorization": f"Bearer {self.token}"})
        answer.raise_for_status()
        return answer.json()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def hub_world(tmp_path_factory, bitext_sample):
    root = tmp_path_factory.mktemp("hf-jobs")
    (root / "data").mkdir()
    (root / "data" / "tickets.csv").write_bytes(bitext_sample.read_bytes())
    hub = Hub(root / "hub")
    world = World(root, root / "data", HF_ENDPOINT=hub.url, HF_TOKEN=hub.token, HF_HUB_OFFLINE="0",
                  ML_INTERN_HF_NAMESPACE="acme", HF_HOME=str(root / "hf-home"))
    world.bot.start()
    world.configure(str(root / "data" / "tickets.csv"), hardware="hf-cpu-basic", max_cost_usd=1, epochs=20,
                    max_train_rows=800, budget_minutes=15)
    yield world, hub
    world.close()
    hub.close()


def test_a_running_hf_job_is_followed_and_cancel_stops_it_and_its_billing(hub_world, figures):
    world, hub = hub_world
    number = planned_issue(world)
    world.repo("maintainer").get_issue(number).create_comment("/approve-train")
    job_id = world.wait_for_activity(number, "Training:", timeout=300).job["id"]
    assert hub.job(job_id)["status"]["stage"] == "RUNNING"

    asked_at = time.monotonic()
    asked = world.repo("alice").get_issue(number).create_comment("/status")
    answer = world.wait_for_reply(number, f"<!-- ml-intern:reply:cmd-{asked.id} -->", timeout=60)
    status_s = time.monotonic() - asked_at
    assert "Training: step" in answer and f"{hub.url}/jobs/acme/{job_id}" in answer

    cancelled_at = time.monotonic()
    world.repo("maintainer").get_issue(number).create_comment("/cancel")
    wait_until(lambda: "billing stopped" in world.status_body(number), 120, "the status to say billing stopped")
    cancel_s = time.monotonic() - cancelled_at
    figures.update(status_reply_s=round(status_s, 1), cancel_to_billing_stopped_s=round(cancel_s, 1),
                   hub_stage=hub.job(job_id)["status"]["stage"])
    assert status_s < 10, "/status waited for the job"
    assert hub.job(job_id)["status"]["stage"] == "CANCELED" and world.state(number).phase == Phase.CANCELLED
