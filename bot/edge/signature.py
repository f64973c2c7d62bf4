"""Webhook signatures, sans-I/O: GitHub's HMAC-SHA256 over the raw body.

Spec: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def signer(secret: str) -> hmac.HMAC:
    """An HMAC-SHA256 to feed the body into chunk by chunk, as it arrives."""
    return hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for this body."""
    mac = signer(secret)
    mac.update(body)
    return PREFIX + mac.hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True only for a matching signature; fails closed on a missing secret or header."""
    if not secret or not header:
        return False
    expected = sign(secret, body).encode("ascii")
    # compare_digest keeps the comparison constant-time; bytes so any header text is comparable.
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))
