"""Keep secrets out of every log line, CLI output and stored error.

Two layers, both applied by :func:`redact`:

1. Registered secrets: the values of ``${ENV}`` interpolations in the config
   (and the credentials found in apprise URLs) are replaced by ``***`` wherever
   they appear, raw or percent-encoded.
2. URL masking, which needs no registration: ``scheme://user:pass@host`` loses
   its password; apprise token URLs (``slack://T/B/C``, ``tgram://BOT/CHAT``)
   lose every path segment; query values of keys such as
   ``token``/``key``/``password`` become ``***``.

The path of a web URL is never guessed at: a feed URL the user wrote is the feed's
identity, shown as written (``/rss/RSSWorldNews.xml`` is not a token). What is
secret in a web URL is known up front and registered: ``${VAR}`` values, and the
token-looking path segments of a recipient's webhook URL (:func:`url_secrets`,
where over-masking is the safe side).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"
#: Shorter values are too likely to be ordinary words ("dev", "1") to replace.
MIN_SECRET_LEN = 4

# Schemes whose host and path are addresses, not credentials. Every other
# scheme (slack, tgram, discord, ntfy, pushover, ...) is treated as a token
# URL: all of its host and path segments are masked.
ADDRESS_SCHEMES = frozenset(
    {
        "http", "https", "json", "jsons", "xml", "xmls", "form", "forms",
        "mailto", "mailtos", "console", "file", "ftp", "ftps", "ws", "wss",
        "postgresql", "postgres", "postgresql+psycopg", "sqlite", "mysql",
    }
)
SECRET_KEY_WORDS = ("token", "key", "pass", "secret", "auth", "sig", "pwd", "credential")

_URL_RE = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"'`]+")
# Userinfo ends at the first "/", "?" or "#": an "@" in a query (?to=a@b.org) is not it.
_USERINFO_RE = re.compile(r"^(?P<head>[^:/]+://)(?P<user>[^:@/?#\s]*):(?P<pw>[^@/?#\s]+)@")
_USER_ONLY_RE = re.compile(r"^(?P<head>[^:/]+://)(?P<user>[^:@/?#\s]+)@")
_QUERY_PAIR_RE = re.compile(r"(?P<sep>[?&;])(?P<key>[^=&;#\s]+)=(?P<value>[^&;#\s]*)")
_AUTH_HEADER_RE = re.compile(
    r"(?i)\b(?P<kind>bearer|basic|token)(?P<sp>\s+)[A-Za-z0-9._~+/=\-]{6,}"
)
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_SLUG_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+(\.[a-z0-9]+)?")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def register_secrets(values: Iterable[str]) -> None:
    """Remember secret values (e.g. ``${ENV}`` interpolations) to mask from now on.

    Values shorter than MIN_SECRET_LEN characters are ignored; the encoded
    forms a URL may carry (percent- and plus-encoding) are registered too.
    """
    global _secrets
    new: set[str] = set()
    for value in values:
        if not isinstance(value, str) or len(value) < MIN_SECRET_LEN:
            continue
        new.update({value, quote(value, safe=""), quote_plus(value, safe="")})
    with _lock:
        # Longest first, so a secret containing another is masked whole.
        _secrets = tuple(sorted(set(_secrets) | new, key=len, reverse=True))


def clear_secrets() -> None:
    """Forget every registered secret (for tests and config reloads)."""
    global _secrets
    with _lock:
        _secrets = ()


def redact(text: str) -> str:
    """``text`` with registered secrets and URL credentials replaced by ``***``."""
    if not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_RE.sub(lambda m: mask_url(m.group(0)), text)
    return _AUTH_HEADER_RE.sub(lambda m: f"{m.group('kind')}{m.group('sp')}{MASK}", text)


def mask_url(url: str) -> str:
    """One URL with its credentials masked (see the module docstring)."""
    scheme = url.split("://", 1)[0].lower()
    url = _USERINFO_RE.sub(lambda m: f"{m.group('head')}{m.group('user')}:{MASK}@", url, count=1)
    main, sep, query = url.partition("?")
    head, _, path = main.partition("://")
    if scheme in ADDRESS_SCHEMES or _http_typo(scheme):
        # The host and path are an address (a feed URL is shown as written); only a
        # token used as the user name goes.
        m = _USER_ONLY_RE.match(main)
        if m and _looks_like_token(m.group("user")):
            main = f"{m.group('head')}{MASK}@{main[m.end():]}"
    else:
        # Token URLs: host and path are the credentials; only channel/user
        # targets (#general, @alice) and empty segments survive.
        segments = [s if (not s or s[0] in "#@" or s == MASK) else MASK for s in path.split("/")]
        main = f"{head}://{'/'.join(segments)}"
    if sep:
        query = _QUERY_PAIR_RE.sub(_mask_query_pair, sep + query)[1:]
    return main + sep + query


def _http_typo(scheme: str) -> bool:
    """``htps``, ``htttp``, ``hhtps``: one edit away from http(s). Such a URL is a feed
    address the user mistyped (an OPML outline, a config entry that is refused),
    shown as written so the typo can be seen; no apprise scheme is that close."""
    for word in ("http", "https"):
        if scheme == word or abs(len(scheme) - len(word)) > 1:
            continue
        # One substitution, insertion, deletion or swap of neighbours.
        i = 0
        while i < min(len(scheme), len(word)) and scheme[i] == word[i]:
            i += 1
        a, b = scheme[i:], word[i:]
        if a[1:] == b[1:] or a[1:] == b or a == b[1:] or (a[:2] == b[1::-1] and a[2:] == b[2:]):
            return True
    return False


def _mask_query_pair(m: re.Match[str]) -> str:
    key = m.group("key").lower()
    if any(word in key for word in SECRET_KEY_WORDS) and m.group("value"):
        return f"{m.group('sep')}{m.group('key')}={MASK}"
    return m.group(0)


def url_secrets(url: str) -> list[str]:
    """The credential parts of a recipient (apprise) URL, to register for redaction.

    Its password, the values of secret-named query keys, every long host/path part
    of a token URL (``slack://T/B/C``) and the token-looking path segments of a
    webhook address (``https://hooks.slack.com/services/T/B/XXXX``).
    """
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
        query = parse_qsl(parts.query)
        found += [v for k, v in query if any(w in k.lower() for w in SECRET_KEY_WORDS)]
        segments = parts.path.split("/")
        if parts.scheme.lower() not in ADDRESS_SCHEMES:
            host = parts.netloc.rpartition("@")[2]
            found += [s for s in [host, *segments] if len(s) >= 8]
        else:
            found += [s for s in segments if _looks_like_token(s)]
    except ValueError:
        return []
    return [s for s in {*found, *(unquote(s) for s in found)} if s]


def _looks_like_token(segment: str) -> bool:
    """A path segment that is probably a credential rather than a readable name."""
    if _UUID_RE.fullmatch(segment):
        return True
    if len(segment) < 16 or _SLUG_RE.fullmatch(segment):
        return False
    has_digit = any(c.isdigit() for c in segment)
    has_alpha = any(c.isalpha() for c in segment)
    mixed_case = any(c.isupper() for c in segment) and any(c.islower() for c in segment)
    return (has_digit and has_alpha) or mixed_case or len(segment) >= 20


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message, exception and stack text.

    Install it on a handler so every record that handler emits is redacted,
    whichever logger (ours, apprise's, urllib3's) produced it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def log_to_stderr(level: int | str) -> None:
    """Our log format on standard error, every record redacted, at ``level`` (the CLI,
    and a child process that logs as its parent does)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter (every scheduler tick, every migration plugin) drowns our events.
    for name in ("apscheduler", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
