"""The sandbox's HTTP face: routes and thin request parsing over a ``SandboxBackend``.

The backend decides; this layer only decodes the request, runs the backend off the event
loop, and does the injected hangs with ``asyncio.sleep`` so that a held request never
blocks the others.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import errors
from .backend import SandboxBackend
from .errors import PROBLEM_MEDIA_TYPE, SandboxError
from .validation import parse_bool_param


def basic_credentials(request: Request) -> tuple[str | None, str | None]:
    """(username, password) from an ``Authorization: Basic`` header, (None, None) when unusable."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else (None, None)


async def json_body(request: Request) -> Any:
    """The decoded JSON body, or a 400 problem that says why it is not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except UnicodeDecodeError as e:
        raise errors.invalid_json(f"not UTF-8: {e.reason}") from e
    except json.JSONDecodeError as e:
        raise errors.invalid_json(f"{e.msg} at line {e.lineno}, column {e.colno}") from e


def problem_response(error: SandboxError) -> JSONResponse:
    """The error as an ``application/problem+json`` response with its headers."""
    return JSONResponse(error.problem(), status_code=error.status, headers=error.headers,
                        media_type=PROBLEM_MEDIA_TYPE)


def create_app(backend: SandboxBackend, *, on_error: Callable[[BaseException], None] | None = None) -> Starlette:
    """The sandbox gateway as an ASGI app; ``on_error`` hears of every unexpected exception (a 500)."""

    async def run(endpoint: str, work: Callable[[], dict[str, Any]]) -> JSONResponse:
        with backend.admit(endpoint) as admission:
            if admission.hang_before:
                await asyncio.sleep(admission.hang_before)
            answer = await run_in_threadpool(work)
            if admission.hang_after:
                await asyncio.sleep(admission.hang_after)
        return JSONResponse(answer)

    async def smses(request: Request) -> Response:
        username, password = basic_credentials(request)
        backend.authenticate(username, password)  # 401 before a 400 for the body
        body = await json_body(request)
        return await run("smses", lambda: backend.send(username, password, body))

    async def simple_api(request: Request) -> Response:
        body = await json_body(request)
        return await run("simpleapi", lambda: backend.simple_send(body))

    async def delivery_reports(request: Request) -> Response:
        username, password = basic_credentials(request)
        backend.authenticate(username, password)
        params = request.query_params
        message_ids = params.getlist("MessageIds") if "MessageIds" in params else None
        mark_as_read = parse_bool_param("MarkAsRead", params.get("MarkAsRead"))
        return await run("reports", lambda: backend.delivery_reports(username, password, message_ids, mark_as_read))

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def sandbox_error(request: Request, exc: SandboxError) -> Response:
        return problem_response(exc)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        error = errors.http_error(exc.status_code, exc.detail, request.method, request.url.path)
        error.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return problem_response(error)

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        if on_error is not None:
            on_error(exc)
        return problem_response(errors.internal_error(exc))

    return Starlette(
        routes=[
            Route("/Smses", smses, methods=["POST"]),
            Route("/DeliveryReports", delivery_reports, methods=["GET"]),
            Route("/SimpleApi", simple_api, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        exception_handlers={SandboxError: sandbox_error, HTTPException: http_error, Exception: unexpected_error},
    )
