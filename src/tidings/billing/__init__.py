"""Accounting records: monthly usage statements per account."""
