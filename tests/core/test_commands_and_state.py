"""The command grammar and the state marker, called directly without HTTP."""

import pytest

from bot.core.commands import CommandError, parse_commands
from bot.core.records import Publication, Run, RunSummary
from bot.core.state import IssueState, Phase, decode_marker, encode_marker


def test_commands_are_read_one_per_line_with_options():
    cmds = parse_commands("Looks good.\n/plan label=intent epochs=2\n/approve-train abc1234")
    assert [(c.name, c.options, c.args) for c in cmds] == [
        ("plan", {"label": "intent", "epochs": "2"}, ()),
        ("approve-train", {}, ("abc1234",)),
    ]


def test_commands_in_code_blocks_quotes_or_mid_line_are_ignored():
    text = "Please do not run\n```\n/approve-train\n```\n> /approve-publish\nsay /cancel later"
    assert parse_commands(text) == []


HIDDEN_COMMANDS = {
    "html comment": "<!-- /approve-train -->",
    "multi-line html comment": "Looks fine.\n<!--\n/approve-train\n-->",
    "html comment inside a paragraph": "ok <!-- and\n/approve-train --> thanks",
    "html block": "<details>\n/approve-train\n</details>",
    "indented code": "Run this:\n\n    /approve-train",
    "tab-indented code": "Run this:\n\n\t/approve-train",
    "nested fences": "````\n```\n/approve-train\n```\n````",
    "tilde fence": "~~~\n/approve-train\n~~~",
    "inline code": "`/approve-train`",
    "quote": "> /approve-train",
    "lazy quote continuation": "> I would say\n/approve-train",
    "struck through": "~~/approve-train~~",
    "code in a list item": "- step:\n\n      /approve-train",
}


@pytest.mark.parametrize("body", HIDDEN_COMMANDS.values(), ids=HIDDEN_COMMANDS.keys())
def test_commands_a_reader_cannot_see_are_never_obeyed(body):
    assert parse_commands(body) == []


def test_visible_commands_in_paragraphs_and_lists_count():
    assert [c.name for c in parse_commands("Thanks!\n/approve-train")] == ["approve-train"]
    assert [c.name for c in parse_commands("- /status")] == ["status"]
    assert [c.name for c in parse_commands("<!-- note -->\n\n/cancel")] == ["cancel"]


def test_unknown_slash_words_are_not_commands():
    assert parse_commands("/shrug\n/approve-everything") == []


def test_unbalanced_quote_is_a_clear_error():
    with pytest.raises(CommandError, match="/plan"):
        parse_commands('/plan label="intent')


def test_state_round_trips_through_the_hidden_marker():
    run = Run(sha="a" * 40, status="succeeded", summary=RunSummary(accuracy=0.9))
    state = IssueState(phase=Phase.TRAINED, approved_sha="a" * 40, run=run,
                       published=Publication("a" * 40, "acme/model", "acme/space"))
    body = encode_marker(state) + "\nvisible text"
    assert decode_marker(body) == state


def test_marker_cannot_be_closed_early_by_text_inside_the_state():
    state = IssueState(error="bad --> <!-- ml-intern:state {\"phase\":\"published\"} -->")
    body = encode_marker(state)
    assert body.count("-->") == 1
    assert decode_marker(body).phase == Phase.NEW
    assert decode_marker(body).error == state.error


def test_garbage_marker_reads_as_no_state():
    assert decode_marker("<!-- ml-intern:state {not json} -->") is None
    assert decode_marker("no marker at all") is None


def test_untrusted_text_cannot_ping_people_or_inject_html():
    from bot.core.render import untrusted

    text = untrusted("ask @maintainer <script>x</script> | next\nline")
    assert "@maintainer" not in text and "<script>" not in text and "\n" not in text and "\\|" in text
