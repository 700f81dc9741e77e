"""Full text through the CLI: `once` fetches teaser pages and `status` shows each
feed's mode and page failure rate; `test-rule --url --full-text` matches page text."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import cli
from feedserver import FeedServer
from receivers import WebhookReceiver

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"
HTML = "text/html; charset=utf-8"

CONFIG = """
poll: {{interval: 15m, timeout: 5s}}
feeds:
  - {{url: "{feed}", name: Teasers}}
  - {{url: "{plain}", name: NoPages, full_text: false}}
recipients:
  hook: ["{hook}"]
rules:
  - name: partner
    query: '"partner-only" AND "mainland China"'
    notify: [hook]
  - name: zoom
    query: 'Zoom'
    notify: [hook]
"""


def rss(base: str, *paths: str) -> str:
    items = "".join(f"<item><title>Zoom item {p}</title><link>{base}{p}</link><guid>{p}</guid>"
                    "<description>Teaser.</description></item>" for p in paths)
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            f"{items}</channel></rss>")


def test_once_alerts_body_matches_and_status_shows_page_failures(tmp_path: Path,
                                                                 db_url: str) -> None:
    with FeedServer() as server, WebhookReceiver() as hook:
        server.add("/robots.txt", "", status=404)
        server.add_file("/zoom", PAGES / "zoom-partner.html", content_type=HTML)
        server.add("/pdf", b"%PDF", content_type="application/pdf")
        base = server.base_url
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(
            feed=server.add("/f.xml", rss(base, "/zoom", "/pdf"),
                            content_type="application/rss+xml"),
            plain=server.add("/p.xml", rss(base, "/other"), content_type="application/rss+xml"),
            hook=hook.json_url("/hook")))
        runs = []
        for _ in range(2):  # the second run neither refetches nor re-alerts
            done = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
            assert done.returncode == 0, done.stderr
            runs.append(done.stderr)
        # The summary counts the match found in the page's text with the items' three.
        assert "3 new articles, 4 new matches;" in runs[0], runs[0]
        assert "0 new articles, 0 new matches;" in runs[1], runs[1]
        # The page that could not be read is named, with why, once.
        assert ("1 article page not read (1 failed, 0 to retry in a later run): not HTML: "
                "content-type 'application/pdf' (1); those items were matched on the feed's "
                "text alone") in runs[0], runs[0]
        assert "not read" not in runs[1]
        assert sorted(r.json["title"] for r in hook.delivered) == sorted([
            "[zoom] Zoom item /zoom", "[zoom] Zoom item /pdf", "[zoom] Zoom item /other",
            "[partner] Zoom item /zoom"])
        assert len(server.requests_to("/zoom")) == 1 and server.requests_to("/other") == []
        # The alert says why: the body phrase, marked, from the page's text.
        body = next(r.json["message"] for r in hook.delivered if "[partner]" in r.json["title"])
        assert "In the full article" in body and "partner-only" in body
        status = cli("status", "-c", str(config), "-f", "json", cwd=tmp_path, db_url=db_url)
        assert status.returncode == 0, status.stderr
        rows = {r["name"]: r for r in json.loads(status.stdout)}
        assert rows["Teasers"]["full_text"] == "auto: 1 of 2 pages failed (50%)"
        assert rows["Teasers"]["full_text_failure_rate"] == 0.5
        assert rows["NoPages"]["full_text"] == "false"
        assert rows["Teasers"]["push"] == "polled"  # no hub, no websub: section
        table = cli("status", "-c", str(config), cwd=tmp_path, db_url=db_url,
                    env={"COLUMNS": "300"})
        assert "1 of 2 pages failed" in table.stdout


def test_test_rule_full_text_matches_the_page(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/robots.txt", "", status=404)
        server.add_file("/zoom", PAGES / "zoom-partner.html", content_type=HTML)
        url = server.add("/f.xml", rss(server.base_url, "/zoom"),
                         content_type="application/rss+xml")
        absent = str(tmp_path / "absent.yaml")
        without = cli("test-rule", '"partner-only"', "--url", url, "-f", "jsonl", "-c", absent,
                      cwd=tmp_path)
        with_pages = cli("test-rule", '"partner-only"', "--url", url, "--full-text", "-f",
                         "jsonl", "-c", absent, cwd=tmp_path)
    assert without.returncode == 0 and without.stdout == ""
    assert with_pages.returncode == 0, with_pages.stderr
    (row,) = [json.loads(x) for x in with_pages.stdout.splitlines()]
    assert "«partner-only»" in row["snippet"] and row["full_text_error"] is None
    assert row["full_text"].startswith("Zoom Video Communications will stop selling")
