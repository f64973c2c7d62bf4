"""What reaches a public comment: redacted, without colour codes, tracebacks or this machine's folders."""

import tempfile
from pathlib import Path

from bot.config import Settings
from bot.errors import UserError, explain, public_text
from bot.planner.rules import PlanError
from bot.research.data import DatasetError

WORKDIR = Path(tempfile.gettempdir()) / "ml-intern-bot-work"  # an absolute folder of "this machine"
SETTINGS = Settings(github_token="ghs_configuredtokenvalue0001", webhook_secret="hook-secret-value",
                    hf_token="hf_configuredhubtoken000001", workdir=WORKDIR)
ANTHROPIC_SHAPED = "sk-ant-" + "api03-" + "x" * 26  # token-shaped, assembled so no key-like literal is tracked


def test_configured_secrets_and_token_shaped_strings_are_blanked():
    text = public_text("token ghs_configuredtokenvalue0001, secret hook-secret-value, hf_configuredhubtoken000001, "
                       "and one we were never told: ghp_AbCdEfGhIjKlMnOpQrStUv123456 or github_pat_11ABCDEFG0123456789_x"
                       f"yz and {ANTHROPIC_SHAPED}; https://user:pa55word@example.com/x", SETTINGS)
    for secret in ("ghs_configured", "hook-secret-value", "hf_configured", "ghp_AbCd", "github_pat_11", "sk-ant-api03",
                   "pa55word"):
        assert secret not in text, secret
    assert text.count("***") >= 7


def test_colour_codes_and_the_bots_folders_are_dropped():
    text = public_text(f"\x1b[31mError\x1b[0m in {WORKDIR}/issues/acme/issue-3/runs/abc/out", SETTINGS)
    assert text == "Error in <workdir>/issues/acme/issue-3/runs/abc/out"
    assert "\x1b" not in public_text("\x1b]0;title\x07done", SETTINGS)


def test_a_user_error_is_shown_as_written_and_a_bug_as_one_sentence_without_traceback():
    assert explain(PlanError("name a dataset, e.g. `PolyAI/banking77`"), SETTINGS) == \
        "name a dataset, e.g. `PolyAI/banking77`"
    assert isinstance(DatasetError("x"), UserError)
    try:
        {}["missing"]
    except KeyError as exc:
        message = explain(exc, SETTINGS)
    assert message.startswith("unexpected KeyError: 'missing'. This is a bug") and "Traceback" not in message
    leaky = explain(RuntimeError(f"failed at {WORKDIR}/x with ghs_configuredtokenvalue0001\nline 2"), SETTINGS)
    assert "ghs_" not in leaky and str(WORKDIR) not in leaky and "line 2" not in leaky
