"""One Settings object, read once from the environment; secrets are never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import UserError

DEFAULT_API_URL = "https://api.github.com"


class ConfigError(UserError):
    """A required setting is missing or unusable; the message says which and how to set it."""


@dataclass(frozen=True)
class Settings:
    github_token: str | None = field(default=None, repr=False)
    github_api_url: str = DEFAULT_API_URL
    webhook_secret: str | None = field(default=None, repr=False)
    hf_token: str | None = field(default=None, repr=False)
    anthropic_api_key: str | None = field(default=None, repr=False)
    bot_login: str = "ml-intern[bot]"
    workdir: Path = Path(".ml-intern")
    publish_target: Path | None = None  # local folder laid out like the Hub; None = the real Hub
    hf_namespace: str | None = None
    hf_endpoint: str | None = None  # the Hub for jobs and publishing (HF_ENDPOINT; None = huggingface_hub's default)
    retry_base_s: float = 5.0  # first wait before a delivery that hit an outage is tried again (doubles after)
    poll_s: float = 10.0  # how often `serve` asks a running training job how it is doing

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the documented variables (README: Configuration)."""
        env = dict(os.environ if env is None else env)
        target = env.get("ML_INTERN_PUBLISH_TARGET")
        return cls(
            github_token=env.get("GITHUB_TOKEN") or None,
            github_api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            webhook_secret=env.get("GITHUB_WEBHOOK_SECRET") or None,
            hf_token=env.get("HF_TOKEN") or None,
            anthropic_api_key=env.get("ANTHROPIC_API_KEY") or None,
            bot_login=env.get("ML_INTERN_BOT_LOGIN") or "ml-intern[bot]",
            workdir=Path(env.get("ML_INTERN_WORKDIR") or ".ml-intern"),
            publish_target=Path(target) if target else None,
            hf_namespace=env.get("ML_INTERN_HF_NAMESPACE") or None,
            hf_endpoint=(env.get("HF_ENDPOINT") or "").rstrip("/") or None,
            retry_base_s=_seconds(env, "ML_INTERN_RETRY_BASE_S", 5.0),
            poll_s=_seconds(env, "ML_INTERN_POLL_S", 10.0),
        )

    def require_token(self) -> str:
        """The GitHub token, or a ConfigError that says how to provide one."""
        if not self.github_token:
            raise ConfigError("GITHUB_TOKEN is not set: export a token with issues, pull-requests and contents write access")
        return self.github_token


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds")
    return value
