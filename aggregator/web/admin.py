"""``/admin``: moderators approve registrations in one click and settle the matcher's
doubts (the review queue of ``aggregator events review``).

Off unless ``AGGREGATOR_ADMIN_TOKEN`` is set (every ``/admin`` path is then a 404). The
token is compared in constant time; a login is rate-limited per client address. The
session is a signed cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` over https, path
``/admin``) keyed by the token, so changing the token logs everybody out. Every form
carries a CSRF token derived from the session (the login form's from a cookie of its
own), and every change is a POST answered with a redirect.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from aggregator import clock
from aggregator.model import OverrideKind
from aggregator.store import Store
from aggregator.store.registrations import (
    SWEDISH_STATUS,
    Registration,
    RegistrationError,
    RegistrationStatus,
)
from aggregator.web.abuse import Signer, client_key, same_secret
from aggregator.web.preview import Preview
from aggregator.web.registration import (
    RegistrationSite,
    harvest_now,
    read_posted,
    too_many,
)
from aggregator.web.submission import (
    MAX_REASON,
    Refusal,
    check_categories,
    check_municipality,
)

log = logging.getLogger(__name__)

TOKEN_ENV = "AGGREGATOR_ADMIN_TOKEN"
SESSION_COOKIE = "admin_session"
LOGIN_COOKIE = "admin_login"
SESSION_SECONDS = 8 * 3600
DONE = {
    "godkand": "Godkänd: {id} hämtas nu och sedan varje timme.",
    "avvisad": "Avvisad: {id}.",
    "pausad": "Pausad: {id}; dess evenemang är borttagna ur flödena.",
    "aterupptagen": "Återupptagen: {id} hämtas igen.",
    "samma": "Sammanslagna: {id}.",
    "olika": "Hålls isär: {id}.",
    "utloggad": "Du är utloggad.",
}
ACTIONS = {"godkann", "avvisa", "pausa", "aterupta"}


class AdminGate:
    """The token, the signer it keys, and the cookie and CSRF checks."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.signer = Signer(token)

    def session(self, request: Request) -> str | None:
        """The session nonce of a logged-in moderator, else None."""
        return self.signer.session_nonce(request.cookies.get(SESSION_COOKIE, ""))

    def csrf(self, nonce: str) -> str:
        return self.signer.sign("csrf", nonce)

    def csrf_ok(self, nonce: str, given: object) -> bool:
        return isinstance(given, str) and self.signer.verify("csrf", nonce, given)


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/admin",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )


def admin_router(site: RegistrationSite) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    token = os.environ.get(TOKEN_ENV, "").strip()
    gate = AdminGate(token) if token else None
    if gate is not None and len(token) < 16:
        log.warning("%s is shorter than 16 characters; use a long random token", TOKEN_ENV)

    def off() -> Response:
        return site.render("okand.html", 404)

    def login_page(request: Request, status: int = 200, message: str = "") -> Response:
        assert gate is not None
        nonce = secrets.token_urlsafe(16)
        response = site.render(
            "admin_login.html", status, message=message, csrf=gate.signer.sign("login", nonce)
        )
        _cookie(response, request, LOGIN_COOKIE, nonce, 3600)
        return response

    @router.get("/admin")
    async def dashboard(request: Request) -> Response:
        if gate is None:
            return off()
        nonce = gate.session(request)
        if nonce is None:
            return login_page(request)
        done = request.query_params.get("klart", "")
        message = DONE.get(done, "").format(id=request.query_params.get("id", "")[:80])
        values = await run_in_threadpool(dashboard_values, site, site.store())
        return site.render("admin.html", message=message, csrf=gate.csrf(nonce), **values)

    @router.post("/admin/login")
    async def login(request: Request) -> Response:
        if gate is None:
            return off()
        wait = site.limits.login.hit(client_key(request))
        if wait is not None:
            return too_many(wait, json_answer=False)
        try:
            posted = await read_posted(request)
        except Refusal:
            return login_page(request, 400, "Inloggningen gick inte att läsa; försök igen.")
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        csrf = posted.fields.get("csrf")
        if not nonce or not isinstance(csrf, str) or not gate.signer.verify("login", nonce, csrf):
            return login_page(request, 400, "Formuläret hade gått ut; försök igen.")
        given = posted.fields.get("token")
        if not isinstance(given, str) or not same_secret(given, gate.token):
            log.warning("admin: failed login from %s", client_key(request))
            return login_page(request, 401, "Fel nyckel.")
        response = RedirectResponse("/admin", status_code=303)
        _cookie(
            response,
            request,
            SESSION_COOKIE,
            gate.signer.new_session(SESSION_SECONDS),
            SESSION_SECONDS,
        )
        response.delete_cookie(LOGIN_COOKIE, path="/admin")
        return response

    async def checked_form(request: Request) -> dict[str, object] | Response:
        """The posted fields of a logged-in moderator's form with a valid CSRF token."""
        assert gate is not None
        nonce = gate.session(request)
        if nonce is None:
            return login_page(request, 401, "Logga in igen.")
        try:
            posted = await read_posted(request)
        except Refusal as refusal:
            return site.render("admin_fel.html", refusal.status, message=refusal.message)
        if not gate.csrf_ok(nonce, posted.fields.get("csrf")):
            return site.render(
                "admin_fel.html",
                403,
                message="Formuläret saknar en giltig CSRF-nyckel; ladda om sidan.",
            )
        return posted.fields

    @router.post("/admin/logout")
    async def logout(request: Request) -> Response:
        if gate is None:
            return off()
        fields = await checked_form(request)
        if isinstance(fields, Response):
            return fields
        response = RedirectResponse("/admin?klart=utloggad", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/admin")
        return response

    @router.post("/admin/registreringar/{registration_id}/{action}")
    async def registration_action(request: Request, registration_id: str, action: str) -> Response:
        if gate is None or action not in ACTIONS:
            return off()
        fields = await checked_form(request)
        if isinstance(fields, Response):
            return fields
        try:
            done, shown = await run_in_threadpool(
                moderate_registration, site, registration_id, action, fields, clock.now()
            )
        except (RegistrationError, Refusal) as exc:
            return site.render("admin_fel.html", 422, message=exc.message)
        return RedirectResponse(f"/admin?klart={done}&id={shown}", status_code=303)

    @router.post("/admin/granskning/{decision}")
    async def review_action(request: Request, decision: str) -> Response:
        if gate is None or decision not in ("samma", "olika"):
            return off()
        fields = await checked_form(request)
        if isinstance(fields, Response):
            return fields
        a, b = fields.get("a"), fields.get("b")
        if not isinstance(a, str) or not isinstance(b, str):
            return site.render("admin_fel.html", 422, message="Två evenemang behövs.")
        kind = OverrideKind.MERGE if decision == "samma" else OverrideKind.APART
        message = await run_in_threadpool(moderate_pair, site, kind, a, b, clock.now())
        if message:
            return site.render("admin_fel.html", 422, message=message)
        return RedirectResponse(f"/admin?klart={decision}&id={a}+{b}", status_code=303)

    return router


def dashboard_values(site: RegistrationSite, store: Store) -> dict[str, Any]:
    pending = [
        (r, Preview.from_json(r.preview)) for r in store.registrations(RegistrationStatus.PENDING)
    ]
    approved = store.registrations(RegistrationStatus.ACTIVE, RegistrationStatus.PAUSED)
    health = {h.id: h for h in store.source_health()}
    return {
        "pending": pending,
        "approved": [(r, health.get(r.id)) for r in approved],
        "swedish_status": SWEDISH_STATUS,
        "municipalities": site.config.settings.municipalities,
        "review": store.review_pairs()[:100],
    }


def moderate_registration(
    site: RegistrationSite,
    registration_id: str,
    action: str,
    fields: dict[str, object],
    now: datetime,
) -> tuple[str, str]:
    """Approve (with edits), reject, pause or resume; returns (done code, id)."""
    store = site.store()
    if action == "godkann":
        registration = approve(site, store, registration_id, fields, now)
        harvest_now(site, registration)
        return "godkand", registration.id
    if action == "avvisa":
        reason = _field(fields, "reason", MAX_REASON)
        if not reason:
            raise Refusal("reason", "Skriv varför, så att arrangören förstår vad som ska ändras.")
        store.change_registration_status(
            registration_id, RegistrationStatus.REJECTED, now, reason=reason
        )
        return "avvisad", registration_id
    if action == "pausa":
        # its source is paused by a moderator with it: harvested no more, events hidden
        store.change_registration_status(registration_id, RegistrationStatus.PAUSED, now)
        site.service.sources_changed()
        site.service.publish_soon()
        return "pausad", registration_id
    registration = store.change_registration_status(registration_id, RegistrationStatus.ACTIVE, now)
    harvest_now(site, registration)
    return "aterupptagen", registration_id


def approve(
    site: RegistrationSite,
    store: Store,
    registration_id: str,
    fields: dict[str, object],
    now: datetime,
) -> Registration:
    settings = site.config.settings
    new_id = _field(fields, "id", 63) or None
    municipality = _field(fields, "municipality", 60)
    priority_text = _field(fields, "priority", 3)
    if priority_text and not priority_text.isdigit():
        raise Refusal("priority", "Prioriteten ska vara ett heltal 0–100.")
    return store.approve_registration(
        registration_id,
        now,
        new_id=new_id,
        municipality=check_municipality(municipality, settings) if municipality else None,
        categories=check_categories(fields.get("categories", ""))
        if "categories" in fields
        else None,
        priority=int(priority_text) if priority_text else None,
        taken_ids=[s.id for s in site.holder.file.sources],  # sources.yaml's ids
    )


def _field(fields: dict[str, object], key: str, limit: int) -> str:
    value = fields.get(key, "")
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    if len(text) > limit:
        raise Refusal(key, f"Fältet {key} får vara högst {limit} tecken.")
    return text


def moderate_pair(site: RegistrationSite, kind: OverrideKind, a: str, b: str, now: datetime) -> str:
    """A moderator's "same event" (merge) or "never merge" (apart) for two published
    events, stored as overrides between their source events as ``events merge/apart`` does;
    returns "" or why it could not be done."""
    store = site.store()
    if a == b:
        return "Det är samma evenemang två gånger."
    members = {event_id: store.active_members_of(event_id) for event_id in (a, b)}
    missing = [event_id for event_id, found in members.items() if not found]
    if missing:
        return f"Inget publicerat evenemang med id {', '.join(missing)}."
    refs = {event_id: [m.ref for m in found] for event_id, found in members.items()}
    if kind is OverrideKind.MERGE:
        shared = {s for s, _ in refs[a]} & {s for s, _ in refs[b]}
        if shared:
            return (
                f"Båda kommer från {', '.join(sorted(shared))}; två evenemang från samma "
                "källa slås aldrig ihop."
            )
        pairs = [(refs[a][0], refs[b][0])]
    else:
        pairs = list(itertools.product(refs[a], refs[b]))
    store.add_overrides(kind, pairs, now)
    store.mark_days_dirty({m.start_utc[:10] for found in members.values() for m in found})
    site.service.publish_soon()  # the scheduler's publish (or the app's own), never a second one
    return ""
