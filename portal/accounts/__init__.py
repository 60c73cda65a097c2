"""Accounts: users, roles, organisation membership, login, password reset, API tokens."""
