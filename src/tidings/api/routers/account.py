"""/v1/account: the caller's account, its webhook settings and API keys."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from tidings.accounts.service import Principal
from tidings.api.deps import admin, principal, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import NewApiKey, WebhookSettings
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["account"])


@router.get("/account", summary="The caller's account")
def get_account(
    rt: Runtime = Depends(runtime), caller: Principal = Depends(principal)
) -> JsonResponse:
    return JsonResponse(rt.accounts.get_account(caller.account_id))


@router.get("/account/webhook", summary="The default webhook URL and its signing secret")
def get_webhook(rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)) -> JsonResponse:
    return JsonResponse(rt.accounts.webhook(caller.account_id))


@router.put("/account/webhook", summary="Set the default webhook URL (null to clear)")
def put_webhook(
    payload: WebhookSettings, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    result = rt.accounts.set_webhook(caller.account_id, payload.url)
    return JsonResponse(result)


@router.get("/api-keys", summary="List API keys (secrets are never shown again)")
def list_keys(rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)) -> JsonResponse:
    return JsonResponse({"data": rt.accounts.list_api_keys(caller.account_id)})


@router.post("/api-keys", status_code=201, summary="Create an API key (shown once)")
def create_key(
    payload: NewApiKey, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    return JsonResponse(
        rt.accounts.create_api_key(caller.account_id, payload.name, payload.scopes), status_code=201
    )


@router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(
    key_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> Response:
    rt.accounts.revoke_api_key(caller.account_id, key_id)
    return Response(status_code=204)
