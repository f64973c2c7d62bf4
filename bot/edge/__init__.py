"""The edge: where deliveries come in (webhook server, Action entry point), are verified, persisted and queued."""
