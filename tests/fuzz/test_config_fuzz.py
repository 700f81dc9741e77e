"""Fuzz: the config loader. Whatever the file holds, load_settings returns Settings or
raises ConfigError (whose problems name the place); never another exception. And what
it accepts can be used: every rule compiles, every duration fits a timedelta.

Inputs are config/example.yaml mutated two ways: as a tree (keys dropped or renamed,
values of the wrong type, odd unicode, huge numbers) dumped back to YAML, and as bytes
(lines repeated, so keys are duplicated; anchors, aliases and merges inserted; tags,
BOMs, truncation).
"""

from __future__ import annotations

import copy
import math
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzzkit import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st
from mutate import mutated

from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.rules.compile import compile_rules

pytestmark = pytest.mark.fuzz

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
EXAMPLE_TEXT = EXAMPLE.read_bytes()
EXAMPLE_TREE = yaml.safe_load(EXAMPLE_TEXT)
ENV = {"SMTP_PASSWORD": "s3cret", "FEED_TOKEN": "tok", "EMPTY": ""}

ODD_STRINGS = ["", " ", "\t", "\u200b", "\u202e", "ǅ", "İ", "\ud7ff", "\U0001f4a9", "${",
               "${NOPE}", "${EMPTY}", "$${X}", "x" * 2000, "0", "-1", "1e999", "nan", "yes",
               "~", "null", "15", "15m", "0s", "-5m", "1h30x", "9" * 30 + "d", "9" * 5000,
               "99999999999999999999GB", "1e3MB", "1.5KiB", "http://", "https://[::1/",
               "sqlite:///", "postgresql://u:p@/", "mailto:", "json://localhost/",
               "Europe/Nowhere", "25:61", "@China", '"a', "title:(", "/(/"]
ODD_VALUES = st.one_of(
    st.sampled_from(ODD_STRINGS), st.text(max_size=20), st.none(), st.booleans(),
    st.integers(), st.sampled_from([0, -1, 2**63, 10**30, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True), st.just([]), st.just({}),
    st.lists(st.sampled_from(ODD_STRINGS), max_size=3),
    st.dictionaries(st.sampled_from(["url", "name", "query", "x", ""]),
                    st.sampled_from(ODD_STRINGS), max_size=2),
)
YAML_SNIPPETS = [
    b"&a ", b"*a", b"<<: *a\n", b"- &x [*x]\n", b"!!python/object/apply:os.system ['true']",
    b"!!binary ", b"!!binary x\n", b"!!timestamp ", b"!!float ", b"!!int ", b"!custom ",
    b"? ", b"- ", b": ", b"{", b"}", b"[", b"]", b"'", b'"', b"|", b">", b"#", b"%YAML 1.1\n",
    b"---\n", b"...\n", b"\t", b"\xef\xbb\xbf", b"\x00", b"\xff", b"\r", b"\x85", "\u2028".encode(),
    b"${X}", b"${", b"$${", b"9" * 400, b"1e999", b".inf", b".nan", b"0x1F", b"0o17",
    b"2026-13-45", b"\xf0\x9f\x92\xa9", b'"\\ud800"', b'"\\x00"', b"<<: [*a, *a]\n",
    # YAML billion laughs
    (b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
     b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
     b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"),
]


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


PATHS = [p for p in paths(EXAMPLE_TREE) if p]


@st.composite
def mutated_tree(draw: st.DrawFn) -> Any:
    tree = copy.deepcopy(EXAMPLE_TREE)
    for _ in range(draw(st.integers(1, 5))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = tree
        try:
            for part in path[:-1]:
                parent = parent[part]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed it
        key = path[-1]
        op = draw(st.sampled_from(["drop", "rename", "replace", "replace"]))
        if op == "drop":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            new = draw(st.sampled_from([str(key).upper(), str(key)[:-1], f"{key}_", "", "<<"])
                       | st.text(max_size=8))
            parent[new] = parent.pop(key)
        else:
            parent[key] = draw(ODD_VALUES)
    return tree


def dump(tree: Any) -> bytes:
    return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False).encode("utf-8",
                                                                           "surrogatepass")


def check_config(text: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "monitor.yaml"
        path.write_bytes(text)
        try:
            settings = load_settings(path, ENV)
        except ConfigError as e:
            assert e.problems and all(isinstance(p, str) and p for p in e.problems)
            return
    check_usable(settings)


def check_usable(settings: Settings) -> None:
    """What the service does with Settings at start must not fail on accepted values."""
    compile_rules(settings.rule_specs(), settings.entity_aliases())
    settings.feed_specs()
    now = datetime(2026, 12, 2, tzinfo=UTC)
    for value in durations(settings):
        now + timedelta(seconds=value)  # raises OverflowError past year 9999


def durations(model: Any) -> list[int]:
    """Every ``*_s`` field of the settings tree."""
    found = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name.endswith("_s") and isinstance(value, (int, float)):
            assert math.isfinite(value)
            found.append(value)
        items = value if isinstance(value, list) else list(value.values()) if isinstance(
            value, dict) else [value]
        for item in items:
            if hasattr(type(item), "model_fields"):
                found += durations(item)
    return found


def test_the_example_loads() -> None:
    check_usable(load_settings(EXAMPLE, ENV))


@fuzz_settings(scale=0.5)
@given(mutated_tree())
def test_mutated_config_tree_loads_or_raises_config_error(tree: Any) -> None:
    check_config(dump(tree))


@fuzz_settings(scale=0.5)
@given(mutated(EXAMPLE_TEXT, YAML_SNIPPETS, most=5))
def test_mutated_config_bytes_load_or_raise_config_error(text: bytes) -> None:
    check_config(text)


@fuzz_settings(scale=0.5)
@given(st.recursive(ODD_VALUES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["database", "poll", "feeds", "rules", "recipients", "entities",
                     "delivery", "http", "stories", "x"]), inner, max_size=4), max_leaves=12))
def test_any_yaml_value_loads_or_raises_config_error(tree: Any) -> None:
    check_config(dump(tree))


def with_poll(key: str, value: Any) -> bytes:
    tree = copy.deepcopy(EXAMPLE_TREE)
    tree["poll"][key] = value
    return dump(tree)


def with_feed_url(url: str) -> bytes:
    tree = copy.deepcopy(EXAMPLE_TREE)
    tree["feeds"][0]["url"] = url
    return dump(tree)


REGRESSIONS = [
    # (config file, a phrase of the problem reported) -- each once raised something else
    # the pure-Python YAML reader refuses control characters in its constructor: ReaderError
    (b"database: x\n\x00", "control character U+0000 is not allowed (line 2, column 1)"),
    (EXAMPLE_TEXT.replace(b"poll:", b"poll:\x07", 1), "U+0007"),
    # PyYAML's constructor of an explicitly tagged scalar raised AttributeError/ValueError
    (b"database: !!timestamp \n", "cannot read this value: not a valid !!timestamp"),
    (b"database: !!bool maybe\n", "cannot read this value: not a valid !!bool"),
    (b"database: !!int x\n", "cannot read this value"),
    (b"poll: {interval: !!timestamp 2026-13-45}\n", "cannot read this value"),
    # urlsplit raises on unbalanced IPv6 brackets: ValueError from the duplicate-URL check
    (with_feed_url("https://[::1/"), "must be an http:// or https:// URL"),
    # accepted, then timedelta() overflowed at start: now at most 100 years
    (with_poll("interval", "9" * 30 + "d"), "must be at most 100 years"),
    (with_poll("interval", 10**30), "must be at most 100 years"),
    # int() of 5,000 digits raised ValueError in the bare-number warning
    (with_poll("interval", "9" * 5000), "invalid duration '99999"),
    # float("9" * 400) is inf, and int(inf) raised OverflowError
    (with_poll("max_size", "9" * 30 + "GB"), "must be at most 1TB"),
    (with_poll("max_size", "9" * 400 + "GB"), "invalid size"),
]


@pytest.mark.parametrize(("text", "problem"), REGRESSIONS)
def test_crash_found_by_fuzzing_is_a_config_error(text: bytes, problem: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "monitor.yaml"
        path.write_bytes(text)
        with pytest.raises(ConfigError) as raised:
            load_settings(path, ENV)
    assert problem in "\n".join(raised.value.problems)


SCHEMES = ["console", "mailto", "mailtos", "json", "jsons", "slack", "tgram", "mqtt", "ntfy",
           "discord", "form", "xml", "nope", ""]
URL_TAILS = st.lists(st.sampled_from(
    ["x", "@", ":", "/", "//", "?", "&", "=", "%", "%zz", "[", "]", "::1", "#", " ", "\u202e",
     "é", "${X}", "a" * 300, "to=", "from=", "-X-Token=", "99999999999", ":0", ":65536"]),
    max_size=10).map("".join)


@fuzz_settings(scale=0.1)  # apprise is slow to load and to parse: 20 examples, 500 nightly
@given(st.lists(st.tuples(st.sampled_from(SCHEMES), URL_TAILS).map(lambda t: f"{t[0]}://{t[1]}"),
                min_size=1, max_size=3))
def test_recipient_urls_checked_by_apprise_load_or_raise_config_error(urls: list[str]) -> None:
    # What `news-monitor check` does: every recipient URL through apprise.
    from monitor.cli.app import apprise_refusal

    tree = copy.deepcopy(EXAMPLE_TREE)
    tree["recipients"]["console"] = urls
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "monitor.yaml"
        path.write_bytes(dump(tree))
        try:
            load_settings(path, ENV, url_check=apprise_refusal)
        except ConfigError as e:
            assert e.problems
