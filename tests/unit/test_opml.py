"""OPML: lenient reading of every shared real-world file, nested folders as tags,
round trips through write_opml, and `feeds: [{opml: ...}]` in the config."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.config.load import inspect_config
from monitor.errors import ConfigError
from monitor.opml import ExportFeed, read_opml, write_opml


def shared_files(shared_data: Path) -> list[tuple[Path, int]]:
    with open(shared_data / "opml" / "SOURCES.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [(shared_data / r["local_path"], int(r["xmlUrl_count"])) for r in rows]


def test_every_shared_file_yields_every_feed(shared_data: Path) -> None:
    files = shared_files(shared_data)
    assert len(files) >= 70
    listed = {p for p, _ in files}
    # Every file on disk, also any the listing does not name (counted by pattern).
    extra = [(p, p.read_bytes().count(b"xmlUrl=")) for p in (shared_data / "opml").rglob("*.opml")
             if p not in listed]
    for path, count in files + extra:
        doc = read_opml(path.read_bytes())
        assert len(doc.feeds) + len(doc.skipped) == count, path.name
        for feed in doc.feeds:
            assert feed.url.startswith(("http://", "https://")), (path.name, feed.url)
            assert "&amp;" not in feed.url and " " not in feed.url.strip()


def test_raw_ampersands_are_kept_as_written(shared_data: Path) -> None:
    path = shared_data / "opml/plenaryapp_awesome-rss-feeds/countries/Australia.opml"
    feeds = {f.url: f for f in read_opml(path.read_bytes()).feeds}
    kusa = feeds["http://rssfeeds.9news.com/kusa/home&x=1"]
    assert (kusa.title, kusa.tags) == ("KUSA - News", ("Australia",))


def test_a_feed_hidden_by_broken_markup_is_recovered(shared_data: Path) -> None:
    path = shared_data / "opml/plenaryapp_awesome-rss-feeds/recommended/Android_Development.opml"
    feeds = {f.url: f for f in read_opml(path.read_bytes()).feeds}
    saket = feeds["https://saket.me/feed/"]  # behind a description full of raw <a href="">
    assert saket.title == "Saket Narayan" and saket.tags == ("Android Development",)


def test_nested_outlines_become_tags_and_bom_is_handled(shared_data: Path) -> None:
    doc = read_opml((shared_data / "opml/misc/liferea_feedlist_he.opml").read_bytes())
    assert doc.title and doc.title.startswith("Liferea")
    assert all(len(f.tags) >= 1 for f in doc.feeds)
    assert len({f.tags for f in doc.feeds}) > 1  # several folders


def test_link_outlines_are_not_feeds(shared_data: Path) -> None:
    doc = read_opml((shared_data / "opml/misc/rome_opml_1.0_links.opml").read_bytes())
    assert doc.feeds == () and doc.skipped == ()


def test_lenient_cases() -> None:
    data = (
        b"\xef\xbb\xbf<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><opml><body>"
        b'<outline text="News &amp; Views"><outline text="Inner">'
        b'<outline title="A&B" xmlUrl="https://a.test/rss?x=1&section=2&amp;y=3" '
        b'category="/World/Europe,/Politics"/>'
        b"</outline></outline>"
        b'<outline text="ftp" xmlUrl="ftp://a.test/feed"/>'
        b'<outline text="unclosed" xmlUrl="https://b.test/feed">'
        b"<!-- a comment --></body></opml>"
    )
    doc = read_opml(data)
    a, b = doc.feeds
    assert a.url == "https://a.test/rss?x=1&section=2&y=3"  # no "§ion"
    assert a.title == "A&B" and a.tags == ("News & Views", "Inner", "Europe", "Politics")
    assert (b.url, b.title, b.tags) == ("https://b.test/feed", "unclosed", ())
    assert doc.skipped == ("ftp://a.test/feed",)


def test_declared_latin1_is_decoded() -> None:
    data = ('<?xml version="1.0" encoding="ISO-8859-1"?><opml><body>'
            '<outline text="Café" xmlUrl="https://c.test/"/></body></opml>').encode("latin-1")
    assert read_opml(data).feeds[0].title == "Café"


def test_write_then_read_round_trips() -> None:
    feeds = [
        ExportFeed("https://a.test/rss?x=1&y=2", "A & <B>", ("world", "politics")),
        ExportFeed("https://b.test/", "B", ("world",)),
        ExportFeed("https://c.test/", None, ()),
    ]
    doc = read_opml(write_opml(feeds).encode())
    got = [(f.url, f.title, f.tags) for f in doc.feeds]
    assert got == [
        ("https://a.test/rss?x=1&y=2", "A & <B>", ("world", "politics")),
        ("https://b.test/", "B", ("world",)),
        ("https://c.test/", "https://c.test/", ()),
    ]


def test_tags_with_the_category_separators_round_trip() -> None:
    """A comma or slash in a tag would split it in OPML's category attribute."""
    tags = ("EU, trade", "world/politics", "100% renewables", "Россия", "plain")
    doc = read_opml(write_opml([ExportFeed("https://a.test/", "A", tags)]).encode())
    assert [f.tags for f in doc.feeds] == [tags]


def write_config(tmp_path: Path, feeds_yaml: str) -> Path:
    config = tmp_path / "conf" / "monitor.yaml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(
        "database: sqlite:///x.db\n"
        f"feeds:\n{feeds_yaml}"
        "recipients: {me: ['json://127.0.0.1:9/']}\n"
        "rules:\n  - {name: r, query: x, notify: me, tags: [Australia]}\n",
        encoding="utf-8",
    )
    return config


def test_config_opml_entry_is_expanded_relative_to_the_config(
    tmp_path: Path, shared_data: Path
) -> None:
    src = shared_data / "opml/plenaryapp_awesome-rss-feeds/countries/Australia.opml"
    (tmp_path / "conf" / "lists").mkdir(parents=True)
    (tmp_path / "conf" / "lists" / "au.opml").write_bytes(src.read_bytes())
    config = write_config(tmp_path,
                          "  - {url: 'https://www.smh.com.au/rss/feed.xml', name: SMH}\n"
                          "  - {opml: lists/au.opml, tags: [imported], interval: 30m}\n")
    settings = load_settings(config, env={})
    assert len(settings.feeds) == 16  # the SMH feed is not added twice
    smh, first = settings.feeds[0], settings.feeds[1]
    assert (smh.name, smh.tags, smh.interval_s) == ("SMH", [], None)
    assert first.tags == ["Australia", "imported"] and first.interval_s == 1800
    assert all(f.opml is None and f.url for f in settings.feeds)


@pytest.mark.parametrize(
    ("feeds_yaml", "expected"),
    [
        ("  - {opml: missing.opml}\n",
         "feeds[0].opml: cannot read {base}/missing.opml: No such file or directory (line 3, column 12)"),
        ("  - {name: x}\n",
         "feeds[0]: give either url (one feed) or opml (a file of feeds) (line 3, column 5)"),
        ("  - {opml: a.opml, url: 'https://a.test/'}\n",
         "feeds[0]: give either url (one feed) or opml (a file of feeds) (line 3, column 5)"),
    ],
)
def test_config_opml_problems_have_positions(
    tmp_path: Path, feeds_yaml: str, expected: str
) -> None:
    config = write_config(tmp_path, feeds_yaml)
    with pytest.raises(ConfigError) as e:
        load_settings(config, env={})
    assert expected.format(base=config.parent) in e.value.problems


def test_config_opml_warns_of_the_outlines_it_leaves_out(tmp_path: Path) -> None:
    """A typo'd or non-http xmlUrl is no feed: check says so instead of dropping it."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "list.opml").write_text(
        '<opml><body><outline text="Australia">'
        '<outline text="Good" xmlUrl="https://good.test/rss"/>'
        '<outline text="Typo" xmlUrl="hhttps://typo.test/rss"/></outline>'
        '<outline text="Unread" type="vfolder" xmlUrl="vfolder"/></body></opml>',
        encoding="utf-8")
    config = write_config(tmp_path, "  - {opml: list.opml}\n")
    report = inspect_config(config, env={})
    assert report.settings is not None and [f.url for f in report.settings.feeds] == [
        "https://good.test/rss"]
    (warning,) = report.warnings
    assert warning.startswith(f"feeds[0].opml: {config.parent}/list.opml: left out 2 "
                              "outline(s) whose xmlUrl is not an http(s) URL: "
                              "'hhttps://typo.test/rss', 'vfolder' (line 3, column 12)")
