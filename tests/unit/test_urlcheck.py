"""Recipient URLs are checked without loading every apprise plugin, with apprise's answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from monitor.alerts import urlcheck

USABLE = [
    "json://localhost",
    "jsons://hooks.example.org:8443/path?x=1",
    "mailto://user:secret@example.org",
    "mailto://127.0.0.1:18025?to=policy@example.org&from=monitor@example.org",
    "discord://123456/abcdefghijklmnop",
    "ntfy://news-topic",
    "tgram://123456789:abcdefghijklmnopqrstuvwxyz123456789/12315544/",
    "console://",
]
REFUSED = [
    "mailto://127.0.0.1:18025?to=policy@example.org",  # no from=: apprise wants a sender
    "tgram://not-a-bot-token/",
    "nosuchservice://host/path",
    "plainly not a url",
]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "news-monitor" / "apprise-schemas.json"


def test_first_check_builds_the_index_from_apprise(cache):
    assert not cache.exists()
    assert urlcheck.refusal("json://localhost") is None
    index = json.loads(cache.read_text())
    assert index["schemas"]["json"].startswith("apprise.plugins.")
    assert index["schemas"]["mailto"].startswith("apprise.plugins.")
    assert "console" not in index["schemas"]


@pytest.mark.parametrize("url", USABLE + REFUSED)
def test_fast_path_agrees_with_apprise(cache, url):
    urlcheck.refusal("json://localhost")  # the index exists from here on
    by_apprise = urlcheck._refusal_by_apprise(url)
    fast = urlcheck._usable_fast(url)
    if url in USABLE:
        assert by_apprise is None
        assert fast, f"the fast path should vouch for {url}"
    else:
        assert by_apprise
        assert not fast
        assert urlcheck.refusal(url) == by_apprise  # the words are apprise's


def test_refusal_words_survive_a_fast_attempt(cache):
    urlcheck.refusal("json://localhost")
    reason = urlcheck.refusal("mailto://127.0.0.1:18025?to=policy@example.org")
    assert reason is not None and "from=sender@example.org" in reason


def test_an_index_of_another_apprise_version_is_ignored(cache):
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"apprise": "0.0.1", "schemas": {"json": "os"}}))
    assert urlcheck._load_index() == {}
    assert urlcheck.refusal("json://localhost") is None  # rebuilt through apprise
    assert json.loads(cache.read_text())["apprise"] != "0.0.1"


def test_a_checked_url_loads_one_plugin_module(cache, tmp_path):
    urlcheck.refusal("json://localhost")
    code = ("import sys; from monitor.alerts.urlcheck import refusal;"
            "assert refusal('json://localhost') is None;"
            "print(sorted(m for m in sys.modules if m.startswith('apprise.plugins.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)}, check=True).stdout
    loaded = eval(out)  # noqa: S307  (our own printed list)
    assert any("json" in m for m in loaded)
    assert len(loaded) < 10, loaded  # not the 100+ modules of a full load

