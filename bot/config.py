"""One Settings object, read once from the environment; secrets are never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_API_URL = "https://api.github.com"


class ConfigError(RuntimeError):
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
        )

    def require_token(self) -> str:
        """The GitHub token, or a ConfigError that says how to provide one."""
        if not self.github_token:
            raise ConfigError("GITHUB_TOKEN is not set: export a token with issues, pull-requests and contents write access")
        return self.github_token
