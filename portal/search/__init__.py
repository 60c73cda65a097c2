"""Search: one backend interface, several real engines, kept in sync through an outbox."""
