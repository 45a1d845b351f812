"""/v1: a contact's consent ledger, the account's keywords and opt-out policy, opt-out links."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from tidings.accounts.service import Principal
from tidings.api.deps import admin, reader, runtime, sender
from tidings.api.responses import JsonResponse
from tidings.api.schemas import KeywordSettings, NewConsent, NewOptOutLink, OptOutPolicy
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["consent"])


@router.get("/account/keywords", summary="Opt-out, opt-in and help keywords by language")
def get_keywords(
    rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    return JsonResponse(rt.consent.keywords(caller.account_id))


@router.put("/account/keywords", summary="Set the keywords (null languages: the defaults)")
def put_keywords(
    payload: KeywordSettings, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    languages = (
        None
        if payload.languages is None
        else {k: v.model_dump() for k, v in payload.languages.items()}
    )
    return JsonResponse(rt.consent.set_keywords(caller.account_id, languages))


@router.get("/account/opt-out", summary="What opting out means for this account's traffic")
def get_opt_out_policy(
    rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    return JsonResponse(rt.consent.opt_out_policy(caller.account_id))


@router.put(
    "/account/opt-out", summary="Refuse or allow transactional traffic to opted-out numbers"
)
def put_opt_out_policy(
    payload: OptOutPolicy, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    return JsonResponse(
        rt.consent.set_opt_out_policy(
            caller.account_id, payload.transactional, payload.confirm_by_reply
        )
    )


@router.post("/opt-out-links", status_code=201, summary="A signed opt-out link for a recipient")
async def create_opt_out_link(
    payload: NewOptOutLink, rt: Runtime = Depends(runtime), caller: Principal = Depends(sender)
) -> JsonResponse:
    link = await run_in_threadpool(
        rt.consent.opt_out_link, caller.account_id, payload.to, payload.channel
    )
    return JsonResponse(link, status_code=201)


@router.post("/contacts/{contact_id}/consents", status_code=201, summary="Record a consent event")
def record_consent(
    contact_id: str,
    payload: NewConsent,
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(sender),
) -> JsonResponse:
    event = rt.consent.record_for_contact(
        caller.account_id, contact_id, payload.model_dump(exclude_unset=False)
    )
    return JsonResponse(event, status_code=201)


@router.get(
    "/contacts/{contact_id}/consents",
    summary="A contact's consent now (per channel and purpose), opt-outs and full history",
)
def get_consents(
    contact_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)
) -> JsonResponse:
    return JsonResponse(rt.consent.consents_of_contact(caller.account_id, contact_id))
