"""The public opt-out page: `/o/{token}` from a link in a campaign message.

GET only shows the page (link scanners and previews fetch links); the opt-out happens
when the person presses the button (POST). Neither page shows or needs the number.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from tidings.core.errors import NotFound
from tidings.runtime import Runtime

router = APIRouter(tags=["opt-out"], include_in_schema=False)
NOTICE_VERSION = "opt-out page v1"


async def _runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">'
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _invalid() -> HTMLResponse:
    return _page(
        "Link not valid",
        "<p>This opt-out link is not valid. Check that it was copied whole, or reply STOP to "
        "the message you received.</p>",
        404,
    )


def _channel_words(channel: str) -> str:
    return (
        "any channel"
        if channel == "all"
        else escape(channel.upper() if channel == "sms" else channel)
    )


@router.get("/o/{token}")
def show(token: str, rt: Runtime = Depends(_runtime)) -> HTMLResponse:
    try:
        target = rt.consent.link_target(token)
    except NotFound:
        return _invalid()
    return _page(
        "Unsubscribe",
        "<p>Stop receiving marketing messages from this sender on "
        f"{_channel_words(target.channel)}?</p>"
        f'<form method=post action="/o/{escape(token)}">'
        "<button type=submit>Unsubscribe</button></form>",
    )


@router.post("/o/{token}")
async def confirm(token: str, request: Request, rt: Runtime = Depends(_runtime)) -> HTMLResponse:
    evidence = {
        "notice": NOTICE_VERSION,
        "ip": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent", "")[:500],
    }
    try:
        target = await run_in_threadpool(rt.consent.opt_out_by_link, token, evidence)
    except NotFound:
        return _invalid()
    return _page(
        "You are unsubscribed",
        f"<p>You will receive no more marketing messages from this sender on "
        f"{_channel_words(target.channel)}.</p>",
    )
