"""Signed webhooks to the platform's back end, from a durable outbox (issue 24, item 2)."""
