"""Webhook signatures, sans-I/O: GitHub's HMAC-SHA256 over the raw body.

Spec: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for this body."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True only for a matching signature; fails closed on a missing secret or header."""
    if not secret or not header:
        return False
    expected = sign(secret, body).encode("ascii")
    # compare_digest keeps the comparison constant-time; bytes so any header text is comparable.
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


def redact(text: str, settings: object, extra: Iterable[str | None] = ()) -> str:
    """Blank out every secret the settings hold, so a traceback or error can be logged."""
    names = ("github_token", "webhook_secret", "hf_token", "anthropic_api_key")
    for secret in [*(getattr(settings, n, None) for n in names), *extra]:
        if secret:
            text = text.replace(secret, "***")
    return text
