"""WebSub, the pure parts: hub/self discovery (Link header, RSS/Atom, JSON Feed) and
X-Hub-Signature verification."""

from __future__ import annotations

import json

import pytest

from monitor.websub.discover import Discovery, discover
from monitor.websub.signature import new_secret, sign, signature_problem

FEED = "https://news.example.com/feed.xml"
ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
<link rel="hub" href="https://hub.example.org/"/><link rel='self' href='https://news.example.com/atom'/>
<entry><link rel="hub" href="https://entry-level.example/"/></entry></feed>"""
RSS = b"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<atom:link href="https://pubsubhubbub.appspot.com/" rel="hub" /><item><title>x</title></item>
</channel></rss>"""


@pytest.mark.parametrize(("body", "headers", "expected"), [
    # Atom <link rel="hub"> and rel='self'; links inside entries do not count.
    (ATOM, {}, Discovery("https://hub.example.org/", "https://news.example.com/atom")),
    # RSS with atom:link; no self: the feed URL is the topic.
    (RSS, {}, Discovery("https://pubsubhubbub.appspot.com/", FEED)),
    # The HTTP Link header wins over the document.
    (ATOM, {"link": '<https://h2.example/>; rel="hub", </feed2>; rel="self"'},
     Discovery("https://h2.example/", "https://news.example.com/feed2")),
    # rel with several values, unquoted.
    (b"<rss/>", {"link": "<https://h3.example/hub>; rel=hub"},
     Discovery("https://h3.example/hub", FEED)),
    # JSON Feed: hubs[] (WebSub type) and feed_url.
    (json.dumps({"version": "https://jsonfeed.org/version/1.1", "feed_url": "https://j/f.json",
                 "hubs": [{"type": "rssCloud", "url": "https://cloud.example/"},
                          {"type": "WebSub", "url": "https://hub.example/j"}]}).encode(), {},
     Discovery("https://hub.example/j", "https://j/f.json")),
    # No hub anywhere; a hub with a scheme other than http(s) is ignored.
    (b"<rss><channel><title>t</title></channel></rss>", {}, Discovery(None, FEED)),
    (b'<feed><link rel="hub" href="ftp://hub.example/"/></feed>', {}, Discovery(None, FEED)),
    # Hostile: JSON that is not an object, broken JSON.
    (b"[1]", {}, Discovery(None, FEED)),
    (b'{"hubs": [', {}, Discovery(None, FEED)),
    (b'{"hubs": "x", "feed_url": 5}', {}, Discovery(None, FEED)),
])
def test_hub_discovery(body: bytes, headers: dict[str, str], expected: Discovery) -> None:
    assert discover(body, headers, FEED) == expected


def test_signatures_verify_and_refuse() -> None:
    secret = new_secret()
    body = b"<rss>pushed</rss>"
    for method in ("sha1", "sha256", "sha384", "sha512"):
        assert signature_problem(secret, body, sign(secret, body, method)) is None
    assert signature_problem(secret, body, None) == "missing X-Hub-Signature"
    assert signature_problem(secret, body, "md5=abc") == "unsupported X-Hub-Signature method 'md5'"
    assert signature_problem(secret, body, "sha256=") is not None
    assert signature_problem(secret, body + b" ", sign(secret, body)) == (
        "X-Hub-Signature does not match the body")
    assert signature_problem(secret, body, sign("other", body)) is not None
    assert signature_problem(secret, body, sign(secret, body).upper().replace("SHA", "sha")) is None
    assert new_secret() != new_secret() and len(new_secret()) >= 40


@pytest.mark.parametrize(("websub", "problem"), [
    ({"callback_base": "ftp://x.example"}, "must be an http:// or https:// URL"),
    ({"callback_base": "https://m.example", "listen": "8080"}, "expected host:port"),
    ({"callback_base": "https://m.example", "listen": "h:99999"}, "expected host:port"),
    ({"listen": "127.0.0.1:8090"}, "Field required"),
    ({"callback_base": "https://m.example", "lease": "soon"}, "invalid duration"),
])
def test_websub_settings_are_checked(websub: dict[str, str], problem: str) -> None:
    from pydantic import ValidationError

    from monitor.config import Settings

    with pytest.raises(ValidationError, match=problem):
        Settings.model_validate({"websub": websub})


def test_websub_settings_defaults() -> None:
    from monitor.config import Settings

    s = Settings.model_validate({"websub": {"callback_base": "https://m.example/"}}).websub
    assert s is not None
    assert (s.callback_base, s.host_port, s.lease_s) == ("https://m.example", ("127.0.0.1", 8090),
                                                         86400)
    assert Settings.model_validate({}).websub is None


@pytest.mark.parametrize(("listen", "http", "own_listener"), [
    # No `http:`: the callbacks' own listener, on websub.listen or its default.
    (None, None, ("127.0.0.1", 8090)),
    ("0.0.0.0:9000", None, ("0.0.0.0", 9000)),
    (":9000", None, ("0.0.0.0", 9000)),  # an empty host is every interface
    # `http:` and websub.listen left out: the API's listener serves the callbacks.
    (None, "127.0.0.1:8080", None),
    (None, "127.0.0.1:8090", None),  # even on websub.listen's default address
    # websub.listen set to the API's own address (spelt differently): one listener.
    ("127.0.0.1:8080", "127.0.0.1:8080", None),
    ("[::1]:8080", "[::1]:8080", None),
    ("LOCALHOST:8080", "localhost:8080", None),
    # websub.listen set elsewhere: it keeps its own listener (public callbacks, private API).
    ("0.0.0.0:8090", "127.0.0.1:8080", ("0.0.0.0", 8090)),
    ("127.0.0.1:8081", "127.0.0.1:8080", ("127.0.0.1", 8081)),
    ("10.0.0.5:8080", "127.0.0.1:8080", ("10.0.0.5", 8080)),
])
def test_where_the_callbacks_are_served(listen: str | None, http: str | None,
                                        own_listener: tuple[str, int] | None) -> None:
    from monitor.config import Settings
    from monitor.websub.listener import callback_address

    websub: dict[str, str] = {"callback_base": "https://m.example"}
    if listen is not None:
        websub["listen"] = listen
    settings = Settings.model_validate(
        {"websub": websub, **({"http": {"listen": http}} if http else {})})
    assert settings.websub is not None
    assert callback_address(settings.websub, settings.http) == own_listener
