"""Who is asking, and may they: tokens, session cookies, CSRF, the access middleware.

* The API (and scripts) send ``Authorization: Bearer TOKEN``.
* People log in with a token through the login form and get a session cookie
  (HttpOnly, SameSite=Strict, Secure over HTTPS): ``name.expiry.signature``, signed
  with a key derived from that token, so rotating a token in the config ends its
  sessions, and replicas sharing the config accept each other's cookies.
* A request authenticated by cookie that changes something must carry the CSRF
  token of its session (form field ``csrf`` or header ``X-CSRF-Token``).
* Every route declares its access (``public``, ``read``, ``admin``); a route
  missing from the table is treated as ``admin``: forgetting fails closed.

Every comparison of a secret uses ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from monitor.config.models import TokenSettings

Access = Literal["public", "read", "admin"]
SESSION_COOKIE = "nm_session"
LOGIN_CSRF_COOKIE = "nm_login_csrf"
#: How long a login lasts.
SESSION_S = 12 * 3600
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Principal:
    """Who made a request: the token's name and role, and how they proved it."""

    name: str
    role: str
    #: "bearer" or "session" (only sessions need a CSRF token).
    via: str
    #: The session cookie's value (CSRF tokens derive from it); "" for bearer.
    session: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


#: Where the middleware leaves the principal for handlers (a typed key on new aiohttp).
PRINCIPAL: Any = (web.RequestKey("principal", Principal) if hasattr(web, "RequestKey")
                  else "principal")


class TokenBook:
    """The configured tokens: checks bearer tokens, issues and checks sessions."""

    def __init__(self, tokens: Mapping[str, TokenSettings]) -> None:
        self._tokens = dict(tokens)
        # Session keys derive from each token: no key to store, rotation ends sessions.
        self._keys = {name: hashlib.sha256(b"news-monitor session\0" + t.token.encode()).digest()
                      for name, t in self._tokens.items()}

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def check(self, presented: str, via: str = "bearer") -> Principal | None:
        """The principal whose token is ``presented``; every token is compared in full."""
        found = None
        for name, t in self._tokens.items():
            if hmac.compare_digest(t.token.encode(), presented.encode()):
                found = Principal(name, t.role, via)
        return found

    def _sign(self, name: str, payload: str) -> str:
        return hmac.new(self._keys[name], payload.encode(), hashlib.sha256).hexdigest()

    def session_for(self, principal: Principal, now_s: float | None = None) -> str:
        """A session cookie value for ``principal``, valid for SESSION_S."""
        expiry = int((now_s if now_s is not None else time.time()) + SESSION_S)
        body = f"{principal.name}.{expiry}"
        return f"{body}.{self._sign(principal.name, 'session|' + body)}"

    def from_session(self, value: str, now_s: float | None = None) -> Principal | None:
        """The principal of a session cookie, or None (forged, expired, token rotated)."""
        parts = value.split(".")
        if len(parts) < 3 or not parts[-2].isdigit():
            return None
        name, expiry, signature = ".".join(parts[:-2]), parts[-2], parts[-1]
        if name not in self._keys:
            return None
        expected = self._sign(name, f"session|{name}.{expiry}")
        if not hmac.compare_digest(expected, signature):
            return None
        if int(expiry) < (now_s if now_s is not None else time.time()):
            return None
        return Principal(name, self._tokens[name].role, "session", value)

    def csrf_for(self, principal: Principal) -> str:
        """The CSRF token of a session (empty for bearer requests, which need none)."""
        if principal.via != "session":
            return ""
        return self._sign(principal.name, "csrf|" + principal.session)


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def authenticate(request: web.Request, book: TokenBook) -> Principal | None:
    """The principal of a request: its bearer token, else its session cookie."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return book.check(token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    return book.from_session(cookie) if cookie else None


async def csrf_ok(request: web.Request, book: TokenBook, principal: Principal) -> bool:
    """A cookie-authenticated change carries its session's CSRF token."""
    if principal.via != "session" or request.method in _SAFE_METHODS:
        return True
    presented = request.headers.get("X-CSRF-Token", "")
    if not presented and request.content_type in ("application/x-www-form-urlencoded",
                                                   "multipart/form-data"):
        presented = str((await request.post()).get("csrf", ""))
    return hmac.compare_digest(presented.encode(), book.csrf_for(principal).encode())


def allowed(access: Access, principal: Principal | None) -> bool:
    """May ``principal`` (None: anonymous) use a route of ``access``?"""
    if access == "public":
        return True
    if principal is None:
        return False
    return access == "read" or principal.is_admin
