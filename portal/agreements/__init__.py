"""Agreements: signed partnerships with their parties (IATI roles), money, places and documents."""
