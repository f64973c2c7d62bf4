"""ml-intern-bot: a GitHub-native ML intern."""

from pathlib import Path

__version__ = "0.1.0"


def templates_dir() -> Path:
    """Where the Jinja2 templates live: inside an installed wheel, or the repo's `templates/`."""
    packaged = Path(__file__).parent / "_templates"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "templates"
