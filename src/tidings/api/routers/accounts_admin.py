"""/v1/admin/accounts: the operator closes a customer account."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from tidings.accounts.service import Principal
from tidings.api.deps import operator, runtime
from tidings.api.responses import JsonResponse
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1/admin/accounts", tags=["admin"])


@router.post(
    "/{account_id}/close",
    summary="Close an account (its API keys and SMPP credentials are revoked)",
)
def close_account(
    account_id: str, rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> JsonResponse:
    return JsonResponse(rt.accounts.close_account(account_id))
