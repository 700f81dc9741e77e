"""Who may do what, proved by walking the app's own route table (STYLE.md 19).

Every request goes through a real listening server on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from websites import ADMIN, FEED_KEY, HOOK_SECRET, READ, Site, login

from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.web.app import PUBLIC_PATHS
from monitor.web.auth import Principal, TokenBook
from monitor.websub.listener import CALLBACK_PATH
from monitor.websub.signature import sign


@pytest.fixture
def site(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    with Site(db_url, tmp_path) as s:
        yield s


def _routes(site: Site) -> list[tuple[str, str]]:
    """(method, concrete path) of every route the app serves."""
    found = []
    for route in site.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        assert path, f"route without a path: {route!r}"
        found.append((route.method, path))
    return found


def _concrete(path: str) -> str:
    return path.replace("{id}", "1").replace("{name}", "style.css")


def test_every_route_refuses_the_anonymous_except_probes_and_login(site: Site) -> None:
    assert CALLBACK_PATH not in {p for _, p in _routes(site)}  # no `websub:`, no callbacks
    _only_public_paths_open_to_the_anonymous(site)


def _only_public_paths_open_to_the_anonymous(site: Site) -> None:
    routes = [(m, p) for m, p in _routes(site) if p != CALLBACK_PATH]
    assert len(routes) >= 30  # the table is really walked (pages, API, metrics)
    opened = []
    for method, path in routes:
        status, headers, _ = site.call(method, _concrete(path))
        if path in PUBLIC_PATHS:
            opened.append(path)
            assert status in (200, 401), (method, path, status)  # 401: login form error
            continue
        if method == "GET" and not path.startswith("/api/") and path != "/metrics":
            assert (status, headers["Location"]) == (303, "/login"), (method, path, status)
        else:
            assert status == 401, (method, path, status)
            assert headers["WWW-Authenticate"] == "Bearer"
            assert headers["Content-Type"].startswith("application/problem+json")
    assert {"/livez", "/readyz", "/login"} <= set(opened)


def test_the_websub_callbacks_are_public_and_check_their_own_token(db_url: str,
                                                                  tmp_path: Path) -> None:
    # `run` with `http:` and `websub:` mounts the hub callbacks on this app: hubs send no
    # API token, so the routes are public; the path's token and the signature guard them.
    with Site(db_url, tmp_path, websub=True) as site:
        callbacks = [(m, p) for m, p in _routes(site) if p.startswith("/websub/")]
        assert sorted(callbacks) == [("GET", CALLBACK_PATH), ("POST", CALLBACK_PATH)]
        _only_public_paths_open_to_the_anonymous(site)  # nothing else opened
        store = site.monitor.store
        topic = site.feeds.url("/world.xml")
        store.note_hub(1, "http://127.0.0.1:9/", topic, secret=HOOK_SECRET * 2, token="t" * 22)
        store.update_subscription(1, state="subscribing")
        query = urlencode({"hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "c7"})
        for path, answer in [("/websub/1/" + "x" * 22, (404, "unknown subscription")),
                             ("/websub/one/" + "t" * 22, (404, "")),
                             ("/websub/1/" + "t" * 22, (200, "c7"))]:
            status, _, body = site.call("GET", f"{path}?{query}")
            assert (status, body) == answer, path
        assert store.subscription(1).state == "active"  # type: ignore[union-attr]
        status, _, _ = site.call("POST", "/websub/1/" + "x" * 22, headers={
            "X-Hub-Signature": sign(HOOK_SECRET * 2, b"<rss/>")})
        assert status == 410  # unknown: the hub drops it


def test_every_route_that_changes_something_refuses_a_read_token(site: Site) -> None:
    writes = [(m, p) for m, p in _routes(site) if m not in ("GET", "HEAD")]
    # Logging in/out changes only the caller's own cookie; test-rule only reads.
    checked = [(m, p) for m, p in writes
               if p not in ("/login", "/logout", "/api/v1/test-rule")]
    assert len(checked) >= 8
    for method, path in checked:
        status, _, body = site.call(method, _concrete(path), token=READ, json_body={})
        assert status == 403, (method, path, status, body)
        assert "'viewer' has role 'read'" in body
    # ...and the admin token passes the same gate (the handler itself answers).
    for method, path in checked:
        status, _, _ = site.call(method, _concrete(path), token=ADMIN, json_body={})
        assert status not in (401, 403), (method, path, status)


def test_a_read_token_reads_everything_and_changes_nothing(site: Site) -> None:
    dead = site.make_dead_alert()
    for method, path in _routes(site):
        if method == "GET" and path not in PUBLIC_PATHS and path != "/events":
            status, _, _ = site.call(method, _concrete(path), token=READ)
            assert status in (200, 404), (path, status)  # 404: no match/alert 1 maybe
    status, _, _ = site.call("POST", f"/api/v1/alerts/{dead}/retry", token=READ)
    assert status == 403
    assert site.monitor.store.list_alerts(status="dead")[0].id == dead


def test_wrong_or_missing_tokens_are_refused(site: Site) -> None:
    for header in ("Bearer nope", f"Bearer {READ}x", f"Basic {READ}", "Bearer ", READ):
        status, _, _ = site.call("GET", "/api/v1/matches", headers={"Authorization": header})
        assert status == 401, header


def test_login_sets_a_strict_httponly_cookie_and_pages_need_csrf_to_act(site: Site) -> None:
    status, headers, body = site.call("GET", "/login")
    login_cookie = headers["Set-Cookie"].split(";")[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)  # type: ignore[union-attr]
    # A forged form (no login cookie, i.e. another site posting) is refused.
    status, headers, _ = site.call("POST", "/login", form={"csrf": csrf, "token": ADMIN})
    assert status == 401 and "nm_session" not in str(headers.get_all("Set-Cookie"))
    status, _, body = site.call("POST", "/login", form={"csrf": csrf, "token": "wrong" * 4},
                                cookie=login_cookie)
    assert status == 401 and "Unknown token" in body
    status, headers, _ = site.call("POST", "/login", form={"csrf": csrf, "token": ADMIN},
                                   cookie=login_cookie)
    assert status == 303
    session = next(c for c in headers.get_all("Set-Cookie") if c.startswith("nm_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
    assert ADMIN not in session  # the cookie carries a signature, not the token
    cookie, page_csrf = login(site, ADMIN)
    dead = site.make_dead_alert()
    status, _, _ = site.call("POST", f"/alerts/{dead}/retry", cookie=cookie, form={})
    assert status == 403  # no CSRF token
    status, _, _ = site.call("POST", f"/alerts/{dead}/retry", cookie=cookie,
                             form={"csrf": "0" * 64})
    assert status == 403  # a wrong one
    assert site.monitor.store.list_alerts(status="dead")
    status, headers, _ = site.call("POST", f"/alerts/{dead}/retry", cookie=cookie,
                                   form={"csrf": page_csrf})
    assert (status, headers["Location"]) == (303, "/alerts")
    assert not site.monitor.store.list_alerts(status="dead")
    status, headers, _ = site.call("POST", "/logout", cookie=cookie, form={"csrf": page_csrf})
    assert status == 303 and 'nm_session=""' in headers["Set-Cookie"]


def test_a_read_session_sees_no_admin_buttons_and_cannot_act(site: Site) -> None:
    site.make_dead_alert()
    cookie, csrf = login(site, READ)
    _, _, page = site.call("GET", "/alerts", cookie=cookie)
    assert "dead" in page and "Retry" not in page
    status, _, _ = site.call("POST", "/alerts/retry-dead", cookie=cookie, form={"csrf": csrf})
    assert status == 403
    assert site.monitor.store.list_alerts(status="dead")


def test_no_secret_appears_in_any_response(site: Site) -> None:
    site.make_dead_alert(f"json://user:{HOOK_SECRET}@127.0.0.1:9/hook refused the message")
    cookie, _ = login(site, ADMIN)
    for method, path in _routes(site):
        if method != "GET" or path == "/events":
            continue
        for kwargs in ({"token": ADMIN}, {"cookie": cookie}):
            _, headers, body = site.call(method, _concrete(path), **kwargs)  # type: ignore[arg-type]
            for secret in (ADMIN, READ, HOOK_SECRET, FEED_KEY):
                assert secret not in body and secret not in str(headers), (path, secret)


def test_sessions_are_signed_expire_and_end_when_the_token_rotates() -> None:
    from monitor.config.models import TokenSettings

    book = TokenBook({"ops": TokenSettings(token=ADMIN, role="admin")})
    me = book.check(ADMIN)
    assert me == Principal("ops", "admin", "bearer")
    value = book.session_for(me, now_s=1000)
    assert book.from_session(value, now_s=1001) is not None
    assert book.from_session(value, now_s=1000 + 13 * 3600) is None  # expired
    name, expiry, sig = value.split(".")
    assert book.from_session(f"{name}.{int(expiry) + 999}.{sig}", now_s=1001) is None
    assert book.from_session(f"{name}.{expiry}.{'0' * 64}", now_s=1001) is None
    rotated = TokenBook({"ops": TokenSettings(token=ADMIN + "-new", role="admin")})
    assert rotated.from_session(value, now_s=1001) is None
    assert book.check(ADMIN[:-1]) is None and book.check("") is None


@pytest.mark.parametrize(("listen", "tokens", "refused"), [
    ("0.0.0.0:8080", False, True),        # every interface, nobody can log in: refused
    ("192.168.1.5:80", False, True),      # a LAN address without tokens
    ("[::]:8080", False, True),
    ("0.0.0.0:8080", True, False),        # tokens configured: fine
    ("127.0.0.1:8080", False, False),     # loopback without tokens: only probes work
    ("localhost:9000", False, False),
    ("[::1]:8080", False, False),
])
def test_listening_off_loopback_without_tokens_is_refused(
        tmp_path: Path, listen: str, tokens: bool, refused: bool) -> None:
    block = '\n  tokens: {ops: {token: "${T}", role: admin}}' if tokens else ""
    path = tmp_path / "c.yaml"
    path.write_text(f"http:\n  listen: \"{listen}\"{block}\n")
    if refused:
        with pytest.raises(ConfigError) as e:
            load_settings(path, env={"T": ADMIN})
        assert "refusing to listen" in str(e.value) and "add http.tokens" in str(e.value)
    else:
        assert load_settings(path, env={"T": ADMIN}).http is not None


def test_short_tokens_and_bad_addresses_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text('http:\n  listen: "nowhere"\n  tokens: {ops: {token: "short", role: root}}\n')
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    text = "\n".join(e.value.problems)
    assert "http.listen" in text and "HOST:PORT" in text
    assert "http.tokens.ops.token" in text and "http.tokens.ops.role" in text
    assert "short" not in text.replace("too short", "")  # the token value is not echoed
