"""Issue 8, item 7: the command line for scripts and for an 80-column terminal, through
the real `news-monitor` process on a database filled by `demo --keep`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from clirun import cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the demo's 4 matches (rules zoom-china, app-bans) and sent alerts."""
    work = tmp_path_factory.mktemp("demo")
    db = work / "kept.db"
    done = cli("demo", "--keep", str(db), cwd=work)
    assert done.returncode == 0, done.stderr
    return db


@pytest.fixture
def config(demo_db: Path, tmp_path: Path) -> Path:
    """A config on the demo database that names one of its two rules."""
    path = tmp_path / "monitor.yaml"
    path.write_text(f"database: sqlite:///{demo_db}\nfeeds: []\nrules:\n"
                    "  - {name: zoom-china, query: 'Zoom AND China', notify: [console]}\n"
                    "recipients:\n  console: ['console://']\n")
    return path


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    from monitor import __version__

    done = cli("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"news-monitor {__version__}"


def test_demo_keep_says_how_to_look_inside(demo_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "again.db"
    done = cli("demo", "--keep", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"MONITOR_DATABASE_URL=sqlite:///{db} news-monitor matches" in done.stdout
    # The URL it prints opens the kept database (the env var overrides the config's).
    look = cli("matches", "-c", str(REPO / "config" / "example.yaml"), "--format", "jsonl",
               cwd=tmp_path, db_url=f"sqlite:///{db}")
    assert look.returncode == 0, look.stderr
    assert len(look.stdout.splitlines()) == 4


@pytest.mark.parametrize(("rule", "suggestion"), [
    ("zoom-chna", "did you mean 'zoom-china'?"),   # a configured rule, mistyped
    ("app-bnas", "did you mean 'app-bans'?"),      # a rule that only has stored matches
])
def test_matches_with_an_unknown_rule_fails_with_did_you_mean(
    config: Path, tmp_path: Path, rule: str, suggestion: str
) -> None:
    done = cli("matches", "-c", str(config), "--rule", rule, cwd=tmp_path)
    assert done.returncode == 2
    assert suggestion in done.stderr, done.stderr
    assert done.stdout == ""


def test_matches_of_a_known_rule_without_rows_is_not_an_error(config: Path,
                                                              tmp_path: Path) -> None:
    done = cli("matches", "-c", str(config), "--rule", "zoom-china", "--since", "1s",
               "--format", "csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # No rows, and still the whole header: scripts read columns by name.
    assert done.stdout.splitlines() == [
        "rule,title,url,feed,published,matched_at,story,lang,terms,snippet,evidence"]


def test_matches_csv_header_is_the_same_with_rows(config: Path, tmp_path: Path) -> None:
    done = cli("matches", "-c", str(config), "--format", "csv", cwd=tmp_path)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 4 and list(rows[0])[-1] == "evidence"


def test_alerts_list_jsonl_has_kind_and_the_article(config: Path, tmp_path: Path) -> None:
    done = cli("alerts", "list", "-c", str(config), "--format", "jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 4
    assert {r["kind"] for r in rows} == {"match"}
    titles = {r["title"]: r["url"] for r in rows}
    assert titles["Commerce Department moves to bar WeChat transfers"] == (
        "https://demo.invalid/tech/wechat-rule")


def test_alerts_retry_of_an_unknown_id_exits_2(config: Path, tmp_path: Path) -> None:
    done = cli("alerts", "retry", "-c", str(config), "--id", "9999", cwd=tmp_path)
    assert done.returncode == 2
    assert "no alert with id 9999" in done.stderr
    # A known id that was sent is a different problem (exit 1), named as such.
    sent = cli("alerts", "retry", "-c", str(config), "--id", "1", cwd=tmp_path)
    assert sent.returncode == 1 and "1 is sent" in sent.stderr


@pytest.mark.parametrize("argv", [["matches"], ["alerts", "list"], ["status"]])
def test_tables_at_80_columns_keep_key_columns_whole(
    config: Path, tmp_path: Path, argv: list[str]
) -> None:
    done = cli(*argv, "-c", str(config), cwd=tmp_path, env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout, done.stdout
    if argv != ["status"]:
        assert "│ zoom-china │" in done.stdout and "│ app-bans " in done.stdout, done.stdout


def test_feeds_export_to_a_missing_folder_is_a_clear_error(config: Path,
                                                           tmp_path: Path) -> None:
    target = tmp_path / "nonexistent" / "x.opml"
    done = cli("feeds", "export", "-c", str(config), "-o", str(target), cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{target}: cannot write: No such file or directory" in done.stderr
