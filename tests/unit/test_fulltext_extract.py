"""Full text, the pure parts: which items want their page, extraction of the test pages
(precision and recall against real rules), paywall and not-HTML checks, and the
decision stored after each attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.article import Article, PageJob, RuleSpec
from monitor.fulltext.extract import (
    AUTO_MIN_WORDS,
    decode_html,
    extract_main_text,
    is_paywalled,
    not_html_reason,
    wants_full_text,
)
from monitor.fulltext.pages import PageResult
from monitor.fulltext.runner import MAX_ATTEMPTS, RETRY_BASE_S, page_record
from monitor.rules.compile import compile_rules

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"
HTML = {"content-type": "text/html; charset=utf-8"}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def article(summary: str = "", content: str = "", link: str | None = "https://n.test/a",
            full_text: str = "") -> Article:
    return Article(feed_url="https://n.test/f", feed_name="F", feed_tags=(), key="k", guid="k",
                   link=link, canonical_url=link, title="A title of a few words",
                   summary=summary, content=content, full_text=full_text)


WORDS = " ".join(["word"] * (AUTO_MIN_WORDS - 1))


@pytest.mark.parametrize(("mode", "item", "expected"), [
    ("auto", article(summary="One teaser sentence."), True),
    ("auto", article(summary=WORDS), True),  # 59 words: still a teaser
    ("auto", article(summary=WORDS + " more"), False),  # 60 words: the item has its text
    ("auto", article(summary=WORDS[:100], content=WORDS), False),  # summary + content count
    ("true", article(content=WORDS + " " + WORDS), True),  # always
    ("false", article(summary="Teaser."), False),  # never
    ("true", article(link=None), False),  # nothing to fetch
])
def test_which_items_want_their_page(mode: str, item: Article, expected: bool) -> None:
    assert wants_full_text(mode, item) is expected  # type: ignore[arg-type]


def page(name: str) -> str:
    result = extract_main_text((PAGES / name).read_bytes(), HTML, "https://news.example.com/x")
    assert result.error is None, result.error
    return result.text


RULES = compile_rules([
    RuleSpec("partner", '"partner-only" AND "mainland China"'),
    RuleSpec("deadline", '"divestiture deadline"'),
    RuleSpec("wechat", "WeChat"),  # related-stories blocks only
    RuleSpec("tiktok-ban", "TikTok NEAR/2 ban"),  # navigation, related block, a comment
    RuleSpec("cookies", "cookies OR newsletter OR copyright OR advertisement"),
    RuleSpec("script", "dataLayer OR analytics"),
], {})


@pytest.mark.parametrize(("name", "expected"), [
    ("zoom-partner.html", {"partner"}),
    ("court-tiktok.html", {"deadline"}),
])
def test_rules_see_the_body_and_never_the_boilerplate(name: str, expected: set[str]) -> None:
    text = page(name)
    got = {m.rule for m in RULES.match(article(summary="Teaser.", full_text=text))}
    assert got == expected


def test_every_body_paragraph_is_kept() -> None:
    text = page("zoom-partner.html")
    for phrase in ("partner-only model", "data-localisation rules", "only model regulators",
                   "$180m last quarter", "Shanghai and Shenzhen"):
        assert phrase in text
    for boilerplate in ("843 partners", "More on this story", "reader42", "Popular now",
                        "Copyright 2026", "Read more"):
        assert boilerplate not in text


def test_paywalled_pages_fail_clearly() -> None:
    result = extract_main_text((PAGES / "paywalled.html").read_bytes(), HTML, "https://x.test/")
    assert (result.text, result.error) == (
        "", "paywall: the page is marked isAccessibleForFree=false and shows only a teaser")


def test_a_flagged_page_that_carries_the_whole_text_is_kept() -> None:
    # Publishers often serve the full text (for search engines) with the flag set.
    page = (PAGES / "zoom-partner.html").read_text().replace(
        '"articleSection":"Technology"}', '"articleSection":"Technology",'
        '"isAccessibleForFree":false}')
    assert is_paywalled(page)
    result = extract_main_text(page.encode(), HTML, "https://x.test/")
    assert result.error is None and "partner-only model" in result.text


@pytest.mark.parametrize(("ld", "paywalled"), [
    ('{"isAccessibleForFree": false}', True),
    ('{"isAccessibleForFree": "False"}', True),
    ('{"@graph": [{"@type": "WebPage"}, {"isAccessibleForFree": "false"}]}', True),
    ('[{"isAccessibleForFree": false}]', True),
    ('{"isAccessibleForFree": true}', False),
    ('{"isAccessibleForFree": "True"}', False),
    ("{not json", False),
])
def test_paywall_markup(ld: str, paywalled: bool) -> None:
    html = f'<html><script type="application/ld+json">{ld}</script></html>'
    assert is_paywalled(html) is paywalled


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (b"<html></html>", "text/html", None),
    (b"<html></html>", "application/xhtml+xml; charset=utf-8", None),
    (b"<!DOCTYPE html><p>x", "", None),  # no content type: sniffed
    (b"%PDF-1.7", "application/pdf", "not HTML: content-type 'application/pdf'"),
    (b'{"a": 1}', "application/json", "not HTML: content-type 'application/json'"),
    (b"plain", "", "not HTML: content-type 'missing'"),
])
def test_only_html_is_extracted(body: bytes, content_type: str, reason: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    assert not_html_reason(body, headers) == reason


def test_empty_extraction_is_an_error() -> None:
    result = extract_main_text(b"<html><body><nav>Home</nav><p>Short.</p></body></html>",
                               HTML, "https://x.test/")
    assert result.text == "" and result.error is not None
    assert result.error.startswith("extraction empty")


@pytest.mark.parametrize(("body", "headers", "expected"), [
    ("Café".encode("cp1252"), {"content-type": "text/html; charset=windows-1252"}, "Café"),
    (b'<meta charset="iso-8859-1">Caf\xe9', {}, '<meta charset="iso-8859-1">Café'),
    ("Café".encode(), {}, "Café"),
    (b"Caf\xe9", {}, "Caf\ufffd"),  # undeclared and not UTF-8: replaced, no exception
    (b"x", {"content-type": "text/html; charset=no-such-codec"}, "x"),
])
def test_pages_are_decoded_by_their_declared_charset(
    body: bytes, headers: dict[str, str], expected: str
) -> None:
    assert decode_html(body, headers) == expected


def job(attempts: int = 0) -> PageJob:
    return PageJob(article_id=7, url="https://n.test/a", article=article(), attempts=attempts)


@pytest.mark.parametrize(("attempts", "result", "status", "due_after_s"), [
    (0, PageResult(text="body", status=200), "done", None),
    (0, PageResult(error="HTTP 403", status=403), "failed", None),  # permanent
    (0, PageResult(error="timeout after 20s", transient=True), "wanted", RETRY_BASE_S),
    (1, PageResult(error="HTTP 503", status=503, transient=True), "wanted", RETRY_BASE_S * 4),
    (MAX_ATTEMPTS - 1, PageResult(error="HTTP 503", status=503, transient=True), "failed", None),
    (1, PageResult(not_modified=True, status=304), "failed", None),
])
def test_what_is_stored_after_an_attempt(
    attempts: int, result: PageResult, status: str, due_after_s: int | None
) -> None:
    record = page_record(job(attempts), result, NOW)
    assert record.status == status
    assert record.due_at == (NOW + timedelta(seconds=due_after_s) if due_after_s else None)
    assert record.text == (result.text if status == "done" else "")


@pytest.mark.parametrize(("query", "matches"), [
    ('"data localisation"', True),  # default fields include the full text
    ('content:"data localisation"', True),  # content: covers it too
    ('fulltext:"data localisation"', True),
    ('summary:"data localisation"', False),
    ('title:"data localisation"', False),
])
def test_the_full_text_is_searched_by_default_and_by_content(query: str, matches: bool) -> None:
    rules = compile_rules([RuleSpec("r", query)], {})
    item = article(summary="Teaser.", full_text="Servers follow data-localisation rules.")
    (hit,) = rules.match(item) or [None]
    assert (hit is not None) is matches
    if hit is not None:
        assert [h.field for h in hit.hits] == ["fulltext"]
        assert hit.snippet == "Servers follow «data-localisation» rules."
