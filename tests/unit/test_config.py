"""Configuration loading: every problem named with its path, line and column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.article import FeedSpec, RuleSpec
from monitor.config import (
    DEFAULT_DATABASE,
    PollSettings,
    Settings,
    load_settings,
    parse_duration,
    parse_size,
)
from monitor.config.source import interpolate
from monitor.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "config"
EXAMPLE = REPO / "config" / "example.yaml"

# A recipient and a feed that the rule cases below can refer to.
HEADER = """\
recipients:
  policy-chat: ["console://"]
feeds:
  - {url: "https://thehill.com/news/feed/", name: The Hill, tags: [us-politics]}
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "monitor.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_settings(path, env or {})


def problems_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    return info.value.problems


INVALID = [
    # typo'd key at the top level, with a suggestion
    ("databse: sqlite:///x.db\n",
     "databse: unknown key (line 1, column 1); did you mean 'database'?"),
    # typo'd key in poll
    ("poll:\n  interval: 5m\n  timout: 20s\n",
     "poll.timout: unknown key (line 3, column 3); did you mean 'timeout'?"),
    # the Python field name is not a YAML key
    ("poll:\n  interval_s: 60\n",
     "poll.interval_s: unknown key (line 2, column 3); did you mean 'interval'?"),
    # typo'd key in feeds[1]
    ("feeds:\n  - url: https://a.example/feed\n  - url: https://b.example/feed\n    intervl: 5m\n",
     "feeds[1].intervl: unknown key (line 4, column 5); did you mean 'interval'?"),
    # typo'd key in rules[0]
    (HEADER + "rules:\n  - name: r\n    query: x\n    notify: [policy-chat]\n    tag: [a]\n",
     "rules[0].tag: unknown key (line 9, column 5); did you mean 'tags'?"),
    # a key nothing resembles lists the allowed ones
    (HEADER + "rules:\n  - {name: r, query: x, notify: [policy-chat], colour: red}\n",
     "rules[0].colour: unknown key (line 6, column 48); expected one of: "
     "name, query, notify, feeds, tags, mode, digest, max_per_hour, quiet_hours, template, "
     "alert_per, story_updates, languages, spike"),
    # unknown recipient, with a suggestion
    (HEADER + "rules:\n  - name: r\n    query: x\n    notify: [policy-chat, polcy-chat]\n",
     "rules[0].notify[1]: unknown recipient 'polcy-chat' (line 8, column 27); "
     "did you mean 'policy-chat'?"),
    # unknown recipient given as a single string
    (HEADER + "rules:\n  - name: r\n    query: x\n    notify: compliance\n",
     "rules[0].notify: unknown recipient 'compliance' (line 8, column 13)"),
    # duplicate rule names
    (HEADER + "rules:\n  - {name: r, query: x, notify: []}\n  - {name: r, query: y, notify: []}\n",
     "rules[1].name: duplicate rule name 'r' (also rules[0]) (line 7, column 12)"),
    # a rule scoped to a feed that does not exist
    (HEADER + "rules:\n  - {name: r, query: x, notify: [], feeds: [The Hil]}\n",
     "rules[0].feeds[0]: unknown feed 'The Hil' (no feed has this name or URL) "
     "(line 6, column 45); did you mean 'The Hill'?"),
    # a rule scoped to a tag no feed carries
    (HEADER + "rules:\n  - {name: r, query: x, notify: [], tags: [us-politcs]}\n",
     "rules[0].tags[0]: no feed has the tag 'us-politcs' (line 6, column 44); "
     "did you mean 'us-politics'?"),
    # a required key missing: reported at its mapping
    (HEADER + "rules:\n  - name: r\n    notify: [policy-chat]\n",
     "rules[0].query: required key is missing (line 6, column 5)"),
    # bad durations
    ("poll:\n  interval: 15 minutes\n",
     "poll.interval: invalid duration '15 minutes': use seconds or 90s, 15m, 2h, 1d "
     "(line 2, column 13)"),
    ("feeds:\n  - url: https://a.example/feed\n    interval: 0s\n",
     "feeds[0].interval: invalid duration '0s': must be more than 0 seconds (line 3, column 15)"),
    ("poll:\n  timeout: -5\n",
     "poll.timeout: invalid duration -5: must be more than 0 seconds (line 2, column 12)"),
    # bad size and bad number
    ("poll:\n  max_size: 10 parsecs\n",
     "poll.max_size: invalid size '10 parsecs': use bytes or 512KB, 10MB, 1GB (line 2, column 13)"),
    ("poll:\n  concurrency: many\n",
     "poll.concurrency: expected a whole number, got 'many' (line 2, column 16)"),
    # not an http(s) URL
    ("feeds:\n  - url: file:///etc/passwd\n",
     "feeds[0].url: must be an http:// or https:// URL, got 'file:///etc/passwd' "
     "(line 2, column 10)"),
    # the same feed twice (scheme and host are case-insensitive)
    ("feeds:\n  - url: https://a.example/feed\n  - url: HTTPS://A.example/feed\n",
     "feeds[1].url: duplicate feed URL (also feeds[0]) (line 3, column 10)"),
    ("feeds:\n  - {url: 'https://a.example/1', name: A}\n"
     "  - {url: 'https://a.example/2', name: A}\n",
     "feeds[1].name: duplicate feed name 'A' (also feeds[0]) (line 3, column 40)"),
    # missing ${VAR}, at the scalar that names it
    ("recipients:\n  compliance:\n"
     "    - mailtos://${SMTP_USER:-me}:${SMTP_PASSWORD}@smtp.example.com\n",
     "recipients.compliance[0]: environment variable SMTP_PASSWORD is not set (line 3, column 7)"),
    # malformed references
    ("recipients:\n  a: json://x/${1TOKEN}\n",
     "recipients.a: invalid variable reference '${1TOKEN}' (write '$${' for a literal '${') "
     "(line 2, column 6)"),
    ("recipients:\n  a: json://x/${TOKEN\n",
     "recipients.a: unclosed '${' (write '$${' for a literal '${') (line 2, column 6)"),
    # wrong shapes
    ("feeds: {url: https://a.example/feed}\n",
     "feeds: expected a list, got a mapping (line 1, column 8)"),
    ("recipients:\n  console: []\n",
     "recipients.console: needs at least one entry (line 2, column 12)"),
    ("entities:\n  Zoom: {aliases: []}\n",
     "entities.Zoom.aliases: needs at least one entry (line 2, column 19)"),
    (HEADER + "rules:\n  - {name: '  ', query: x, notify: []}\n",
     "rules[0].name: must not be empty (line 6, column 12)"),
    # a repeated key is an error, not "last one wins"
    ("poll:\n  interval: 5m\n  interval: 10m\n",
     "poll.interval: duplicate key (first at line 2, column 3) (line 3, column 3)"),
    # a YAML tag we do not construct
    ("poll:\n  interval: !python/name:os.system 5m\n",
     "poll.interval: cannot read this value: could not determine a constructor for the tag "
     "'!python/name:os.system' (line 2, column 13)"),
    # a bad database URL
    ("database: data/news.db\n",
     "database: not a database URL: use sqlite:///path/to/file.db or "
     "postgresql+psycopg://user@host/dbname (line 1, column 11)"),
]


@pytest.mark.parametrize("text, expected", INVALID)
def test_invalid_config_names_path_and_position(tmp_path: Path, text: str, expected: str) -> None:
    assert problems_of(tmp_path, text) == [expected]


def test_missing_var_is_not_reported_twice(tmp_path: Path) -> None:
    # The raw "${POLL}" would also be an invalid duration; only the cause is reported.
    assert problems_of(tmp_path, "poll:\n  interval: ${POLL}\n") == [
        "poll.interval: environment variable POLL is not set (line 2, column 13)"]


def test_every_problem_is_reported_in_file_order() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(DATA / "many-problems.yaml", {"HOOK_TOKEN": "t0ken"})
    assert info.value.problems == [
        "databse: unknown key (line 2, column 1); did you mean 'database'?",
        "poll.interval: invalid duration '15 minutes': use seconds or 90s, 15m, 2h, 1d "
        "(line 4, column 13)",
        "feeds[0].intervl: unknown key (line 9, column 5); did you mean 'interval'?",
        "feeds[1].url: must be an http:// or https:// URL, got 'ftp://example.com/feed.xml' "
        "(line 10, column 10)",
        "feeds[2].url: duplicate feed URL (also feeds[0]) (line 11, column 10)",
        "recipients.compliance[0]: environment variable SMTP_PASSWORD is not set "
        "(line 15, column 7)",
        "rules[0].notify[1]: unknown recipient 'polcy-chat' (line 19, column 26); "
        "did you mean 'policy-chat'?",
        "rules[1].name: duplicate rule name 'zoom-china' (also rules[0]) (line 21, column 11)",
        "rules[1].tags[0]: no feed has the tag 'us-politcs' (line 24, column 12)",
    ]
    # The message holds them all, for callers that only print str(error).
    assert str(info.value).count("\n") == 8


def test_broken_feed_does_not_make_rules_referring_to_it_fail(tmp_path: Path) -> None:
    # feeds[0] is invalid (typo), but rules naming it by name or tag are not "unknown".
    text = """\
    recipients: {a: "console://"}
    feeds:
      - {url: "https://a.example/feed", name: Alpha, tags: [x], intervl: 5m}
    rules:
      - {name: r, query: y, notify: [a], feeds: [Alpha], tags: [x]}
    """
    assert problems_of(tmp_path, text) == [
        "feeds[0].intervl: unknown key (line 3, column 61); did you mean 'interval'?"]


@pytest.mark.parametrize("text, expected", [
    # an unclosed flow sequence
    ("feeds: [https://a.example/feed\nrules: []\n",
     "invalid YAML: expected ',' or ']', but got ':' (line 2, column 6)"),
    # a tab where indentation is expected
    ("poll:\n\tinterval: 5m\n",
     "invalid YAML: found character '\\t' that cannot start any token (line 2, column 1)"),
    # two documents in one file
    ("poll: {}\n---\nfeeds: []\n",
     "invalid YAML: expected a single document in the stream, but found another document "
     "(line 2, column 1)"),
])
def test_yaml_syntax_error(tmp_path: Path, text: str, expected: str) -> None:
    assert problems_of(tmp_path, text) == [expected]


@pytest.mark.parametrize("text, kind", [
    ("", "empty"),
    ("# only a comment\n", "empty"),
    ("- a\n- b\n", "a list"),
])
def test_file_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith("the configuration must be a mapping of sections")
    assert problem.endswith(f"but the file is {kind}")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.yaml", {})
    assert info.value.problems == [f"{tmp_path / 'nope.yaml'}: file not found"]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("feeds: []\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 15\)"):
        load_settings(path, {})


def test_alias_cycle_and_alias_bomb_are_refused(tmp_path: Path) -> None:
    cycle = problems_of(tmp_path, "entities: &e\n  X: {aliases: [*e]}\n")
    assert "entities.X.aliases[0]: an alias refers to a value that contains it" in cycle[0]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
        for i in range(7))
    assert problems_of(tmp_path, bomb) == ["invalid YAML: too many values (alias expansion?)"]


# --- what loads -----------------------------------------------------------------------


def test_example_config_loads_with_no_environment() -> None:
    settings = load_settings(EXAMPLE, {})
    # Relative to the file's folder: config/../data is the checkout's data/.
    assert settings.database == f"sqlite:///{REPO / 'data' / 'news-monitor.db'}"
    assert settings.recipients == {"console": ["console://"]}
    assert settings.secrets == frozenset()
    urls = [f.url for f in settings.feeds]
    assert "https://thehill.com/news/feed/" in urls
    assert any("bbci.co.uk/news/world" in u for u in urls)
    assert any("bbci.co.uk/news/technology" in u for u in urls)
    assert all(f.name and f.tags for f in settings.feeds)
    rules = {r.name: r for r in settings.rules}
    assert rules["zoom-china"].query == '@Zoom AND ("mainland China" OR "partner-only")'
    assert "NEAR/5" in rules["app-bans"].query
    assert {"Zoom", "China", "TikTok"} <= set(settings.entity_aliases())
    assert all(r.notify == ["console"] for r in settings.rules)


def test_example_config_loads_from_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    assert load_settings(EXAMPLE).poll == PollSettings()


def test_full_config_with_interpolation_and_short_forms() -> None:
    settings = load_settings(DATA / "valid-full.yaml", {"HOOK_TOKEN": "s3cret-token"})
    assert settings.database == "sqlite:////var/lib/news-monitor/state.db"  # the default
    assert settings.poll == PollSettings(interval_s=5400, timeout_s=90, concurrency=5,
                                         max_bytes=512 * 1024)
    assert settings.recipients == {
        "console": ["console://"],
        "chat": ["json://localhost/s3cret-token", "json://example.com/literal/${NOT_A_VAR}"],
    }
    assert settings.feed_specs() == [
        FeedSpec("https://thehill.com/news/feed/", "The Hill", ("us-politics",), 300,
                 shown_url="https://thehill.com/news/feed/"),
        # no name: named by its URL; no interval: the global one applies
        FeedSpec("https://feeds.bbci.co.uk/news/world/rss.xml",
                 "https://feeds.bbci.co.uk/news/world/rss.xml", ("world", "news"), None,
                 shown_url="https://feeds.bbci.co.uk/news/world/rss.xml"),
    ]
    assert settings.rule_specs() == [
        RuleSpec("zoom-china", '@Zoom AND\n("mainland China" OR "partner-only")'),
        RuleSpec("politics", "Congress",
                 ("The Hill", "https://feeds.bbci.co.uk/news/world/rss.xml"), ("us-politics",)),
    ]
    assert settings.rules[1].notify == ["console"]
    assert settings.entity_aliases() == {"Zoom": ["Zoom"],
                                         "China": ["China", "mainland China", "PRC"]}


def test_secrets_are_env_values_and_stay_out_of_dumps() -> None:
    env = {"HOOK_TOKEN": "s3cret-token", "DB_URL": "postgresql+psycopg://mon:pw-9x@db/mon"}
    settings = load_settings(DATA / "valid-full.yaml", env)
    # Defaults written in the file (HOOK_HOST) are not secrets; the DB password is.
    assert settings.secrets == frozenset({"s3cret-token", env["DB_URL"], "pw-9x"})
    assert "secret" not in repr(settings) and "secrets" not in settings.model_dump()


@pytest.mark.parametrize("env, expected", [
    ({}, "json://me/x"),                                  # unset: the default
    ({"HOST": ""}, "json://me/x"),                        # empty: the default (as a shell)
    ({"HOST": "hooks.example"}, "json://hooks.example/x"),
])
def test_default_value(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    settings = load(tmp_path, "recipients:\n  a: json://${HOST:-me}/x\n", env)
    assert settings.recipients["a"] == [expected]


def test_escape_and_plain_dollars(tmp_path: Path) -> None:
    text = "recipients:\n  a: ['json://h/$${HOME}', 'json://h/$5/a$b/${X}$']\n"
    settings = load(tmp_path, text, {"X": "x"})
    assert settings.recipients["a"] == ["json://h/${HOME}", "json://h/$5/a$b/x$"]


def test_keys_are_not_interpolated_and_keep_their_text(tmp_path: Path) -> None:
    text = "recipients:\n  ${A}: console://\n  no: console://\n  '1': console://\n"
    assert set(load(tmp_path, text, {"A": "x"}).recipients) == {"${A}", "no", "1"}


def test_empty_sections_are_empty(tmp_path: Path) -> None:
    settings = load(tmp_path, "feeds:\nrules:\nrecipients:\nentities:\npoll:\n")
    assert (settings.feeds, settings.rules, settings.recipients, settings.entities) == (
        [], [], {}, {})
    assert settings.poll == PollSettings()


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = """\
    feeds:
      - &bbc {url: "https://feeds.bbci.co.uk/news/world/rss.xml", tags: [world], interval: 5m}
      - <<: *bbc
        url: https://feeds.bbci.co.uk/news/technology/rss.xml
    """
    feeds = load(tmp_path, text).feed_specs()
    assert [(f.url.rsplit("/", 2)[1], f.tags, f.interval_s) for f in feeds] == [
        ("world", ("world",), 300), ("technology", ("world",), 300)]


@pytest.mark.parametrize("env_url", [
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "sqlite:////tmp/elsewhere.db",
])
def test_database_env_overrides_the_file(tmp_path: Path, env_url: str) -> None:
    settings = load(tmp_path, "database: sqlite:///from-file.db\n",
                    {"MONITOR_DATABASE_URL": env_url})
    assert settings.database == env_url


@pytest.mark.parametrize(("written", "expected"), [
    # a relative path: relative to the config file's folder, not the working directory
    ("sqlite:///data/x.db", "sqlite:///{dir}/data/x.db"),
    ("sqlite:///../x.db", "sqlite:///{parent}/x.db"),
    # a driver and a query survive
    ("sqlite+pysqlite:///x.db?timeout=5", "sqlite+pysqlite:///{dir}/x.db?timeout=5"),
    # absolute paths, memory databases and other databases are left alone
    ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
    ("sqlite://", "sqlite://"),
    ("sqlite:///:memory:", "sqlite:///:memory:"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
])
def test_relative_sqlite_path_is_relative_to_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str, expected: str
) -> None:
    folder = tmp_path / "etc" / "nm"
    folder.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    settings = load(folder, f"database: '{written}'\n")
    assert settings.database == expected.format(dir=folder, parent=folder.parent)


def test_default_database_is_relative_to_the_config_folder_and_env_is_taken_as_given(
    tmp_path: Path,
) -> None:
    assert DEFAULT_DATABASE == "sqlite:///data/news-monitor.db"
    assert load(tmp_path, "poll: {}\n").database == f"sqlite:///{tmp_path}/data/news-monitor.db"
    env = {"MONITOR_DATABASE_URL": "sqlite:///here.db"}
    assert load(tmp_path, "poll: {}\n", env).database == "sqlite:///here.db"


def test_bad_database_env_says_where_it_came_from(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "poll: {}\n", {"MONITOR_DATABASE_URL": "my.db"}) == [
        "database: not a database URL: use sqlite:///path/to/file.db or "
        "postgresql+psycopg://user@host/dbname (from MONITOR_DATABASE_URL)"]


def test_models_accept_field_names_from_python() -> None:
    poll = PollSettings(interval_s=60, timeout_s=5, max_bytes=100)
    assert (poll.interval_s, poll.timeout_s, poll.concurrency, poll.max_bytes) == (60, 5, 20, 100)
    assert Settings().database == DEFAULT_DATABASE


@pytest.mark.parametrize("text, seconds", [
    (90, 90), ("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400),
    ("1h30m", 5400), (" 2H ", 7200), ("1d 12h", 129600),
])
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "15 minutes", "1.5h", "0", "0s", "-1", "5x", "h5"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("text, size", [
    (1000, 1000), ("10MB", 10_000_000), ("512kb", 512_000), ("1MiB", 1_048_576),
    ("1.5 GB", 1_500_000_000), ("77", 77), ("77B", 77),
])
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "10 parsecs", "0", "0MB", "-1MB", "1 TB", True])
def test_parse_size_refuses(text: str | bool) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)  # type: ignore[arg-type]


# --- rule queries (needs monitor.rules.compile) --------------------------------------

QUERY_HEADER = HEADER + "entities:\n  Zoom: {aliases: [Zoom]}\nrules:\n"


@pytest.mark.parametrize("query, column, reason_part", [
    ('\'@Zoom AND "mainland China\'', 11, "quote"),
    ("'@Zoom AND @Zom'", 11, "Zom"),
])
def test_bad_query_is_refused_with_a_caret(tmp_path: Path, query: str, column: int,
                                           reason_part: str) -> None:
    pytest.importorskip("monitor.rules.compile")
    text = QUERY_HEADER + f"  - name: zoom\n    query: {query}\n    notify: []\n"
    [problem] = problems_of(tmp_path, text)
    first, shown, caret = problem.split("\n")
    assert first.startswith(f"rules[0] 'zoom': query column {column}: ")
    assert reason_part in first and first.endswith("(line 9, column 12)")
    assert shown == "    " + query.strip("'")
    assert caret == "    " + " " * (column - 1) + "^"


def test_example_queries_compile() -> None:
    compile_mod = pytest.importorskip("monitor.rules.compile")
    settings = load_settings(EXAMPLE, {})
    for rule in settings.rules:
        compile_mod.compile_query(rule.query, settings.entity_aliases())


# --- interpolation properties --------------------------------------------------------

TEXT = st.text(alphabet="ab${}:-_ \n", max_size=30)


@given(TEXT)
def test_escaping_every_reference_gives_the_text_back(text: str) -> None:
    # What a user writes to get `text` literally: every "${" doubled as "$${".
    assert interpolate(text.replace("${", "$${"), {}) == (text, [], [])


@given(TEXT, st.text(alphabet="xyz$}", max_size=8))
def test_a_variable_expands_to_its_value_and_is_a_secret(prefix: str, value: str) -> None:
    # (A "$" right before "${" would make "$${", the escape: documented, not tested.)
    prefix = prefix.replace("${", "$${").rstrip("$")
    text, secrets, errors = interpolate(prefix + "${V}", {"V": value})
    assert (text, errors) == (interpolate(prefix, {})[0] + value, [])
    assert secrets == ([value] if value else [])


def test_story_keys_defaults_and_values(tmp_path: Path) -> None:
    base = """
    recipients: {r: ["json://localhost/"]}
    rules:
      - {name: a, query: x, notify: [r]}
      - {name: b, query: x, notify: [r], alert_per: article, languages: [EN, de]}
      - {name: c, query: x, notify: [r], story_updates: digest}
    """
    s = load(tmp_path, base)
    assert [(r.alert_per, r.story_updates) for r in s.rules] == [
        ("story", "none"), ("article", "none"), ("story", "digest")]
    assert s.stories.window_s == 48 * 3600 and not s.stories.enabled  # opt-in for now
    assert s.rule_specs()[1].languages == ("en", "de")
    assert load(tmp_path, base + "stories: {window: 6h}\n").stories.window_s == 6 * 3600
    assert load(tmp_path, base + "stories: {enabled: true}\n").stories.enabled


def test_story_keys_refuse_bad_values(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, """
    recipients: {r: ["json://localhost/"]}
    rules:
      - {name: a, query: x, notify: [r], alert_per: outlet}
    stories: {window: soon}
    """)
    text = "\n".join(problems)
    assert "rules[0].alert_per" in text and "stories.window" in text


@pytest.mark.parametrize("text", [
    "delivery: {timeout: 90s}\n",                 # more than half the default lease (2m)
    "delivery: {timeout: 30s, lease: 40s}\n",     # more than half its lease
    "delivery: {concurrency: 0}\n",
    "retention: {articles: 90}\n",                # 90 seconds: surely meant as days
    "retention: {alerts: 1h}\n",
    "retention: {batch: 0}\n",
])
def test_delivery_and_retention_refuse(tmp_path: Path, text: str) -> None:
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith(("delivery", "retention")), problem


def test_delivery_timeout_defaults_to_30s_or_half_a_short_lease(tmp_path: Path) -> None:
    assert load(tmp_path, "poll: {}\n").delivery.timeout_s == 30
    assert load(tmp_path, "delivery: {lease: 20s}\n").delivery.timeout_s == 10
    assert load(tmp_path, "delivery: {timeout: 5s, concurrency: 8}\n").delivery.concurrency == 8


def test_retention_durations(tmp_path: Path) -> None:
    r = load(tmp_path, "retention: {articles: 90d, matches: 365d, alerts: 30d}\n").retention
    assert (r.articles_s, r.matches_s, r.alerts_s, r.every_s, r.batch) == (
        90 * 86400, 365 * 86400, 30 * 86400, 3600, 500)
    assert load(tmp_path, "poll: {}\n").retention.articles_s is None  # nothing configured: keep all


def test_commands_that_only_read_leave_queries_uncompiled(tmp_path: Path) -> None:
    """`status`, `matches`, `alerts`... load with ``queries=False``: a query typo does not
    keep them from the database (and they pay nothing for the rule compiler); `check`
    and the commands that match still refuse it."""
    pytest.importorskip("monitor.rules.compile")
    path = tmp_path / "c.yaml"
    path.write_text(QUERY_HEADER + "  - name: zoom\n    query: '@Zoom AND'\n    notify: []\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(path, {})
    assert "rules[0] 'zoom': query column" in refused.value.problems[0]
    settings = load_settings(path, {}, queries=False)
    assert [r.name for r in settings.rules] == ["zoom"]
