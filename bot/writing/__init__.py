"""What the bot writes: the PR's scripts (codegen), the smoke test, and what publishing uploads (card, Space)."""
