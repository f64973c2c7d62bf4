"""X-Hub-Signature-256 checks, against GitHub's documented test vector."""

from types import SimpleNamespace

from bot.edge.signature import sign, verify_signature
from bot.errors import redact

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
DOC_SECRET = "It's a Secret to Everybody"
DOC_BODY = b"Hello, World!"
DOC_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_sign_matches_githubs_documented_vector():
    assert sign(DOC_SECRET, DOC_BODY) == DOC_SIGNATURE


def test_verify_accepts_the_right_signature():
    assert verify_signature(DOC_SECRET, DOC_BODY, DOC_SIGNATURE)


def test_verify_rejects_wrong_missing_or_mangled_signatures():
    assert not verify_signature(DOC_SECRET, DOC_BODY + b" ", DOC_SIGNATURE)
    assert not verify_signature("another secret", DOC_BODY, DOC_SIGNATURE)
    assert not verify_signature(DOC_SECRET, DOC_BODY, None)
    assert not verify_signature(DOC_SECRET, DOC_BODY, "")
    assert not verify_signature(DOC_SECRET, DOC_BODY, DOC_SIGNATURE.removeprefix("sha256="))
    assert not verify_signature(DOC_SECRET, DOC_BODY, "sha1=" + DOC_SIGNATURE[7:])
    assert not verify_signature(DOC_SECRET, DOC_BODY, "sha256=é" + DOC_SIGNATURE[8:])


def test_an_empty_secret_never_verifies_anything():
    assert not verify_signature("", DOC_BODY, sign("", DOC_BODY))


def test_redact_blanks_every_configured_secret():
    settings = SimpleNamespace(github_token="ghp_abc", webhook_secret="whs", hf_token=None, anthropic_api_key="sk-1")
    text = redact("token ghp_abc secret whs key sk-1 other", settings, extra=["other"])
    assert text == "token *** secret *** key *** ***"
