"""The web app of news-monitor: one route table, one access middleware.

    make_app(settings_now, store, monitor=None) -> aiohttp.web.Application

Routes are declared in ``ROUTES`` with who may use them; the middleware refuses
everything else before a handler runs. Pages render Jinja2 templates, the API
returns JSON; both call the same store methods (``monitor.store.views``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.redact import register_secrets
from monitor.store.repo import Store
from monitor.store.views import CursorError
from monitor.web import api, openapi, pages, probes, render
from monitor.web.auth import PRINCIPAL, Access, Handler, allowed, authenticate, csrf_ok
from monitor.web.metrics import CONTENT_TYPE, Metrics
from monitor.web.pace import Pacer, PollingCheck
from monitor.web.problems import ProblemError, problem_response
from monitor.web.state import PG_WEB_SESSIONS, STATE, WebState
from monitor.websub.listener import callback_address
from monitor.websub.listener import routes as callback_routes

if TYPE_CHECKING:
    from monitor.config.models import HttpSettings
    from monitor.service import Monitor
    from monitor.websub.subscriber import WebSubscriber

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
API = "/api/v1"


async def metrics_handler(request: web.Request) -> web.Response:
    body = await request.app[STATE].run(request.app[STATE].metrics.render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


#: (method, path, handler, access). ``metrics`` access depends on the config.
ROUTES: list[tuple[str, str, Handler, Access]] = [
    ("GET", "/livez", probes.livez, "public"),
    ("GET", "/readyz", probes.readyz, "public"),
    ("GET", "/login", pages.login_page, "public"),
    ("POST", "/login", pages.login, "public"),
    ("POST", "/logout", pages.logout, "read"),
    ("GET", "/", pages.overview, "read"),
    ("GET", "/events", pages.events, "read"),
    ("GET", "/matches", pages.matches, "read"),
    ("GET", "/matches/export", pages.export_matches, "read"),
    ("GET", "/matches/{id}", pages.match_detail, "read"),
    ("GET", "/rules", pages.rules, "read"),
    ("GET", "/rules/try", pages.try_rule, "read"),
    ("POST", "/rules/apply", pages.apply_rules, "admin"),
    ("GET", "/stories", pages.stories, "read"),
    ("GET", "/stories/{id}", pages.story_detail, "read"),
    ("GET", "/feeds", pages.feeds, "read"),
    ("POST", "/feeds/enable", pages.enable_feed, "admin"),
    ("POST", "/feeds/poll", pages.poll_feed, "admin"),
    ("POST", "/feeds/poll-failing", pages.poll_failing, "admin"),
    ("GET", "/alerts", pages.alerts, "read"),
    ("POST", "/alerts/{id}/retry", pages.retry_alert, "admin"),
    ("POST", "/alerts/retry-dead", pages.retry_dead, "admin"),
    ("POST", "/alerts/retry", pages.retry_selected, "admin"),
    ("GET", "/static/{name}", pages.static, "public"),
    ("GET", f"{API}/openapi.json", openapi.document, "read"),
    ("GET", f"{API}/matches", api.matches, "read"),
    ("GET", f"{API}/matches/{{id}}", api.match, "read"),
    ("GET", f"{API}/articles", api.articles, "read"),
    ("GET", f"{API}/feeds", api.feeds, "read"),
    ("POST", f"{API}/feeds/enable", api.enable_feed, "admin"),
    ("POST", f"{API}/feeds/poll", api.poll_feed, "admin"),
    ("POST", f"{API}/feeds/poll-failing", api.poll_failing, "admin"),
    ("GET", f"{API}/stories", api.stories, "read"),
    ("GET", f"{API}/stories/{{id}}", api.story, "read"),
    ("GET", f"{API}/rules", api.rules, "read"),
    ("POST", f"{API}/rules/apply", api.apply, "admin"),
    ("POST", f"{API}/test-rule", api.test_rule, "read"),
    ("GET", f"{API}/alerts", api.alerts, "read"),
    ("POST", f"{API}/alerts/{{id}}/retry", api.retry_alert, "admin"),
    ("POST", f"{API}/alerts/retry-dead", api.retry_dead, "admin"),
    ("POST", f"{API}/alerts/retry", api.retry_alerts, "admin"),
]
#: Routes anyone may use: the probes, the login form and the static files.
PUBLIC_PATHS = frozenset({"/livez", "/readyz", "/login", "/static/{name}"})
#: Routes that never wait for the web's turn while the daemon polls: the live stream
#: (it would hold the turn for as long as a browser keeps the page open) and the
#: scraper's metrics. Public routes (probes, login, static files) never wait either.
UNPACED_PATHS = frozenset({"/events", "/metrics"})


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path == "/metrics"


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse what the route's access does not allow; turn errors into problems."""
    state = request.app[STATE]
    if request.match_info.http_exception is not None:  # no such route (or method): 404/405
        raise request.match_info.http_exception
    access = state.access.get(request.match_info.route, "admin")
    book = state.tokens()
    principal = authenticate(request, book)
    if not allowed(access, principal):
        if principal is None:
            if not _is_api(request) and request.method == "GET":
                raise web.HTTPSeeOther("/login")
            return problem_response(401, "Unauthorized", "send Authorization: Bearer TOKEN",
                                    headers={"WWW-Authenticate": "Bearer"})
        return problem_response(403, "Forbidden", f"token '{principal.name}' has role "
                                f"'{principal.role}'; this needs 'admin'")
    if principal is not None:
        if not await csrf_ok(request, book, principal):
            return problem_response(403, "Forbidden", "missing or wrong CSRF token")
        request[PRINCIPAL] = principal
    try:
        if state.pacer is not None and request.match_info.route in state.paced:
            async with state.pacer.turn():
                return await handler(request)
        return await handler(request)
    except ProblemError as e:
        return problem_response(e.status, e.title, e.detail, **e.extra)
    except CursorError as e:
        return problem_response(400, "Bad Request", str(e), parameter="cursor")
    except MonitorError as e:  # the store failed: say so, without internals
        log.error("web.request_failed path=%s error=%s", request.path, e)
        return problem_response(503, "Service Unavailable", "the database could not be used")


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every response (scripts only from this origin)."""
    try:
        response = await handler(request)
    except web.HTTPException as e:  # redirects and 404s get the headers too
        _secure(e)
        raise
    _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    if response.prepared:  # a stream (SSE) sent its headers already
        return
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def make_app(settings_now: Callable[[], Settings], store: Store, *,
             monitor: Monitor | None = None,
             clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> web.Application:
    """The web app over ``store``; ``settings_now`` gives the settings in force."""
    settings = settings_now()
    http = settings.http
    register_secrets(t.token for t in (http.tokens.values() if http else ()))
    metrics = Metrics(store, settings_now, clock)
    state = WebState(store=store, settings_now=settings_now, clock=clock,
                     started_at=clock(), metrics=metrics, monitor=monitor)
    if store.backend == "postgresql":
        state.sessions = PG_WEB_SESSIONS
    if monitor is not None:
        monitor.observer = metrics
    app = web.Application(middlewares=[headers, guard], client_max_size=256_000)
    app[STATE] = state

    async def closing(_app: web.Application) -> None:
        state.closing.set()

    async def cleanup(_app: web.Application) -> None:
        state.executor.shutdown(wait=False, cancel_futures=True)

    app.on_shutdown.append(closing)
    app.on_cleanup.append(cleanup)
    app[render.TEMPLATES] = render.environment()
    metrics_access: Access = "public" if http and http.public_metrics else "read"
    for method, path, handler, access in [*ROUTES,
                                          ("GET", "/metrics", metrics_handler, metrics_access)]:
        route = app.router.add_route(method, path, handler)
        state.access[route] = access
        if access != "public" and path not in UNPACED_PATHS:
            state.paced.add(route)
    state.pacer = _pacer(state, monitor)
    metrics.watch_pacer(state.pacer)
    if monitor is not None and monitor.websub is not None:
        _mount_websub(app, state, monitor.websub, http)
    return app


def _pacer(state: WebState, monitor: Monitor | None) -> Pacer:
    """Under ``run`` the daemon says when it polls, and the web's CPU is its store
    calls'; under ``serve`` the feed leases in the database say when any process
    polls, and the whole process is the web's. On PostgreSQL the database's work for
    the web (the time its calls waited on the backend) counts too."""
    pg = state.store.backend == "postgresql"

    def budget() -> float | None:
        http = state.settings.http
        return http.cpu_while_polling if http is not None else None

    if monitor is not None:
        async def daemon_polls() -> bool:
            return monitor.polling_since is not None

        return Pacer(budget, daemon_polls,
                     lambda: state.store_cpu_s + (state.store_wait_s if pg else 0.0))
    check = PollingCheck(lambda: state.run(state.store.polling_now, state.clock()))
    return Pacer(budget, check,
                 lambda: time.process_time() + (state.store_wait_s if pg else 0.0))


def _mount_websub(app: web.Application, state: WebState, subscriber: WebSubscriber,
                  http: HttpSettings | None) -> None:
    """The WebSub callbacks on this listener (``run``, unless ``websub.listen`` names
    another address), as public routes: hubs carry no token; the unguessable path and
    the signature guard them. ``serve`` never mounts them: it cannot ingest a push."""
    if callback_address(subscriber.settings, http) is None:
        for callback in callback_routes(subscriber):
            route = app.router.add_route(callback.method, callback.path, callback.handler)
            state.access[route] = "public"
