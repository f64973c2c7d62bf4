"""Publishing after `/approve-publish`: a model repo (card, weights, metrics) and a Gradio Space.

One idea a module, each importable on its own:
- `licence`: which licence the repos carry and whom they credit (the data's licence, not the model's);
- `card`: the model repo, its README being the model card with model-index front matter;
- `space`: the Gradio Space that serves the shipped predictor;
- `upload`: a local folder laid out like the Hub, or the Hub via huggingface_hub, one commit a repo;
- `run` and `render`: what both repos read from the run's OUT folder, and the shared Jinja2 setup.

Callers use the names below (`from bot.writing import publish; publish.publish_hub(...)`).
"""

from bot.writing.publish.card import CARD_SECTIONS, build_model_repo, render_model_card
from bot.writing.publish.licence import License, hub_dataset, license_for
from bot.writing.publish.run import Files, PublishError, pick_examples
from bot.writing.publish.space import UNKNOWN, build_space, render_app
from bot.writing.publish.upload import PublishResult, publish_hub, publish_local

__all__ = [
    "CARD_SECTIONS",
    "UNKNOWN",
    "Files",
    "License",
    "PublishError",
    "PublishResult",
    "build_model_repo",
    "build_space",
    "hub_dataset",
    "license_for",
    "pick_examples",
    "publish_hub",
    "publish_local",
    "render_app",
    "render_model_card",
]
