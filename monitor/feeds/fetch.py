"""Fetch feeds over HTTP with aiohttp: conditional GET, limits, redirects.

Every problem a server or the network can cause becomes ``FetchResult.error``
(a short message for people); ``Fetcher.fetch`` never raises for them. The
limits protect the daemon from hostile or broken servers:

* a TOTAL time bound per fetch (redirects and body included), so a server that
  dribbles one byte a second cannot hold a worker;
* a cap on the DECOMPRESSED body: we decompress ourselves, chunk by chunk with
  a bounded output size, so a gzip bomb never inflates in memory;
* at most ``MAX_REDIRECTS`` redirects, only to http(s) URLs;
* at most ``concurrency`` fetches at once in all, and at most ``per_host`` to one
  host, so one site carrying 300 of the feeds is never hammered. The per-host
  limit is a ``HostSlots`` that several fetchers share (the daemon's feed polls
  and article pages): politeness is per host, whoever asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Self

import monitor
from monitor.article import FetchResult

if TYPE_CHECKING:
    import aiohttp
    from multidict import CIMultiDictProxy

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
_CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def import_client_soon() -> None:
    """Start importing aiohttp in a thread, for a process that polls next.

    A good part of aiohttp's import is loading the system's CA certificates into its two
    default TLS contexts (~60 ms here), which OpenSSL does without the interpreter lock:
    beside the database being opened and the feeds claimed, on another core, it costs
    next to nothing. The first fetch's ``import aiohttp`` waits for the thread (the
    import lock), so nothing sees half a module; an import that fails there fails again,
    with its error, in the fetch."""
    global _client_import
    if _client_import is None:
        _client_import = threading.Thread(target=_import_client, name="import-aiohttp")
        _client_import.start()


def _import_client() -> None:
    with contextlib.suppress(Exception):
        import aiohttp  # noqa: F401


_client_import: threading.Thread | None = None


class _Failed(Exception):
    """Internal: a fetch failed with a message for people (and maybe a status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def format_size(n: int) -> str:
    """'10 MB', '512 KB', '300 bytes': sizes in error messages (decimal units)."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} KB"
    return f"{n} bytes"


class _Body:
    """Collects a body, decompressing gzip/deflate with a bounded output per step."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.parts: list[bytes] = []
        self.size = 0
        self.encoding = encoding  # "", "gzip" or "deflate"; "sniff" decides on first bytes
        self._inflater: zlib._Decompress | None = None
        self._raw_deflate_tried = False

    def feed(self, data: bytes) -> None:
        if self.encoding == "sniff":
            # Some servers send a .gz file without Content-Encoding.
            self.encoding = "gzip" if data.startswith(_GZIP_MAGIC) else ""
        if not self.encoding:
            self._keep(data)
            return
        if self._inflater is None:
            self._inflater = zlib.decompressobj(47)  # 32+15: gzip or zlib header
        self._inflate(data)

    def _inflate(self, data: bytes) -> None:
        # Output comes out at most _CHUNK at a time, so a bomb never inflates in
        # memory beyond max_bytes + _CHUNK before _keep refuses it.
        while True:
            assert self._inflater is not None
            try:
                out = self._inflater.decompress(data, _CHUNK)
            except zlib.error as e:
                if self.encoding == "deflate" and not self._raw_deflate_tried and not self.size:
                    # "deflate" is often sent as raw deflate without a zlib header.
                    self._raw_deflate_tried = True
                    self._inflater = zlib.decompressobj(-15)
                    continue
                raise _Failed(f"invalid {self.encoding} body: {e}") from e
            self._keep(out)
            if self._inflater.eof:
                # A gzip body may hold several members, one after another;
                # anything else after the end is ignored, as browsers do.
                data = self._inflater.unused_data
                if not data.startswith(_GZIP_MAGIC):
                    return
                self._inflater = zlib.decompressobj(47)
                continue
            data = self._inflater.unconsumed_tail
            if not data and len(out) < _CHUNK:
                return  # input used up and no output pending

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise _Failed(f"body larger than {format_size(self.max_bytes)}")
        if data:
            self.parts.append(data)

    def finish(self) -> bytes:
        if self._inflater is not None and not self._inflater.eof and self.size == 0:
            raise _Failed(f"invalid {self.encoding} body: truncated")
        return b"".join(self.parts)


@dataclass
class _Chain:
    """What the redirect loop learned on its way to the final response."""

    #: The URL requested first.
    requested: str
    #: The URL being fetched now (the final one once the loop ends).
    url: str
    redirects: int = 0
    permanent_redirect: str | None = None
    all_permanent: bool = True
    headers: dict[str, str] = field(default_factory=dict)


def _lower_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _content_decoding(headers: Mapping[str, str]) -> str:
    coding = headers.get("content-encoding", "").strip().lower()
    if coding in ("", "identity"):
        return "sniff"
    if coding in ("gzip", "x-gzip"):
        return "gzip"
    if coding == "deflate":
        return "deflate"
    raise _Failed(f"unsupported content-encoding {coding!r}")


def _next_location(chain: _Chain, status: int, headers: Mapping[str, str]) -> str:
    """The absolute URL a redirect points to, or _Failed when it must not be followed."""
    location = headers.get("location")
    if not location:
        raise _Failed(f"HTTP {status} redirect without Location", status)
    if chain.redirects >= MAX_REDIRECTS:
        raise _Failed(f"too many redirects (more than {MAX_REDIRECTS})", status)
    from yarl import URL

    try:
        target = URL(chain.url).join(URL(location.strip()))
    except ValueError as e:
        raise _Failed(f"invalid redirect location {location[:100]!r}", status) from e
    if target.scheme not in ("http", "https"):
        raise _Failed(f"redirect to unsupported scheme {target.scheme!r}", status)
    return str(target)


#: ``HostSlots`` priorities: an article page (an alert may wait on it) before a feed poll.
PRIORITY_PAGE = 0
PRIORITY_FEED = 1


@dataclass
class _Host:
    busy: int = 0
    #: (priority, arrival, future): the future is resolved when a slot is handed over.
    waiters: list[tuple[int, int, asyncio.Future[None]]] = field(default_factory=list)


class HostSlots:
    """At most ``per_host`` requests at once to one host, shared by every fetcher given
    it. Waiters get a freed slot by priority (lower first), then in arrival order.

    Not tied to one event loop (a waiter's future is made when it waits), so one
    instance serves a daemon's whole life and every ``asyncio.run`` of a test;
    ``per_host`` may change (a config reload) and applies from the next release.
    """

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._hosts: dict[str, _Host] = {}
        self._arrival = itertools.count()

    def busy(self, host: str) -> int:
        """Requests to ``host`` running now (for tests and logs)."""
        entry = self._hosts.get(host)
        return entry.busy if entry else 0

    @contextlib.asynccontextmanager
    async def slot(self, url: str, *, priority: int = PRIORITY_FEED) -> AsyncIterator[None]:
        """Hold one of the host's slots for the body of the ``async with``."""
        host = host_of(url)
        await self._acquire(host, priority)
        try:
            yield
        finally:
            self._release(host)

    async def _acquire(self, host: str, priority: int) -> None:
        entry = self._hosts.setdefault(host, _Host())
        if entry.busy < self.per_host and not entry.waiters:
            entry.busy += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(entry.waiters, (priority, next(self._arrival), waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(host)  # handed a slot just as it was cancelled: pass it on
            else:
                entry.waiters = [w for w in entry.waiters if w[2] is not waiter]
                heapq.heapify(entry.waiters)
            raise

    def _release(self, host: str) -> None:
        entry = self._hosts[host]
        entry.busy -= 1
        while entry.waiters and entry.busy < self.per_host:
            _, _, waiter = heapq.heappop(entry.waiters)
            if not waiter.done():  # a waiter cancelled in the meantime is skipped
                entry.busy += 1
                waiter.set_result(None)
        if not entry.busy and not entry.waiters:
            del self._hosts[host]  # idle hosts cost nothing


def host_of(url: str) -> str:
    """The host part of a URL, lower-cased ("" for a URL without one)."""
    from yarl import URL

    try:
        return (URL(url).host or "").lower()
    except ValueError:
        return ""  # the fetch itself reports the bad URL


class Fetcher:
    """An HTTP client for feeds: one keep-alive session, bounded concurrency.

    Use as ``async with Fetcher() as f: result = await f.fetch(url)``. The session
    (and aiohttp, a fifth of a second to import) is made on the first fetch, so a
    cycle with nothing to fetch never pays for it.
    A fetch first waits for its host's slot (in ``hosts``, shared with other
    fetchers, at ``priority``), then for a global one: a fetch queued behind a busy
    host never holds a global slot other hosts could use.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 20,
        connect_timeout_s: float = 10,
        max_bytes: int = 10_000_000,
        concurrency: int = 20,
        per_host: int = 2,
        user_agent: str = monitor.USER_AGENT,
        accept: str = ACCEPT,
        hosts: HostSlots | None = None,
        priority: int = PRIORITY_FEED,
    ) -> None:
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.max_bytes = max_bytes
        self.concurrency = concurrency
        self.user_agent = user_agent
        self.accept = accept
        self.hosts = hosts if hosts is not None else HostSlots(per_host)
        self.priority = priority
        self._semaphore = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._entered = False

    async def __aenter__(self) -> Self:
        self._entered = True
        return self

    def _open_session(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.concurrency, ttl_dns_cache=300)
        return aiohttp.ClientSession(
            connector=connector,
            # The total bound is ours (asyncio.timeout around the whole fetch).
            timeout=aiohttp.ClientTimeout(total=None, connect=self.connect_timeout_s),
            auto_decompress=False,  # we inflate ourselves, with a cap
            headers={
                "User-Agent": self.user_agent,
                "Accept": self.accept,
                "Accept-Encoding": "gzip, deflate",
            },
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entered = False
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET one feed; conditional when etag/last_modified are given. Never raises
        for network or HTTP problems: they come back as ``FetchResult.error``."""
        if not self._entered:
            raise RuntimeError("Fetcher used outside 'async with'")
        self._session = self._session or self._open_session()
        async with self.hosts.slot(url, priority=self.priority), self._semaphore:
            started = time.monotonic()
            result = await self._fetch_bounded(url, etag, last_modified, started)
        level = logging.INFO if result.error else logging.DEBUG
        log.log(
            level,
            "feed.fetched url=%s final_url=%s status=%s error=%s bytes=%s elapsed_ms=%s",
            url,
            result.final_url,
            result.status,
            result.error,
            len(result.body) if result.body is not None else 0,
            result.elapsed_ms,
        )
        return result

    async def _fetch_bounded(
        self, url: str, etag: str | None, last_modified: str | None, started: float
    ) -> FetchResult:
        import aiohttp

        chain = _Chain(requested=url, url=url)
        status: int | None = None
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._follow(chain, etag, last_modified, started)
        except _Failed as e:
            message, status = e.message, e.status
        except aiohttp.ClientError as e:  # before TimeoutError: some are both
            message = _client_error_message(e, self.connect_timeout_s)
        except TimeoutError:
            message = f"timeout after {self.timeout_s:g}s"
        except (ValueError, OSError) as e:  # bad URLs, odd socket errors
            message = f"{type(e).__name__}: {e}"[:200]
        except Exception as e:  # a bug or an aiohttp surprise: one feed fails, not the poll
            log.exception("feed.fetch_crashed url=%s", url)
            message = f"unexpected error: {type(e).__name__}: {e}"[:200]
        return FetchResult(
            url=url,
            final_url=chain.url,
            status=status,
            headers=chain.headers,
            error=message,
            permanent_redirect=chain.permanent_redirect,
            elapsed_ms=_elapsed_ms(started),
        )

    async def _follow(
        self, chain: _Chain, etag: str | None, last_modified: str | None, started: float
    ) -> FetchResult:
        from yarl import URL

        assert self._session is not None
        if URL(chain.url).scheme not in ("http", "https"):
            raise _Failed(f"unsupported URL scheme {URL(chain.url).scheme!r}")
        request_headers = {}
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        while True:
            async with self._session.get(
                chain.url, headers=request_headers, allow_redirects=False
            ) as resp:
                chain.headers = _lower_headers(resp.headers)
                status = resp.status
                if status in REDIRECT_STATUSES:
                    target = _next_location(chain, status, chain.headers)
                    self._note_redirect(chain, status, target)
                    continue
                if status == 304:
                    body = None
                elif not 200 <= status < 300:  # 4xx, 5xx and odd ones (300, 305, 1xx)
                    raise _Failed(f"HTTP {status}", status)
                else:
                    body = await self._read_body(resp, chain.headers)
            return FetchResult(
                url=chain.requested,
                final_url=chain.url,
                status=status,
                body=body,
                headers=chain.headers,
                # On 304 a server may omit the validators: keep the ones we sent.
                etag=chain.headers.get("etag") or (etag if status == 304 else None),
                last_modified=chain.headers.get("last-modified")
                or (last_modified if status == 304 else None),
                permanent_redirect=chain.permanent_redirect,
                elapsed_ms=_elapsed_ms(started),
            )

    @staticmethod
    def _note_redirect(chain: _Chain, status: int, target: str) -> None:
        # The feed moved for good only while every hop so far was permanent:
        # 301 -> 302 -> X means "use the 301's target", not X.
        chain.all_permanent = chain.all_permanent and status in PERMANENT_STATUSES
        if chain.all_permanent:
            chain.permanent_redirect = target
        chain.redirects += 1
        chain.url = target

    async def _read_body(self, resp: aiohttp.ClientResponse, headers: Mapping[str, str]) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise _Failed(f"body larger than {format_size(self.max_bytes)}", resp.status)
        body = _Body(_content_decoding(headers), self.max_bytes)
        wire = 0
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                wire += len(chunk)
                if wire > self.max_bytes:
                    raise _Failed(f"body larger than {format_size(self.max_bytes)}")
                body.feed(chunk)
            return body.finish()
        except _Failed as e:
            raise _Failed(e.message, resp.status) from e


def _client_error_message(e: aiohttp.ClientError, connect_timeout_s: float) -> str:
    """A short message for people from an aiohttp error."""
    import aiohttp

    if isinstance(e, aiohttp.ConnectionTimeoutError):
        return f"connect timeout after {connect_timeout_s:g}s"
    if isinstance(e, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup failed for {e.host}"
    if isinstance(e, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return f"TLS error: {e}"[:200]
    if isinstance(e, aiohttp.ClientConnectorError):
        if isinstance(e.os_error, ConnectionRefusedError):
            return "connection refused"
        return f"cannot connect to {e.host}:{e.port}: {e.os_error.strerror or e.os_error}"
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    if isinstance(e, aiohttp.ClientPayloadError):
        return "incomplete body"
    if isinstance(e, aiohttp.InvalidURL):
        return f"invalid URL {str(e.url)[:100]!r}"
    return f"{type(e).__name__}: {e}"[:200]


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
