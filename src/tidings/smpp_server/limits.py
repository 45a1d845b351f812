"""What one SMPP session and one peer address may cost the server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_command_length: int = 64 * 1024  # larger command_length: generic_nack and close
    bind_timeout: float = 30.0  # a connection must bind within this
    idle_timeout: float = 300.0  # a bound session that sends nothing this long is closed
    window: int = 256  # requests of one session being processed at once; then reading waits
    response_timeout: float = 30.0  # for the ESME's deliver_sm_resp
    max_bad_pdus: int = 50  # undecodable PDUs a session may send before it is closed
    enquire_links_per_second: float = 20.0  # then generic_nack ESME_RTHROTTLED
    max_throttled_enquire_links: int = 200  # then the session is closed
    failed_binds_free: int = 3  # failures from one address before its binds are slowed
    failed_bind_delay: float = 0.5  # seconds for the first slowed bind, doubling
    failed_bind_max_delay: float = 10.0
    failed_bind_window: float = 900.0  # seconds a failure counts against its address
    reassembly_timeout: float = 300.0  # parts of a long message wait this long for the rest
    outbox_batch: int = 100  # deliver_sm sent before their responses are awaited
    outbox_poll: float = 0.1  # seconds between looks at the outbox while a receiver is bound
    revalidate_seconds: float = 10.0  # how often bound credentials are checked for revocation
