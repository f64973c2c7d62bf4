"""The runner tests reuse the forge's fixtures: a forge, its HTTP server, tokens and PyGithub clients."""

from tests.forge.conftest import forge, gh, server, tokens  # noqa: F401
