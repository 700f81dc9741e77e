"""Errors as RFC 9457 problem documents (``application/problem+json``)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

PROBLEM_TYPE = "application/problem+json"


class ProblemError(Exception):
    """Raised by a handler to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(status: int, title: str, detail: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    """A problem document: ``type``, ``title``, ``status``, ``detail`` and extra members.

    The type is ``about:blank`` (RFC 9457 section 4.2.1): the status says what kind of
    problem it is, ``title`` is its HTTP reason phrase, ``detail`` and the extension
    members (``column``, ``parameter``) say what exactly."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                        content_type=PROBLEM_TYPE, headers=headers)


def bad_request(detail: str, **extra: Any) -> ProblemError:
    return ProblemError(400, "Bad Request", detail, **extra)
