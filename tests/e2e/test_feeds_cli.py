"""`news-monitor feeds import|export|enable` through the real CLI."""

from __future__ import annotations

from pathlib import Path

import yaml
from clirun import cli

from monitor.opml import feed_key, read_opml


def test_import_prints_entries_that_load_and_export_round_trips(
    tmp_path: Path, shared_data: Path, sqlite_url: str
) -> None:
    src = shared_data / "opml/misc/NetNewsWire_Subs.opml"
    imported = cli("feeds", "import", str(src), "--tag", "mine", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    entries = yaml.safe_load(imported.stdout)["feeds"]
    urls = {f.url for f in read_opml(src.read_bytes()).feeds}
    distinct = {feed_key(u) for u in urls}
    # Every distinct URL once ("http://x" and "http://x/" are one feed).
    assert {e["url"] for e in entries} <= urls and len(entries) == len(distinct)
    assert all("mine" in e["tags"] for e in entries)
    config = tmp_path / "monitor.yaml"
    config.write_text(imported.stdout + "rules: []\n", encoding="utf-8")
    checked = cli("check", "-c", str(config), cwd=tmp_path, db_url=sqlite_url)
    assert checked.returncode == 0, checked.stderr
    exported = cli("feeds", "export", "-c", str(config), cwd=tmp_path, db_url=sqlite_url)
    assert exported.returncode == 0, exported.stderr
    back = read_opml(exported.stdout.encode())
    assert {f.url for f in back.feeds} == {e["url"] for e in entries}
    assert {(f.url, f.title) for f in back.feeds} == {(e["url"], e.get("name", e["url"]))
                                                      for e in entries}


OPML = """<?xml version="1.0"?>
<opml version="1.0"><body><outline text="News">
  <outline text="Wire" xmlUrl="https://wire.example.org/Feed?a=1&b=2"/>
  <outline text="Wire lower" xmlUrl="https://wire.example.org/feed?a=1&b=2"/>
  <outline text="Wire again" xmlUrl="HTTPS://WIRE.example.org/Feed?a=1&b=2/"/>
  <outline text="Typo" xmlUrl="hhttps://typo.example.org/rss"/>
  <outline text="Wire" xmlUrl="https://other.example.org/rss"/>
  <outline text="Unread" type="vfolder" xmlUrl="vfolder"/>
</outline></body></opml>
"""


def test_import_says_what_it_left_out_and_keeps_feeds_differing_in_path_case(
    tmp_path: Path, shared_data: Path
) -> None:
    src = tmp_path / "list.opml"
    src.write_text(OPML, encoding="utf-8")
    imported = cli("feeds", "import", str(src), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    entries = yaml.safe_load(imported.stdout)["feeds"]
    # /Feed and /feed are two feeds; the host's case and a trailing slash are not.
    assert [e["url"] for e in entries] == ["https://wire.example.org/Feed?a=1&b=2",
                                           "https://wire.example.org/feed?a=1&b=2",
                                           "https://other.example.org/rss"]
    assert "left out 2 outlines whose xmlUrl is not an http(s) URL: " \
           "'hhttps://typo.example.org/rss', 'vfolder'" in imported.stderr
    assert "left out 1 duplicate of a feed listed before: HTTPS://WIRE.example.org/Feed?a=1&b=2/" \
           " (as https://wire.example.org/Feed?a=1&b=2)" in imported.stderr
    assert "1 feed named by URL (an earlier feed has the same title): " \
           "https://other.example.org/rss ('Wire')" in imported.stderr
    # A real export with a typo'd scheme: the feed is named, not dropped in silence.
    liferea = cli("feeds", "import", str(shared_data / "opml/misc/liferea_feedlist_fa.opml"),
                  cwd=tmp_path)
    assert liferea.returncode == 0, liferea.stderr
    assert "'hhttps://bigbangpage.com/?feed=rss2'" in liferea.stderr


def test_export_expands_opml_entries_and_enable_needs_a_known_url(
    tmp_path: Path, shared_data: Path, sqlite_url: str
) -> None:
    src = shared_data / "opml/plenaryapp_awesome-rss-feeds/countries/Brazil.opml"
    config = tmp_path / "monitor.yaml"
    config.write_text(f"feeds:\n  - {{opml: '{src}'}}\n", encoding="utf-8")
    exported = cli("feeds", "export", "-c", str(config), cwd=tmp_path, db_url=sqlite_url)
    assert exported.returncode == 0, exported.stderr
    back = read_opml(exported.stdout.encode())
    assert len(back.feeds) == 7 and all(f.tags == ("Brazil",) for f in back.feeds)
    missing = cli("feeds", "enable", "https://nowhere.test/", "-c", str(config), cwd=tmp_path,
                  db_url=sqlite_url)
    assert missing.returncode == 1 and "no feed with URL" in missing.stderr


def test_export_masks_a_feed_url_secret_from_the_environment(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("feeds:\n  - url: https://private.example.org/feed?k=${FEED_TOKEN}\n"
                      "  - url: https://public.example.org/Rss20Reuters.xml\nrules: []\n",
                      encoding="utf-8")
    exported = cli("feeds", "export", "-c", str(config), cwd=tmp_path, db_url=sqlite_url,
                   env={"FEED_TOKEN": "s3cr3t-f33d-t0k3n"})
    assert exported.returncode == 0, exported.stderr
    assert "s3cr3t-f33d-t0k3n" not in exported.stdout + exported.stderr
    urls = {f.url for f in read_opml(exported.stdout.encode()).feeds}
    assert urls == {"https://private.example.org/feed?k=***",
                    "https://public.example.org/Rss20Reuters.xml"}  # what the user wrote
    assert "1 feed URL with secrets from ${VAR} written masked" in exported.stderr
