"""/v1/admin/connectors and /v1/admin/routes: the operator's connectors and routing table."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from tidings.accounts.service import Principal
from tidings.api.deps import operator, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import Strict
from tidings.core.config import ConnectorConfig, RouteConfig
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class ConnectorBody(Strict):
    type: str = Field(min_length=1, max_length=32, examples=["smpp"])
    tps: float = Field(default=1000.0, gt=0, le=1_000_000)
    window: int = Field(default=100, ge=1, le=100_000)
    options: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"host": "smsc.example.net", "port": 2775, "system_id": "acme", "password": "x"}],
    )


class NewConnector(ConnectorBody):
    name: str = Field(min_length=1, max_length=64, examples=["op1"])


class RouteBody(Strict):
    prefix: str = Field(min_length=1, max_length=16, examples=["+31"])
    connector: str = Field(min_length=1, max_length=64)
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)


def _config(name: str, body: ConnectorBody) -> ConnectorConfig:
    return ConnectorConfig(
        name=name, type=body.type, tps=body.tps, window=body.window, options=dict(body.options)
    )


@router.get("/connectors", summary="Connectors with their state (bound, binds, in flight, errors)")
async def list_connectors(
    rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> JsonResponse:
    return JsonResponse({"data": await run_in_threadpool(rt.fleet.list_connectors)})


@router.get("/connectors/{name}", summary="One connector and its state")
async def get_connector(
    name: str, rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> JsonResponse:
    return JsonResponse(await run_in_threadpool(rt.fleet.get_connector, name))


@router.post("/connectors", status_code=201, summary="Create a connector; it starts at once")
async def create_connector(
    payload: NewConnector, rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> JsonResponse:
    created = await rt.fleet.create_connector(_config(payload.name, payload))
    return JsonResponse(created, status_code=201)


@router.put("/connectors/{name}", summary="Replace a connector's settings; it rebinds")
async def update_connector(
    name: str,
    payload: ConnectorBody,
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(operator),
) -> JsonResponse:
    return JsonResponse(await rt.fleet.update_connector(_config(name, payload)))


@router.delete("/connectors/{name}", status_code=204, summary="Unbind and delete a connector")
async def delete_connector(
    name: str, rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> Response:
    await rt.fleet.delete_connector(name)
    return Response(status_code=204)


@router.get("/routes", summary="The routing table: the config file's routes and the API's")
async def list_routes(
    rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> JsonResponse:
    return JsonResponse({"data": rt.fleet.list_routes()})


@router.post("/routes", status_code=201, summary="Add a route")
async def create_route(
    payload: RouteBody, rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> JsonResponse:
    route = RouteConfig(payload.prefix, payload.connector, payload.priority)
    return JsonResponse(await rt.fleet.create_route(route), status_code=201)


@router.put("/routes/{route_id}", summary="Change a route")
async def update_route(
    route_id: str,
    payload: RouteBody,
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(operator),
) -> JsonResponse:
    route = RouteConfig(payload.prefix, payload.connector, payload.priority)
    return JsonResponse(await rt.fleet.update_route(route_id, route))


@router.delete("/routes/{route_id}", status_code=204, summary="Delete a route")
async def delete_route(
    route_id: str, rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> Response:
    await rt.fleet.delete_route(route_id)
    return Response(status_code=204)
