"""The GitHub adapter against the forge over HTTP (PyGithub, real requests), without the rest of the bot."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.core.state import IssueState, Phase, status_comment
from bot.forge.server import ForgeServer
from bot.forge.store import Forge
from bot.shell.github import RepoClient, StaleState, connect

REPO, BOT = "acme/support-bot", "ml-intern[bot]"


@pytest.fixture
def forge_and_clients(tmp_path):
    forge = Forge(tmp_path / "forge")
    token = forge.add_user(BOT, type="Bot")
    forge.create_repo(REPO, owner_type="Organization")
    forge.set_permission(REPO, BOT, "write")
    with ForgeServer(forge) as server:
        settings = Settings(github_token=token, github_api_url=server.api_url, bot_login=BOT, retry_base_s=0.1)
        number = connect(settings).get_repo(REPO).create_issue(title="goal").number
        yield forge, (lambda: RepoClient(connect(settings), REPO, BOT)), number
    forge.close()


def save(client: RepoClient, number: int, state: IssueState, loaded: int) -> None:
    state.version = loaded + 1
    client.save_status(number, status_comment(state, "status"), expected_version=loaded)


def test_a_writer_holding_an_older_state_cannot_overwrite_a_newer_one(forge_and_clients):
    _, client, number = forge_and_clients
    first, second = client(), client()
    assert first.load_state(number).version == second.load_state(number).version == 0
    save(first, number, IssueState(phase=Phase.PLANNED), loaded=0)
    save(first, number, IssueState(phase=Phase.TRAINING), loaded=1)
    second.load_state(number)
    with pytest.raises(StaleState):
        save(second, number, IssueState(phase=Phase.CANCELLED), loaded=0)
    assert client().load_state(number).phase == Phase.TRAINING


def test_a_comment_whose_create_answered_500_after_saving_is_found_not_made_twice(forge_and_clients):
    forge, client, number = forge_and_clients
    forge.add_fault(500, method="POST", path=rf"/issues/{number}/comments$", when="after", times=1)
    bot = client()
    bot.upsert_keyed(number, "reply:cmd-1", "hello", edit=False)
    bot.upsert_keyed(number, "reply:cmd-1", "hello", edit=False)
    bodies = [c.body for c in client().repo.get_issue(number).get_comments()]
    assert len(bodies) == 1 and bodies[0].endswith("hello")


def test_labels_mirror_the_phase_and_a_stray_phase_label_goes(forge_and_clients):
    from bot.core.state import label_changes

    _, client, number = forge_and_clients
    bot = client()
    bot.change_labels(number, {"ml-intern:trained", "bug"}, set())
    add, remove = label_changes(IssueState(phase=Phase.PLANNED), bot.labels(number))
    bot.change_labels(number, add, remove)
    assert bot.labels(number) == {"ml-intern:planned", "bug"}
