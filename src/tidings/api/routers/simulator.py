"""/v1/simulator: drive the built-in simulator as if handsets answered."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from tidings.accounts.service import Principal
from tidings.api.deps import runtime, sender
from tidings.api.responses import JsonResponse
from tidings.api.schemas import SimulatedInbound
from tidings.channels.simulator.connector import SimulatorConnector
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.domain.addresses import AddressError, normalise_number, normalise_sender
from tidings.runtime import Runtime
from tidings.store import numbers as number_store

router = APIRouter(prefix="/v1/simulator", tags=["simulator"])


@router.post("/inbound", status_code=202, summary="Inject an inbound message")
async def inbound(
    payload: SimulatedInbound, rt: Runtime = Depends(runtime), caller: Principal = Depends(sender)
) -> JsonResponse:
    simulator = next((c for c in rt.connectors.values() if isinstance(c, SimulatorConnector)), None)
    if simulator is None:
        raise NotFound("no simulator connector is configured", code="simulator_disabled")
    if not simulator.started:
        raise Conflict(
            "the simulator runs in the worker process; inject inbound messages through a "
            "node started with --role all",
            code="simulator_elsewhere",
        )
    try:
        to = normalise_number(payload.to, "to")
    except AddressError as exc:
        raise InvalidInput(str(exc), code="invalid_to", extra={"field": "to"}) from exc
    try:  # the pipeline would drop an inbound message from an impossible sender
        normalise_sender(payload.from_)
    except AddressError as exc:
        raise InvalidInput(str(exc), code="invalid_from", extra={"field": "from"}) from exc
    with rt.db.read() as conn:
        owner = number_store.owner_of(conn, simulator.channel, rt.crypto.blind_index("global", to))
    if owner is None or owner.account_id != caller.account_id:
        raise NotFound(
            "'to' is not a number of this account; register it with POST /v1/numbers first",
            code="number_not_found",
            extra={"field": "to"},
        )
    simulator.inject_inbound(payload.from_, to, payload.body)
    return JsonResponse({"accepted": True, "to": to}, status_code=202)
