"""Consent: the ledger API, keyword settings, opt-out links, the operator's own marketing."""
