"""The one ASGI application: feeds, JSON API, public pages (and registration, admin).

FastAPI for the OpenAPI document at ``/openapi.json``; uvicorn serves it (``server.py``).
Every error is an answer with a sentence, never a stack trace: JSON
``{"error", "field"}`` under ``/api/`` and ``/feeds/``, a Swedish page elsewhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from aggregator.config import Config, ConfigHolder
from aggregator.web import admin, api, pages, registration
from aggregator.web.context import WebContext
from aggregator.web.errors import ApiError
from aggregator.web.feeds import FeedFiles
from aggregator.web.front import CORS_HEADERS, FrontDoor, RouteMethods
from aggregator.web.harvests import LocalHarvests, ServiceLink
from aggregator.web.validation import swedish_reason

log = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/api/", "/feeds/", "/openapi.json")


def create_app(config: Config | ConfigHolder, service: ServiceLink | None = None) -> FastAPI:
    """The application for ``config``; uvicorn runs it as is. Given a ``ConfigHolder``
    (``aggregator run``), every request reads the configuration the holder has now;
    ``service`` is the running scheduler, which harvests and publishes for the app."""
    context = WebContext.build(config, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if isinstance(context.service, LocalHarvests):
            context.service.start()  # no scheduler: the app follows the registrations itself
        yield
        context.stores.close_all()
        if isinstance(context.service, LocalHarvests):
            context.service.close()

    app = FastAPI(
        title=f"{context.config.settings.calendar_name} API",
        version="1",
        description=(
            "Events of the regional calendar: listings with filters and cursors, "
            "one event, incremental changes, filtered feeds, municipalities, "
            "categories and source health. Times are ISO 8601 with offset; "
            "Europe/Stockholm unless said otherwise."
        ),
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI loads scripts from a CDN; the document is enough
        redoc_url=None,
        lifespan=lifespan,
        # no OpenTelemetry here; its per-request checks cost a third of a 304
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.web = context
    app.include_router(api.router)
    app.include_router(pages.router)
    site = registration.RegistrationSite.build(context)
    app.include_router(registration.registration_router(site))
    app.include_router(admin.admin_router(site))
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(
        FrontDoor, feeds=FeedFiles(context.feeds_dir), methods=RouteMethods(app.router.routes)
    )
    return app


_PRIVATE_SEGMENT_RE = re.compile(r"(/registrera/status/)[^/?#]+")


def loggable_path(path: str) -> str:
    """A request path fit for the log: an organizer's status token is a password."""
    return _PRIVATE_SEGMENT_RE.sub(r"\1[token]", path)


def _is_machine(request: Request) -> bool:
    return request.url.path.startswith(MACHINE_PREFIXES)


def _error(request: Request, status: int, message: str, field: str | None) -> Response:
    if _is_machine(request):
        return JSONResponse({"error": message, "field": field}, status_code=status)
    return pages.message_response(request, status, message)


async def _api_error(request: Request, exc: ApiError) -> Response:
    return _error(request, exc.status, exc.message, exc.field)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ())]
    field = location[-1] if location else None
    if location and location[-1].isdigit() and len(location) > 1:
        field = location[-2]  # a repeated parameter: name it, not its position
    reason = swedish_reason(first)
    message = f"{field} {reason}." if field else f"Frågan {reason}."
    return _error(request, 422, message, field)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    messages = {
        404: "Sidan finns inte.",
        405: "Den metoden går inte här.",
    }
    message = messages.get(exc.status_code, str(exc.detail))
    response = _error(request, exc.status_code, message, None)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Outside the middleware: add the CORS headers ourselves; log the trace, send none."""
    log.exception("error answering %s %s", request.method, loggable_path(request.url.path))
    if _is_machine(request):
        response: Response = JSONResponse(
            {"error": "Ett internt fel; försök igen om en stund.", "field": None}, status_code=500
        )
    else:
        response = HTMLResponse(pages.error_page(), status_code=500)
    for name, value in CORS_HEADERS:
        response.headers[name.decode()] = value.decode()
    return response
