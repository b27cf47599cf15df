"""Organizers register their calendar themselves: ``/registrera``, ``POST /api/sources``,
``POST /api/sources/preview`` and the private status page.

A registration is stored ``pending``: it is neither harvested nor published until a
moderator approves it (``/admin`` or ``aggregator sources approve``). The organizer gets
a status link with a random token, shown once on the confirmation and sent nowhere
else; only its hash is stored.

The page works without JavaScript (one form, two buttons: "Förhandsvisa" and
"Registrera"); a little script adds the live preview. Everything a visitor typed is
rendered through Jinja2 with autoescape, and the JSON answers are built from checked,
typed values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from aggregator import clock, pipeline
from aggregator.config import Config, ConfigHolder
from aggregator.model import PAUSE_TEXT, Outcome, PauseReason
from aggregator.normalize import slugify
from aggregator.normalize.text import human_seconds, human_size
from aggregator.store import Store
from aggregator.store.registrations import (
    SWEDISH_STATUS,
    NewRegistration,
    Registration,
    RegistrationError,
    RegistrationStatus,
    Upload,
    hash_token,
    merge_registered_sources,
    new_token,
)
from aggregator.web.abuse import BodyTooLarge, Limits, client_key, read_body, replayed
from aggregator.web.context import WebContext
from aggregator.web.harvests import HARVEST_WAIT, ServiceLink
from aggregator.web.preview import (
    Preview,
    preview_event,
    preview_source,
    preview_upload,
    preview_url,
)
from aggregator.web.submission import (
    FIELDS,
    HONEYPOT,
    MAX_UPLOAD,
    Refusal,
    Submission,
    read_submission,
)

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
MAX_JSON_BODY = 64 * 1024
MAX_FORM_BODY = MAX_UPLOAD + 64 * 1024
MAX_FIELD_BYTES = 16 * 1024  # a text field of a form (files are counted by MAX_UPLOAD)
REFRESH_EVERY = timedelta(minutes=10)  # "hämta nu" at most this often per source
STATUS_EVENTS = 20
ACTION = "atgard"  # the form's submit buttons: forhandsvisa | registrera
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the status page's token must not leave in a Referer
}


@dataclass
class RegistrationSite:
    """What the registration and moderation pages share: the configuration as it is now
    (``holder``), a store per thread, the rate limits, and the harvest side (``service``:
    the running scheduler, or the app's own pool) that every harvest and publish the
    pages ask for goes through."""

    holder: ConfigHolder
    store: Callable[[], Store]
    service: ServiceLink
    limits: Limits = field(default_factory=Limits.default)
    templates: Environment = field(
        default_factory=lambda: Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True
        )
    )

    @classmethod
    def build(cls, context: WebContext) -> RegistrationSite:
        return cls(holder=context.holder, store=context.stores.get, service=context.service)

    @property
    def config(self) -> Config:
        return self.holder.current

    def render(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("calendar_name", self.config.settings.calendar_name)
        page = self.templates.get_template(name).render(**values)
        response = HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)
        response.headers["Cache-Control"] = "no-store"
        return response

    def status_url(self, token: str) -> str:
        return f"{self.config.settings.base_url}/registrera/status/{token}"

    def merged(self, store: Store) -> Config:
        """sources.yaml plus the registrations as the database has them now."""
        return merge_registered_sources(self.holder.file, store)


def api_error(message: str, field: str, status: int, **extra: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field, **extra}, status_code=status)


def too_many(retry_after: int, *, json_answer: bool) -> Response:
    message = (
        f"För många försök från er adress; vänta {human_seconds(retry_after)} och försök igen."
    )
    headers = {"Retry-After": str(retry_after)}
    if json_answer:
        return JSONResponse({"error": message, "field": ""}, status_code=429, headers=headers)
    return HTMLResponse(
        f'<!doctype html><html lang="sv"><title>För många försök</title><p>{message}</p></html>',
        status_code=429,
        headers=headers,
    )


# -- reading a request -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Posted:
    fields: dict[str, object]
    upload: Upload | None
    action: str = ""


async def read_posted(request: Request) -> Posted:
    """JSON or a form (with at most one file), read under the size caps."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            body = await read_body(request, MAX_JSON_BODY)
        except BodyTooLarge:
            raise Refusal("", "Förfrågan är för stor.", status=413) from None
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refusal("", "Förfrågan är inte giltig JSON.", status=400) from None
        if not isinstance(data, dict):
            raise Refusal("", "Förfrågan ska vara ett JSON-objekt med fälten.", status=400)
        return Posted(dict(data), None)
    if not content_type and await _empty(request):
        return Posted({}, None)  # a form with nothing ticked, sent without a body
    if content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise Refusal("", "Skicka formuläret som JSON eller som ett vanligt formulär.", status=415)
    try:
        body = await read_body(request, MAX_FORM_BODY)
    except BodyTooLarge:
        raise Refusal(
            "file",
            f"Filen är större än {human_size(MAX_UPLOAD)}; ladda ner exporten igen "
            "med bara ”Evenemang” valt, utan bilder.",
            status=413,
        ) from None
    try:
        form = await replayed(request, body).form(
            max_files=1, max_fields=len(FIELDS) + 4, max_part_size=MAX_FIELD_BYTES
        )
    except Exception as exc:  # python-multipart's and Starlette's errors share no base
        log.info("registration: unreadable form: %s", type(exc).__name__)
        raise Refusal("", "Formuläret gick inte att läsa; försök igen.", status=400) from None
    fields: dict[str, object] = {}
    upload: Upload | None = None
    action = ""
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != "file":
                raise Refusal(key, "Bara fältet ”file” kan ha en fil.", status=400)
            data = await value.read()
            if data:
                upload = Upload(value.filename or "export", data)
        elif key == ACTION:
            action = value
        elif key == "categories":
            previous = fields.get(key)
            fields[key] = f"{previous},{value}" if isinstance(previous, str) else value
        elif key in fields:
            raise Refusal(key, f"Fältet ”{key[:40]}” finns två gånger.", status=400)
        else:
            fields[key] = value
    return Posted(fields, upload, action)


async def _empty(request: Request) -> bool:
    try:
        return not await read_body(request, 0)
    except BodyTooLarge:
        return False


# -- what registering does ----------------------------------------------------------------------


def duplicate_message(submission: Submission, config: Config, store: Store) -> str | None:
    """Who already has this calendar (configured or registered), as a sentence."""
    from aggregator.normalize.source_urls import url_key

    if not submission.url_key:
        return None
    for source in config.sources:
        if source.url and url_key(source.url) == submission.url_key:
            return f"Den här kalendern finns redan hos oss, hos {source.name}."
    holder = store.registration_holding(submission.url_key)
    if holder is None:
        return None
    if holder.status is RegistrationStatus.PENDING:
        return f"Den här kalendern är redan registrerad av {holder.name} och väntar på granskning."
    return f"Den här kalendern finns redan hos oss, hos {holder.name}."


def new_registration_id(name: str, taken: set[str]) -> str:
    """A source id from the organizer's name: ``lonneberga-hembygdsforening``, then -2 …"""
    base = slugify(name)[:50].strip("-") or "arrangor"
    if not base[0].isalnum():
        base = "arrangor-" + base
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


PREVIEW_WAIT = 10.0  # seconds a preview waits for a host the harvests are using
HOST_BUSY = Preview(
    found=False,
    reason="Servern som har kalendern är upptagen med en hämtning just nu.",
    hint="Försök igen om en stund: vi skickar bara en förfrågan i taget till varje server.",
)


def run_preview(site: RegistrationSite, submission: Submission, now: datetime) -> Preview:
    """What a harvest would read. An address is fetched only when its host is ours: the
    same per-host gate as the harvests (never two requests at once to one server)."""
    source = preview_source(
        submission.url, submission.name, submission.municipality, submission.categories
    )
    if submission.upload is not None:
        return preview_upload(submission.upload, source, site.config, now)
    with site.service.host_turn(submission.url, PREVIEW_WAIT) as ours:
        if not ours:
            return HOST_BUSY
        return preview_url(submission.url, source, site.config, now)


def register(
    site: RegistrationSite, submission: Submission, preview: Preview, now: datetime
) -> tuple[Registration, str]:
    """Store a pending registration; returns it with the status token (shown once)."""
    store = site.store()
    taken = {s.id for s in site.config.sources} | store.registration_ids()
    token = new_token()
    new = NewRegistration(
        id=new_registration_id(submission.name, taken),
        name=submission.name,
        email=submission.email,
        url=submission.url,
        url_key=submission.url_key,
        kind=preview.kind,
        municipality=submission.municipality,
        categories=submission.categories,
        preview=preview.to_json(),
        token_hash=hash_token(token),
        upload=submission.upload,
    )
    registration = store.add_registration(new, now)
    log.warning("%s: registered by an organizer, pending review", registration.id)
    return registration, token


def _refusal_for_preview(submission: Submission, preview: Preview) -> Refusal:
    field_name = "file" if submission.upload is not None else "url"
    sentence = f"{preview.reason} {preview.hint}".strip()
    return Refusal(field_name, sentence)


# -- the organizer's status page -----------------------------------------------------------------


def status_values(
    site: RegistrationSite, registration: Registration, now: datetime
) -> dict[str, Any]:
    """Health in Swedish, the events we read and the linter's advice, for the template."""
    store = site.store()
    health = next((h for h in store.source_health() if h.id == registration.id), None)
    events = []
    if registration.status is RegistrationStatus.ACTIVE:
        events = [
            preview_event(e, site.config.settings, now)
            for e in store.upcoming_source_events(registration.id, now, STATUS_EVENTS)
        ]
    preview = Preview.from_json(registration.preview)
    return {
        "registration": registration,
        "status_text": SWEDISH_STATUS[registration.status],
        "health": health,
        "health_text": health_text(
            health.status if health else "never",
            health.message if health else "",
            store.pause_reasons().get(registration.id),
        ),
        "events": events,
        "preview": preview,
        "advice": list(health.warnings[:20]) if health else list(preview.warnings),
        "history": [
            (at[:16].replace("T", " "), HISTORY_TEXT.get(action, action))
            for at, action, _ in store.registration_history(registration.id)
        ],
        "can_refresh": registration.status
        in (RegistrationStatus.PENDING, RegistrationStatus.ACTIVE),
        "can_withdraw": registration.status
        in (RegistrationStatus.PENDING, RegistrationStatus.ACTIVE, RegistrationStatus.PAUSED),
        "can_replace": registration.has_upload
        and registration.status is not RegistrationStatus.WITHDRAWN
        and registration.status is not RegistrationStatus.REJECTED,
    }


HISTORY_TEXT = {
    "registered": "registrerad",
    "active": "godkänd",
    "rejected": "avvisad",
    "paused": "pausad",
    "withdrawn": "återkallad",
    "upload": "ny export uppladdad",
}
HEALTH_TEXT = {
    "never": "Vi har inte hämtat kalendern än.",
    "ok": "Senaste hämtningen gick bra.",
    "failed": "Senaste hämtningen misslyckades.",
    "held": "Vi har hållit inne ändringarna: de flesta kommande evenemangen försvann på en "
    "gång, så en moderator tittar på det innan något tas bort.",
}


def health_text(status: str, message: str, paused: PauseReason | None = None) -> str:
    """The source's health in a sentence; a pause says which kind, as /kallor does."""
    if paused is not None:
        return PAUSE_TEXT[paused] + "."
    return HEALTH_TEXT.get(status, "Okänd status.") + (f" ({message})" if message else "")


def refresh(site: RegistrationSite, registration: Registration, now: datetime) -> str:
    """ "Hämta nu": harvest an active source (or re-preview a pending one) as soon as its
    server allows. The harvest goes through the same per-host gate as every scheduled
    one (``site.service``), and a server's Retry-After is honoured, not overridden."""
    store = site.store()
    if registration.status is RegistrationStatus.ACTIVE:
        waiting = pipeline.skip_reason(
            store.schedule_state(registration.id), now, site.config.settings
        )
        if waiting:
            return f"Kalendern hämtas inte nu: {waiting}."
    if not store.claim_registration_refresh(registration.id, now, now - REFRESH_EVERY):
        minutes = int(REFRESH_EVERY.total_seconds() // 60)
        return f"Ni kan hämta högst en gång var {minutes}:e minut; försök igen om en stund."
    if registration.status is RegistrationStatus.PENDING:
        upload_data = (
            store.registration_upload(registration.id) if registration.has_upload else None
        )
        submission = Submission(
            registration.name,
            registration.email,
            registration.municipality,
            registration.categories,
            registration.url,
            registration.url_key,
            Upload(registration.upload_name, upload_data) if upload_data else None,
        )
        preview = run_preview(site, submission, now)
        store.save_registration_preview(registration.id, preview.to_json(), preview.kind, now)
        return "Förhandsvisningen är uppdaterad." if preview.found else preview.reason
    return report_text(harvest_now(site, registration))


QUEUED = (
    "Hämtningen är köad: vi skickar bara en förfrågan i taget till varje server, så den "
    "görs så snart servern har tid. Ladda om sidan om en stund för att se resultatet."
)


def report_text(report: pipeline.SourceReport | None) -> str:
    """What the organizer is told about a harvest they asked for (None: not done yet)."""
    if report is None:
        return QUEUED
    if report.outcome == Outcome.FAILED:
        return f"Hämtningen misslyckades: {report.message}"
    if report.outcome == Outcome.SKIPPED:
        return f"Kalendern hämtades inte: {report.reason}."
    if report.outcome == Outcome.UNCHANGED:
        return "Kalendern är oförändrad sedan förra hämtningen."
    if report.outcome == Outcome.HELD:
        return HEALTH_TEXT["held"]
    return f"Hämtat: {report.events} evenemang ({report.new} nya, {report.changed} ändrade)."


def harvest_now(site: RegistrationSite, registration: Registration) -> pipeline.SourceReport | None:
    """Harvest an active registration as soon as its host allows, through the harvest
    side (the running scheduler's pool, or the app's own), which then merges and
    publishes: an approval or a "Hämta nu" shows in the feeds without waiting for the
    schedule. None when it did not finish within ``HARVEST_WAIT`` (it still runs)."""
    site.service.sources_changed()  # a just-approved or edited registration is known first
    return site.service.harvest_now(registration.id, HARVEST_WAIT)


def retire_unlisted(site: RegistrationSite) -> None:
    """Take a withdrawn source's events out of the feeds now, not at the next
    harvest: its source row is retired like one removed from sources.yaml."""
    site.service.sources_changed()


# -- routes ---------------------------------------------------------------------------------------


def registration_router(site: RegistrationSite) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def form_page(status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("values", {})
        values.setdefault("error", None)
        values.setdefault("preview", None)
        return site.render(
            "registrera.html",
            status,
            municipalities=site.config.settings.municipalities,
            honeypot=HONEYPOT,
            **values,
        )

    @router.get("/registrera")
    async def registration_page() -> Response:
        return form_page()

    @router.get("/registrera/registrera.js")
    async def registration_script() -> Response:
        script = (TEMPLATES / "registrera.js").read_text(encoding="utf-8")
        return Response(
            script,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @router.post("/registrera")
    async def registration_form(request: Request) -> Response:
        now = clock.now()
        try:
            posted = await read_posted(request)
        except Refusal as refusal:
            return form_page(refusal.status, error=refusal)
        values = {k: v for k, v in posted.fields.items() if isinstance(v, str) and k != HONEYPOT}
        previewing = posted.action == "forhandsvisa"
        limiter = site.limits.preview if previewing else site.limits.register
        wait = limiter.hit(client_key(request))
        if wait is not None:
            return too_many(wait, json_answer=False)
        try:
            submission = read_submission(
                posted.fields, posted.upload, site.config.settings, preview=previewing
            )
            duplicate = duplicate_message(submission, site.config, site.store())
            if duplicate:
                raise Refusal("url" if submission.url else "file", duplicate)
            preview = await run_in_threadpool(run_preview, site, submission, now)
            if previewing:
                return form_page(values=values, preview=preview)
            if not preview.found:
                return form_page(
                    422,
                    values=values,
                    preview=preview,
                    error=_refusal_for_preview(submission, preview),
                )
            registration, token = await run_in_threadpool(register, site, submission, preview, now)
        except Refusal as refusal:
            return form_page(refusal.status, values=values, error=refusal)
        except RegistrationError as exc:
            return form_page(409, values=values, error=Refusal(exc.field or "name", exc.message))
        return site.render(
            "registrerad.html",
            201,
            registration=registration,
            status_url=site.status_url(token),
            preview=preview,
        )

    @router.post("/api/sources")
    async def api_register(request: Request) -> Response:
        now = clock.now()
        wait = site.limits.register.hit(client_key(request))
        if wait is not None:
            return too_many(wait, json_answer=True)
        try:
            posted = await read_posted(request)
            submission = read_submission(posted.fields, posted.upload, site.config.settings)
            duplicate = duplicate_message(submission, site.config, site.store())
            if duplicate:
                raise Refusal("url" if submission.url else "file", duplicate)
            preview = await run_in_threadpool(run_preview, site, submission, now)
            if not preview.found:
                refusal = _refusal_for_preview(submission, preview)
                return api_error(
                    preview.reason, refusal.field, 422, hint=preview.hint, detail=preview.detail
                )
            registration, token = await run_in_threadpool(register, site, submission, preview, now)
        except Refusal as refusal:
            return api_error(refusal.message, refusal.field, refusal.status)
        except RegistrationError as exc:
            return api_error(exc.message, exc.field or "name", 409)
        return JSONResponse(
            {
                "id": registration.id,
                "status": str(registration.status),
                "kind": preview.kind,
                "preview": [_event_json(e) for e in preview.events],
                "status_url": site.status_url(token),
                "message": "Tack! En moderator granskar kalendern innan den publiceras. "
                "Spara statuslänken: den visas bara nu.",
            },
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @router.post("/api/sources/preview")
    async def api_preview(request: Request) -> Response:
        now = clock.now()
        wait = site.limits.preview.hit(client_key(request))
        if wait is not None:
            return too_many(wait, json_answer=True)
        try:
            posted = await read_posted(request)
            submission = read_submission(
                posted.fields, posted.upload, site.config.settings, preview=True
            )
        except Refusal as refusal:
            return api_error(refusal.message, refusal.field, refusal.status)
        duplicate = duplicate_message(submission, site.config, site.store())
        preview = await run_in_threadpool(run_preview, site, submission, now)
        body = preview.to_dict()
        body["duplicate"] = duplicate or ""
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @router.get("/registrera/status/{token}")
    async def status_page(token: str, request: Request) -> Response:
        registration = _by_token(site, token)
        if registration is None:
            return _unknown_token(site)
        message = _MESSAGES.get(request.query_params.get("klart", ""), "")
        values = await run_in_threadpool(status_values, site, registration, clock.now())
        return site.render("status.html", message=message, token=token, **values)

    @router.post("/registrera/status/{token}/hamta")
    async def status_refresh(token: str, request: Request) -> Response:
        wait = site.limits.status.hit(client_key(request))
        if wait is not None:
            return too_many(wait, json_answer=False)
        registration = _by_token(site, token)
        if registration is None:
            return _unknown_token(site)
        now = clock.now()
        message = await run_in_threadpool(refresh, site, registration, now)
        values = await run_in_threadpool(status_values, site, registration, now)
        return site.render("status.html", message=message, token=token, **values)

    @router.post("/registrera/status/{token}/fil")
    async def status_replace_file(token: str, request: Request) -> Response:
        wait = site.limits.status.hit(client_key(request))
        if wait is not None:
            return too_many(wait, json_answer=False)
        registration = _by_token(site, token)
        if registration is None:
            return _unknown_token(site)
        now = clock.now()
        try:
            posted = await read_posted(request)
            if posted.upload is None:
                raise Refusal("file", "Välj exportfilen från Facebook.")
            message = await run_in_threadpool(
                replace_export, site, registration, posted.upload, now
            )
        except Refusal as refusal:
            message = refusal.message
        except RegistrationError as exc:
            message = exc.message
        fresh = site.store().registration(registration.id) or registration
        values = await run_in_threadpool(status_values, site, fresh, now)
        return site.render("status.html", message=message, token=token, **values)

    @router.post("/registrera/status/{token}/aterkalla")
    async def status_withdraw(token: str, request: Request) -> Response:
        wait = site.limits.status.hit(client_key(request))
        if wait is not None:
            return too_many(wait, json_answer=False)
        registration = _by_token(site, token)
        if registration is None:
            return _unknown_token(site)
        try:
            posted = await read_posted(request)
        except Refusal as refusal:
            return site.render(
                "status.html",
                message=refusal.message,
                token=token,
                **status_values(site, registration, clock.now()),
            )
        if posted.fields.get("bekrafta") != "ja":
            values = status_values(site, registration, clock.now())
            return site.render(
                "status.html",
                message="Kryssa i rutan för att bekräfta att kalendern ska tas bort.",
                token=token,
                **values,
            )
        now = clock.now()
        try:
            await run_in_threadpool(withdraw, site, registration, now)
        except RegistrationError as exc:
            values = status_values(site, registration, now)
            return site.render("status.html", message=exc.message, token=token, **values)
        return RedirectResponse(f"/registrera/status/{token}?klart=aterkallad", status_code=303)

    return router


_MESSAGES = {"aterkallad": "Kalendern är återkallad; dess evenemang är borttagna ur flödena."}


def replace_export(
    site: RegistrationSite, registration: Registration, upload: Upload, now: datetime
) -> str:
    """A new Facebook export for a registration that was made with one."""
    from aggregator.web.submission import check_upload

    if not registration.has_upload:
        raise Refusal("file", "Den här kalendern registrerades med en adress, inte en fil.")
    checked = check_upload(upload)
    source = preview_source(
        "", registration.name, registration.municipality, registration.categories
    )
    preview = preview_upload(checked, source, site.config, now)
    if not preview.found:
        return f"{preview.reason} {preview.hint}".strip()
    store = site.store()
    store.save_registration_preview(
        registration.id, preview.to_json(), preview.kind, now, upload=checked
    )
    fresh = store.registration(registration.id)
    if fresh is not None and fresh.status is RegistrationStatus.ACTIVE:
        harvest_now(site, fresh)  # reads the new file
    return f"Den nya exporten är inläst: {preview.upcoming} kommande evenemang."


def withdraw(site: RegistrationSite, registration: Registration, now: datetime) -> None:
    store = site.store()
    store.change_registration_status(
        registration.id, RegistrationStatus.WITHDRAWN, now, actor="arrangören"
    )
    retire_unlisted(site)


def _by_token(site: RegistrationSite, token: str) -> Registration | None:
    if not 20 <= len(token) <= 100:
        return None
    return site.store().registration_by_token(token)


def _unknown_token(site: RegistrationSite) -> HTMLResponse:
    return site.render("okand.html", 404)


def _event_json(event: Any) -> Mapping[str, object]:
    return {
        "title": event.title,
        "when": event.when,
        "start": event.start,
        "place": event.place,
        "url": event.url,
        "cancelled": event.cancelled,
    }
