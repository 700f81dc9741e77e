"""Errors as RFC 9457 problem documents (``application/problem+json``)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

PROBLEM_TYPE = "application/problem+json"
_BASE = "https://github.com/news-monitor/news-monitor/blob/main/README.md#problems"


class ProblemError(Exception):
    """Raised by a handler to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(status: int, title: str, detail: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    """A problem document: ``type``, ``title``, ``status``, ``detail`` and extra members."""
    slug = title.lower().replace(" ", "-")
    body: dict[str, Any] = {"type": f"{_BASE}-{slug}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                        content_type=PROBLEM_TYPE, headers=headers)


def bad_request(detail: str, **extra: Any) -> ProblemError:
    return ProblemError(400, "Bad request", detail, **extra)
