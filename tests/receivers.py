"""Real local receivers for delivery tests: an SMTP server and an HTTP webhook.

Both bind 127.0.0.1 on a free port chosen by the OS, run in a background
thread, record what they receive before answering (so once an apprise call
returns, its message is already recorded) and are context managers::

    from receivers import SMTPReceiver, WebhookReceiver  # tests/ is on sys.path (conftest)

    with SMTPReceiver() as smtp, WebhookReceiver(fail_first=2) as hook:
        urls = [smtp.mailto_url(to="team@example.com"), hook.json_url("/alerts")]
        ...
        assert smtp.messages[0].subject == "..."
        assert hook.requests[-1].json["title"] == "..."

:class:`HungServer` accepts connections and never answers (or answers one byte
at a time, for ever): a notifier that hangs.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class ReceivedMail:
    """One message the SMTP receiver accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def body(self, subtype: str = "plain") -> str | None:
        """The text/<subtype> part ("plain" or "html"), decoded; None when absent."""
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                return str(part.get_content())
        return None


class _Handler:
    def __init__(self, receiver: SMTPReceiver) -> None:
        self._receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self._receiver._record(envelope)


class _Controller(Controller):
    """aiosmtpd's Controller, but on a port the OS picks (port=0)."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPReceiver:
    """An aiosmtpd SMTP server on 127.0.0.1 (no TLS) collecting messages.

    ``credentials=(user, password)`` requires AUTH (allowed without TLS, as a
    local test server); ``fail_first=N`` answers 451 to the first N messages.
    """

    def __init__(self, *, credentials: tuple[str, str] | None = None, fail_first: int = 0) -> None:
        self.credentials = credentials
        self.fail_first = fail_first
        self.messages: list[ReceivedMail] = []
        self.attempts = 0
        self._lock = threading.Condition()
        kwargs: dict[str, Any] = {}
        if credentials:
            kwargs.update(
                authenticator=self._authenticate, auth_require_tls=False, auth_required=True
            )
        self._controller = _Controller(_Handler(self), hostname="127.0.0.1", port=0, **kwargs)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def mailto_url(
        self, *, to: str = "team@example.com", sender: str = "monitor@example.com"
    ) -> str:
        """An apprise mailto:// URL for this server: plain SMTP, no STARTTLS."""
        auth = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"mailto://{auth}{self.host}:{self.port}?mode=insecure&from={sender}&to={to}"

    def __enter__(self) -> SMTPReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until ``count`` messages arrived (for daemons in other processes)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def _record(self, envelope: Any) -> str:
        with self._lock:
            self.attempts += 1
            if self.attempts <= self.fail_first:
                return "451 4.3.0 injected failure"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(
                ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message)
            )
            self._lock.notify_all()
        return "250 OK"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == self.credentials
        return AuthResult(success=ok)


@dataclass(frozen=True)
class ReceivedRequest:
    """One HTTP request the webhook receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    #: The status it was answered with.
    status: int
    #: The body parsed as JSON, or None when it is not JSON.
    json: Any = field(default=None)


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 collecting requests (JSON bodies parsed).

    ``fail_first=N`` answers ``fail_status`` (500) to the first N requests,
    then 200. ``requests`` holds every request, ``delivered`` only the
    ones answered 2xx.
    """

    def __init__(self, *, fail_first: int = 0, fail_status: int = 500,
                 delay_s: float = 0.0) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        #: Each answer is sent this long after the request was recorded (a slow target).
        self.delay_s = delay_s
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def json_url(self, path: str = "/hook") -> str:
        """An apprise json:// URL posting to this receiver."""
        return f"json://127.0.0.1:{self.port}{path}"

    @property
    def delivered(self) -> list[ReceivedRequest]:
        """The requests answered 2xx, in arrival order."""
        with self._lock:
            return self._delivered()

    def __enter__(self) -> WebhookReceiver:
        # A short poll interval keeps shutdown() fast (it waits for one poll).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Block until ``count`` requests were answered 2xx (for daemons in other processes)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._delivered()) >= count, timeout)
            return self._delivered()

    def _delivered(self) -> list[ReceivedRequest]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = self.fail_status if len(self.requests) < self.fail_first else 200
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            self.requests.append(ReceivedRequest(method, path, headers, body, status, parsed))
            self._lock.notify_all()
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = receiver._answer(self.command, self.path, dict(self.headers), body)
                time.sleep(receiver.delay_s)
                payload = b'{"ok": true}' if status < 300 else b'{"error": "injected failure"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler


class HungServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers.

    ``protocol`` ("http" or "smtp") only picks the apprise URL (``url``). With
    ``trickle_s``, it sends one byte of an endless reply (HTTP header lines, SMTP
    "220-" continuation lines) every ``trickle_s`` seconds: each socket read gets
    something in time, so per-read timeouts (apprise's own) never fire and only a
    total timeout ends the send. Closing the server closes every connection, which
    ends the senders still hanging on it.
    """

    _ENDLESS = {"http": (b"HTTP/1.1 200 OK\r\n", b"X-Wait: still thinking\r\n"),
                "smtp": (b"", b"220-still thinking\r\n")}

    def __init__(self, protocol: str = "http", *, trickle_s: float | None = None) -> None:
        self.protocol = protocol
        self.trickle_s = trickle_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._conns: list[socket.socket] = []
        self._lock = threading.Condition()
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """An apprise URL sending to this server."""
        if self.protocol == "smtp":
            return (f"mailto://127.0.0.1:{self.port}?mode=insecure&from=monitor@example.com"
                    "&to=team@example.com")
        return f"json://127.0.0.1:{self.port}/hook"

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return len(self._conns)

    def wait_for(self, count: int, timeout: float = 10.0) -> int:
        """Block until ``count`` connections were accepted; how many there are."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._conns) >= count, timeout)
            return len(self._conns)

    def __enter__(self) -> HungServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        for thread in self._threads:
            thread.join()
        with self._lock:
            for conn in self._conns:
                conn.close()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self._conns.append(conn)
                self._lock.notify_all()
            if self.trickle_s is not None:
                thread = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _trickle(self, conn: socket.socket) -> None:
        first, line = self._ENDLESS[self.protocol]
        data = iter(first + line * 100_000)
        while not self._closed.wait(self.trickle_s):
            try:
                conn.send(bytes([next(data)]))
            except (OSError, StopIteration):
                return
