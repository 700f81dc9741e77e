"""``X-Hub-Signature`` of pushed content (W3C WebSub, section 8). Pure.

The hub signs each delivery with the subscription's secret: ``sha256=<hex HMAC of
the body>`` (sha1, sha384 and sha512 are also allowed by the spec). Content whose
signature is missing, malformed, of an unknown method or wrong is not ingested.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

METHODS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
           "sha512": hashlib.sha512}


def new_secret() -> str:
    """A per-subscription secret (the spec allows up to 200 bytes)."""
    return secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    """The header value a hub sends for ``body`` (used by tests and the local hub)."""
    digest = hmac.new(secret.encode(), body, METHODS[method]).hexdigest()
    return f"{method}={digest}"


def signature_problem(secret: str, body: bytes, header: str | None) -> str | None:
    """Why a delivery must be ignored (None: the signature verifies)."""
    if not header:
        return "missing X-Hub-Signature"
    method, _, given = header.strip().partition("=")
    algorithm = METHODS.get(method.strip().lower())
    if algorithm is None or not given:
        return f"unsupported X-Hub-Signature method {method[:20]!r}"
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    if not hmac.compare_digest(expected, given.strip().lower()):
        return "X-Hub-Signature does not match the body"
    return None
