"""The admin API (``--admin``): clock control, fault and frame injection, scenarios and the request journal, under
``/admin``.

Off by default: it can pause the market or close connections. Without ``--admin-token`` it answers this machine
only (``admin_access.py`` says who may call it and why). JSON in and out; errors are ``{"error": "..."}`` with 400
(401, 403 or 415 from the gate). ``server/testing/admin_client.py`` is its Python client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from coinapi_emulator.server.control.faults import FaultError, parse_fault
from coinapi_emulator.server.control.injection import InjectionError, parse_injection
from coinapi_emulator.server.control.scenario import ScenarioError, load_scenario, parse_duration_ns
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.admin_access import AdminAccess
from coinapi_emulator.server.http.responses import JsonResponse, error_response
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import format_time
from coinapi_emulator.simulator.clock import MAX_SPEED, check_speed

#: the media types a request body may have: never one a browser sends cross-site without a preflight
JSON_BODY = ("application/json",)
TOML_BODY = ("application/toml",)
#: the longest one step request may take, in virtual time
MAX_STEP_NS = 86_400 * 1_000_000_000
DATA_TYPE_VALUES = tuple(data_type.value for data_type in DataType)


class _BadRequest(Exception):
    pass


class _NotFound(Exception):
    pass


class _Unavailable(Exception):
    pass


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _BadRequest("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise _BadRequest("the body must be a JSON object")
    return value


def _speed(value: object) -> float | None:
    if value == "max":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadRequest("'speed' must be a positive number or \"max\"")
    try:
        return check_speed(float(value))
    except ValueError:
        raise _BadRequest(f"'speed' must be a positive number at most {MAX_SPEED:.0f}, or \"max\"") from None


def admin_routes(emulator: Emulator, access: AdminAccess) -> list[BaseRoute]:
    """Routes of the admin API for ``emulator``, behind ``access``."""

    def endpoint(
        action: Callable[[Request], Awaitable[Any]], body_types: Collection[str] = JSON_BODY
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            refusal = access.refusal(request, body_types)
            if refusal is not None:
                return refusal
            try:
                result = await action(request)
            except (_BadRequest, FaultError, InjectionError, ScenarioError, ValueError) as error:
                return error_response(400, str(error))
            except _NotFound as error:
                return error_response(404, str(error))
            except _Unavailable as error:
                return error_response(503, str(error))
            return JsonResponse(result)

        return handle

    async def upstream_control(action: str, value: float = 0.0) -> None:
        upstream = emulator.shared.upstream
        assert upstream is not None
        try:
            await upstream.control(action, value)
        except TimeoutError as error:
            raise _Unavailable(str(error)) from error

    async def status(request: Request) -> Any:
        return emulator.status()

    async def pause(request: Request) -> Any:
        if emulator.shared.upstream is not None:
            await upstream_control("pause")
        else:
            emulator.shared.pause()
        return emulator.status()

    async def resume(request: Request) -> Any:
        if emulator.shared.upstream is not None:
            await upstream_control("resume")
        else:
            emulator.shared.resume()
        return emulator.status()

    async def step(request: Request) -> Any:
        body = await _json_body(request)
        duration_ns = parse_duration_ns(body.get("seconds", 1), "'seconds'", at_most_ns=MAX_STEP_NS)
        if emulator.shared.upstream is not None:
            await upstream_control("step", duration_ns)
        else:
            await emulator.shared.step_in_chunks(duration_ns)
        return emulator.status()

    async def speed(request: Request) -> Any:
        speed = _speed((await _json_body(request)).get("speed"))
        if emulator.shared.upstream is not None:
            await upstream_control("speed", 0.0 if speed is None else speed)
        else:
            emulator.shared.set_speed(speed)
        return emulator.status()

    async def faults(request: Request) -> Any:
        fault = parse_fault(await _json_body(request))
        return {"fault": fault.kind, "connections": emulator.apply_fault(fault)}

    async def scenario(request: Request) -> Any:
        text = (await request.body()).decode("utf-8", errors="replace")
        upstream = emulator.shared.upstream
        if upstream is None:
            loaded = emulator.load_scenario(text, source="admin request")
            return {"name": loaded.name, "steps": len(loaded.steps)}
        loaded = load_scenario(text, emulator.catalog, source="admin request")
        if loaded.has_faults:
            raise _BadRequest(
                "transport faults act on one process's connections: on a gateway, POST them to its /admin/faults; "
                "a scenario loaded here may hold market events only"
            )
        try:
            start_ns = await upstream.load_scenario(text, "admin request on a gateway")
        except TimeoutError as error:
            raise _Unavailable(str(error)) from error
        return {"name": loaded.name, "steps": len(loaded.steps), "start_time": format_time(start_ns)}

    async def journals(request: Request) -> Any:
        data_type, symbol_id = request.query_params.get("data_type"), request.query_params.get("symbol_id")
        if data_type is None and symbol_id is not None:
            raise _BadRequest("symbol_id selects within a data_type: give data_type=... with it")
        if data_type is not None and data_type not in DATA_TYPE_VALUES:
            raise _BadRequest(f"unknown data_type {data_type[:32]!r}: one of {', '.join(DATA_TYPE_VALUES)}")
        found = emulator.journals(data_type=data_type, symbol_id=symbol_id)
        return {"connections": [journal.as_json() for journal in found]}

    async def journal(request: Request) -> Any:
        connection_id = request.path_params["connection_id"]
        found = emulator.journal.get(connection_id)
        if found is None:
            raise _NotFound(f"no journal of connection {connection_id}: unknown, or closed long ago")
        return found.as_json()

    async def inject(request: Request) -> Any:
        return {"connections": emulator.inject(parse_injection(await _json_body(request)))}

    return [
        Route("/admin/status", endpoint(status)),
        Route("/admin/journal", endpoint(journals)),
        Route("/admin/journal/{connection_id:int}", endpoint(journal)),
        Route("/admin/inject", endpoint(inject), methods=["POST"]),
        Route("/admin/clock/pause", endpoint(pause), methods=["POST"]),
        Route("/admin/clock/resume", endpoint(resume), methods=["POST"]),
        Route("/admin/clock/step", endpoint(step), methods=["POST"]),
        Route("/admin/clock/speed", endpoint(speed), methods=["POST"]),
        Route("/admin/faults", endpoint(faults), methods=["POST"]),
        Route("/admin/scenario", endpoint(scenario, TOML_BODY), methods=["POST"]),
    ]
