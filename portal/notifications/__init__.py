"""Notifications: e-mail written to an outbox in the request's transaction, sent by a worker."""
