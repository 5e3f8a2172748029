"""The console as its own small web application, mounted by the hub at ``/console``.

It is mounted rather than routed into the API so that it keeps its own rules: HTML error
pages instead of JSON, a session cookie scoped to ``/console``, and a strict Content
Security Policy. Signing in and CSRF protection live here; the pages are in ``pages.py`` and
what they read in ``queries.py``.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from hub.console.queries import MatchQueue, NoMatchQueue
from hub.console.users import ConsoleRole, ConsoleUser
from hub.logging import log
from hub.runtime import Hub

HERE = Path(__file__).parent
STATIC = HERE / "static"
GOVUK_ASSETS = STATIC / "govuk"
SESSION_COOKIE = "hub_console"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 8 * 60 * 60

templates = Jinja2Templates(directory=str(HERE / "templates"))


class NeedsSignIn(Exception):
    """No valid session: send the browser to the sign-in page."""


class NotAllowed(Exception):
    """Signed in, but this role may not see this page."""


class BadForm(Exception):
    """A form arrived without a valid CSRF token (or from an expired session)."""


def assets_installed() -> bool:
    return (GOVUK_ASSETS / "govuk-frontend.min.css").is_file()


def session_secret(hub: Hub) -> str:
    """A key for signing console cookies, derived from the hub's keyring (never stored)."""
    return (
        HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ehh console session v1")
        .derive(hub.keyring.blind_index_key)
        .hex()
    )


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def get_session(request: Request) -> Any:
    with get_hub(request).sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
HubDep = Annotated[Hub, Depends(get_hub)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def csrf_checked(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    expected = request.session.get("csrf")
    if not expected or not hmac.compare_digest(str(expected), csrf_token):
        raise BadForm()


CsrfChecked = Annotated[None, Depends(csrf_checked)]


def start_session(request: Request, user: ConsoleUser) -> None:
    """A fresh session (new CSRF token too) so nothing from before sign-in carries over."""
    request.session.clear()
    now = int(time.time())
    request.session.update(
        {
            "uid": user.id,
            "ver": user.session_version,
            "started": now,
            "seen": now,
            "csrf": secrets.token_urlsafe(32),
        }
    )


def signed_in_user(request: Request, session: DbSession) -> ConsoleUser:
    data = request.session
    uid, started = data.get("uid"), data.get("started")
    now = int(time.time())
    if not isinstance(uid, int) or not isinstance(started, int):
        raise NeedsSignIn()
    if now - started > ABSOLUTE_SECONDS:
        data.clear()
        raise NeedsSignIn()
    user = session.get(ConsoleUser, uid)
    if user is None or not user.active or user.session_version != data.get("ver"):
        data.clear()
        raise NeedsSignIn()
    data["seen"] = now  # re-signs the cookie, so the idle timeout slides with use
    request.state.user = user
    return user


SignedIn = Annotated[ConsoleUser, Depends(signed_in_user)]


def allow(*roles: ConsoleRole) -> Callable[[ConsoleUser], ConsoleUser]:
    def check(user: SignedIn) -> ConsoleUser:
        if user.console_role not in roles:
            raise NotAllowed()
        return user

    return check


IG = Annotated[ConsoleUser, Depends(allow(ConsoleRole.IG_OFFICER))]
Practitioner = Annotated[
    ConsoleUser, Depends(allow(ConsoleRole.LEAD_PROFESSIONAL, ConsoleRole.FRONT_DOOR))
]
Administrator = Annotated[ConsoleUser, Depends(allow(ConsoleRole.ADMINISTRATOR))]
IntegrityViewer = Annotated[
    ConsoleUser, Depends(allow(ConsoleRole.IG_OFFICER, ConsoleRole.ADMINISTRATOR))
]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", getattr(request.state, "user", None))
    context["csrf_token"] = csrf_token(request)
    context["assets_installed"] = assets_installed()
    context["request"] = request
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def query_string(values: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


templates.env.globals["query_string"] = query_string
templates.env.globals["Role"] = ConsoleRole

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def create_console(hub: Hub, match_queue: MatchQueue | None = None) -> FastAPI:
    from hub.console import pages

    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state.hub = hub
    console.state.match_queue = match_queue or NoMatchQueue()
    console.include_router(pages.router)
    STATIC.mkdir(exist_ok=True)
    console.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    if not assets_installed():
        log.warning("console_assets_missing", fix="run 'hub console assets'")
    _install_handlers(console)

    @console.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/console/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    console.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(hub),
        session_cookie=SESSION_COOKIE,
        max_age=IDLE_SECONDS,
        path="/console",
        same_site="lax",
        https_only=hub.settings.public_url.startswith("https://"),
    )
    return console


def console_of(app: FastAPI) -> FastAPI:
    """The console mounted in the hub's application (tests swap its match queue)."""
    for route in app.routes:
        if getattr(route, "path", None) == "/console":
            mounted: FastAPI = route.app  # type: ignore[attr-defined]
            return mounted
    raise LookupError("the console is not mounted")


def _install_handlers(console: FastAPI) -> None:
    @console.exception_handler(NeedsSignIn)
    async def _sign_in(request: Request, _exc: NeedsSignIn) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET":
            target = "/console/"
        return RedirectResponse("/console/sign-in?" + urlencode({"next": target}), status_code=303)

    @console.exception_handler(NotAllowed)
    async def _forbidden(request: Request, _exc: NotAllowed) -> Response:
        return render(
            request,
            "error.html",
            status_code=403,
            title="You do not have permission to see this page",
            message=(
                "Your role does not give access to this page. If you need it for your work, "
                "ask your information governance lead."
            ),
        )

    @console.exception_handler(BadForm)
    async def _bad_form(request: Request, _exc: BadForm) -> Response:
        return render(
            request,
            "error.html",
            status_code=400,
            title="This form has expired",
            message="Go back, reload the page and try again. Nothing was changed.",
        )

    @console.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Page not found", 405: "This page does not accept that"}
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            title=titles.get(exc.status_code, "Something is wrong with the request"),
            message="Check the address, or go back to the start page.",
        )
