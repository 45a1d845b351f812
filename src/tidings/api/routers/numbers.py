"""/v1/numbers: the numbers and sender ids an account owns."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from tidings.accounts.service import Principal
from tidings.api.deps import admin, reader, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import NewNumber
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1/numbers", tags=["numbers"])


@router.post("", status_code=201, summary="Register a number or sender id")
def add_number(
    payload: NewNumber, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    return JsonResponse(
        rt.numbers.add(caller.account_id, payload.number, payload.channel), status_code=201
    )


@router.get("", summary="List the account's numbers")
def list_numbers(
    rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)
) -> JsonResponse:
    return JsonResponse({"data": rt.numbers.list(caller.account_id)})


@router.delete("/{number_id}", status_code=204, summary="Release a number")
def delete_number(
    number_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> Response:
    rt.numbers.remove(caller.account_id, number_id)
    return Response(status_code=204)
