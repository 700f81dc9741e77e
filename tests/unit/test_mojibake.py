"""Double-encoded UTF-8 in feeds ("LehrstÃ¼ck") is repaired; ordinary text is left alone."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from monitor.article import FeedSpec
from monitor.feeds.mojibake import repair
from monitor.feeds.parse import entry_key, parse_feed

#: What double-encoded UTF-8 leaves in text: "Ã" or "â€" and a continuation character.
MOJIBAKE = re.compile("Ã[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u2018-\u203a]|â€")


@pytest.mark.parametrize(("written", "meant"), [
    # one correct "–" beside it kept feedparser's whole-value repair from running
    ("Das LehrstÃ¼ck der Disruption – 10 Jahre iPhone",
     "Das Lehrstück der Disruption – 10 Jahre iPhone"),
    ("World â€º Trump says Mexico would repay", "World › Trump says Mexico would repay"),
    ("itâ€™s", "it’s"),
    ("SÃ£o Paulo", "São Paulo"),
    ("CAFÃ‰ Ã\xa0 la carte", "CAFÉ à la carte"),
    ("â€šÃ„Ã¬", "–"),  # encoded twice over
])
def test_double_encoded_text_is_repaired(written: str, meant: str) -> None:
    assert repair(written) == meant


@pytest.mark.parametrize("text", [
    "São Paulo", "Ñandú", "£5", "Ø 5 mm", "naïve café", "plain ASCII",
    # hold a lead and a continuation character that spell UTF-8 ("É»" is "ɻ"): not mojibake
    "«CAFÉ» du coin", "le «GRAND ÉTÉ»", "Er sagte: „Fuß…", "Die „Straße“ ist lang",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert repair(text) == text


def test_an_entry_is_repaired_and_keeps_the_key_of_its_text_as_written() -> None:
    """No guid, no link: the key hashes the title, as written, so an item stored before
    this repair is not stored again."""
    title = "LehrstÃ¼ck – 10 Jahre"
    body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            f"<item><title>{title}</title><description>Ã©tÃ© â€“ Ã  la plage</description>"
            "</item></channel></rss>").encode()
    (article,) = parse_feed(body, {}, FeedSpec(url="https://t.test/rss", name="T")).articles
    assert (article.title, article.summary) == ("Lehrstück – 10 Jahre", "été – à la plage")
    assert article.key == entry_key(None, None, title, "", "Ã©tÃ© â€“ Ã  la plage")


def test_the_double_encoded_real_world_feeds_read_as_meant(shared_data: Path) -> None:
    """The corpus's SOURCES.tsv names the real-world captures with mojibake in their
    bytes (14): none of it is left in their articles."""
    feeds = shared_data / "feeds"
    with (feeds / "SOURCES.tsv").open(encoding="utf-8", newline="") as f:
        flagged = [row["local_path"] for row in csv.DictReader(f, delimiter="\t")
                   if "mojibake" in row["notes"] and row["kind"] == "realworld"]
    assert len(flagged) >= 10
    left = {}
    for path in flagged:
        doc = shared_data / path
        result = parse_feed(doc.read_bytes(), {}, FeedSpec(url=f"https://x.test/{doc.name}",
                                                          name=doc.name))
        assert result.articles, path
        text = " ".join(f"{a.title} {a.summary} {a.content}" for a in result.articles)
        if found := MOJIBAKE.findall(text):
            left[path] = found[:5]
    assert left == {}


def test_a_json_feed_item_is_repaired_too() -> None:
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "T",
                       "items": [{"id": "1", "title": "itâ€™s LehrstÃ¼ck – 10",
                                  "content_text": "Ã©tÃ© â€“ Ã  la plage",
                                  "tags": ["CAFÃ‰"]}]}).encode()
    (article,) = parse_feed(body, {"content-type": "application/feed+json"},
                            FeedSpec(url="https://t.test/feed.json", name="T")).articles
    assert (article.title, article.content) == ("it’s Lehrstück – 10", "été – à la plage")
    assert article.categories == ("CAFÉ",)
    assert article.key == "1"
