"""Tidings as an SMSC: the SMPP 3.4 server that accounts bind to.

Built on asyncio and the project's own codec (``tidings.channels.smpp``). A submit goes
through the same acceptance as the HTTP API; receipts and inbound messages reach a bound
receiver as deliver_sm, from a durable outbox when none is bound.
"""
