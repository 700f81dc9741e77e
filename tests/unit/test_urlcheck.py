"""Recipient URLs are checked without loading every apprise plugin, with apprise's answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

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


#: A URL the pattern for plain webhooks leaves to the index (and apprise): a query.
INDEXED = "json://localhost/?method=POST"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "news-monitor" / "apprise-schemas.json"


def test_first_check_builds_the_index_from_apprise(cache):
    assert not cache.exists()
    assert urlcheck.refusal(INDEXED) is None
    index = json.loads(cache.read_text())
    assert index["schemas"]["json"].startswith("apprise.plugins.")
    assert index["schemas"]["mailto"].startswith("apprise.plugins.")
    assert "console" not in index["schemas"]


@pytest.mark.parametrize("url", USABLE + REFUSED)
def test_fast_path_agrees_with_apprise(cache, url):
    urlcheck.refusal(INDEXED)  # the index exists from here on
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
    urlcheck.refusal(INDEXED)
    reason = urlcheck.refusal("mailto://127.0.0.1:18025?to=policy@example.org")
    assert reason is not None and "from=sender@example.org" in reason


def test_an_index_of_another_apprise_version_is_ignored(cache):
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"apprise": "0.0.1", "schemas": {"json": "os"}}))
    assert urlcheck._load_index() == {}
    assert urlcheck.refusal(INDEXED) is None  # rebuilt through apprise
    assert json.loads(cache.read_text())["apprise"] != "0.0.1"


def test_a_checked_url_loads_one_plugin_module(cache, tmp_path):
    urlcheck.refusal(INDEXED)
    code = ("import sys; from monitor.alerts.urlcheck import refusal;"
            "assert refusal('json://localhost/?method=POST') is None;"
            "print(sorted(m for m in sys.modules if m.startswith('apprise.plugins.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)}, check=True).stdout
    loaded = eval(out)  # noqa: S307  (our own printed list)
    assert any("json" in m for m in loaded)
    assert len(loaded) < 10, loaded  # not the 100+ modules of a full load



# -- generic webhooks, vouched for without apprise -------------------------------------------

PLAIN_WEBHOOKS = [
    "json://127.0.0.1:44615/hook",  # the benchmark's local webhook
    "json://localhost",
    "jsons://hooks.example.org:8443/alerts/team-1",
    "xml://10.0.0.7/in",
    "forms://Hooks.Example.org/a%20b/~c_d.e",
    "JSON://Host.Example.org/x",  # any case
]
#: Usable or not, these are apprise's to judge (user, query, IPv6, odd hosts and ports).
NOT_PLAIN = [
    "json://user:secret@hooks.example.org/",
    "json://hooks.example.org/?method=GET",
    "json://hooks.example.org/#alerts",
    "json://[::1]:8080/",
    "json://host.1/",
    "json://1.2.3/",
    "json://999.1.1.1/",
    "json://-host.example.org/",
    "json://host:0/",
    "json://host:65536/",
    "json://host_name.example.org/",
    "json://" + "a" * 64 + ".example.org/",
    " json://host/",
    "json://host.example./",  # a trailing dot: apprise takes it, the pattern need not
    "mailto://host/",
]


@pytest.mark.parametrize("url", PLAIN_WEBHOOKS)
def test_a_plain_webhook_is_usable_by_the_pattern_and_by_apprise(url):
    assert urlcheck._plain_webhook(url)
    assert urlcheck._refusal_by_apprise(url) is None


@pytest.mark.parametrize("url", NOT_PLAIN)
def test_other_urls_are_left_to_apprise(url):
    assert not urlcheck._plain_webhook(url)


_LABELS = st.from_regex(r"[a-z0-9_-]{0,65}", fullmatch=True)
_URLS = st.builds(
    lambda schema, labels, port, path: f"{schema}://{'.'.join(labels)}{port}{path}",
    st.sampled_from(sorted(urlcheck._WEBHOOK_SCHEMAS)),
    st.lists(_LABELS, min_size=1, max_size=5),
    st.one_of(st.just(""), st.integers(0, 70_000).map(lambda p: f":{p}"),
              st.from_regex(r":[0-9]{0,6}", fullmatch=True)),
    st.from_regex(r"(/[a-zA-Z0-9%._~!$&'()*+,;=/@:?#-]{0,12})?", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(_URLS)
@example("form://0.a")  # found by this test in CI: apprise refuses one-digit labels
@example("json://9.host:80/x")
def test_the_pattern_never_vouches_for_a_url_apprise_refuses(url):
    if urlcheck._plain_webhook(url):
        assert urlcheck._refusal_by_apprise(url) is None, url


def test_a_plain_webhook_is_checked_without_importing_apprise(tmp_path):
    # An empty cache: no schema index either, so nothing but the pattern answers.
    code = ("import sys; from monitor.alerts.urlcheck import refusal;"
            "assert refusal('json://127.0.0.1:8080/hook') is None;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('apprise', 'requests')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)}, check=True).stdout
    assert out.strip() == "[]"
