"""Notifications to agency systems: subscriptions, an outbox, signed and retried delivery."""
