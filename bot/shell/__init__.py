"""The per-issue shell around the core: GitHub, leases, retries, and the slow steps (research, smoke, training, publishing)."""
