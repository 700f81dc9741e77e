"""Dates through the CLI: an Atom entry with only <updated> is dated by it, everywhere.

The feed file tests/data/feeds/atom-updated-only.xml is served locally; `once`
stores it, and `matches` must show each entry's published date, else its updated
date (never null when the feed gave a date, never the fetch time) in jsonl, csv
and the table.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from clirun import cli
from feedserver import FeedServer

FEED = Path(__file__).resolve().parent.parent / "data" / "feeds" / "atom-updated-only.xml"
EXPECTED = {
    "https://wire.example/zoom-china": "2026-11-23T11:00:00+00:00",  # <updated> only
    "https://wire.example/zoom-partners": "2026-11-22T08:30:00+00:00",  # <updated>, +01:00
    "https://wire.example/zoom-earnings": "2026-11-20T08:00:00+00:00",  # <published> wins
    "https://wire.example/zoom-note": None,  # undated: null, not the fetch time
}


@pytest.fixture
def stored(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    with FeedServer() as feeds:
        url = feeds.add_file("/atom.xml", FEED, content_type="application/atom+xml")
        config = tmp_path / "monitor.yaml"
        config.write_text(
            "database: sqlite:///ignored.db\n"
            f"feeds:\n  - {{url: \"{url}\", name: Atom}}\n"
            "rules:\n  - {name: zoom, query: Zoom}\n"
        )
        run = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
        assert run.returncode == 0, run.stderr
    return config


def _matches(config: Path, db_url: str, fmt: str) -> str:
    out = cli("matches", "-c", str(config), "--format", fmt, cwd=config.parent, db_url=db_url,
              env={"COLUMNS": "250"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_matches_jsonl_and_csv_use_updated_when_published_is_missing(stored, db_url: str) -> None:  # type: ignore[no-untyped-def]
    rows = [json.loads(line) for line in _matches(stored, db_url, "jsonl").splitlines()]
    assert {r["url"]: r["published"] for r in rows} == EXPECTED
    table = csv.DictReader(io.StringIO(_matches(stored, db_url, "csv")))
    assert {r["url"]: r["published"] or None for r in table} == EXPECTED


def test_matches_table_shows_the_updated_date(stored, db_url: str) -> None:  # type: ignore[no-untyped-def]
    lines = _matches(stored, db_url, "table").splitlines()
    (row,) = [line for line in lines if "Zoom exits direct sales" in line and "│" in line]
    assert "2026-11-23 11:00" in row  # tables show times to the minute
