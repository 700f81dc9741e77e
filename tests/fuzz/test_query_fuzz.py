"""Fuzz: rule queries. A query is config: it compiles or raises QueryError (a
ConfigError with a column inside the query), never anything else; and a rule that
compiled matches any article without raising.

Queries are random token streams of the grammar's pieces, well-formed or not
(operators in odd places, fields, NEAR distances, regexes RE2 refuses), and arbitrary
strings and bytes decoded the ways a config file may carry them.
"""

from __future__ import annotations

import pytest
from fuzzkit import fuzz_settings
from hypothesis import event, example, given
from hypothesis import strategies as st

from monitor.article import Article, RuleSpec
from monitor.errors import QueryError
from monitor.rules.compile import compile_query, compile_rules

pytestmark = pytest.mark.fuzz

ENTITIES = {"China": ["China", "PRC", "People's Republic"], "TikTok": ["TikTok", "tik tok"],
            "Empty": [], "Odd": ["", "*", "\u0301", "ǅ"]}
PIECES = [
    # words, wildcards, phrases, entities, regexes, fields, operators, as written
    "ban", "Zürich", "İstanbul", "ß", "ǅ", "東京", "٣", "e\u0301", "x" * 300, "'s", "C++",
    "ban*", "ba*", "b*", "*", "**", "ban**", "ba*n", "?", "co?or",
    '"a b"', '""', '"*"', '" "', '"ban', '"ﬁ"', '"a\u00adb"',
    "@China", "@TikTok", "@Empty", "@Odd", "@Nope", "@", "@@", "@China*",
    "/a+/", "/ban(ned)?/", "/(/", "/[/", "/\\/", "/\\", "//", "/.*/", "/(a*)*b/", "/a{99999}/",
    "/(a)\\1/", "/(?=a)/", "/\\p{Han}/", "/(?i)ZOOM/", "/\\bban\\b/", "/\\x{110000}/", "/\x00/",
    "title:", "summary:", "content:", "fulltext:", "author:", "category:", "url:", "feed:",
    "tag:", "lang:", "TITLE:", "bogus:", "title:title:", ":", "a:b", "http://x.example/",
    "(", ")", "()", "AND", "OR", "NOT", "-", "--", "-ban", "and", "or", "not",
    "NEAR", "NEAR/0", "NEAR/5", "NEAR/100", "NEAR/101", "NEAR/-1", "NEAR/", "NEAR/x",
    "NEAR/" + "9" * 30, "NEAR/٣", "NEAR/²", "near/5",
]
SEPARATORS = [" ", "", "  ", "\t", "\n", "\u3000", "\u00a0", "\u200b"]

token_streams = st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(SEPARATORS)),
                         max_size=14).map(lambda ts: "".join(p + s for p, s in ts))
raw_texts = st.text(max_size=80) | st.binary(max_size=80).map(
    lambda b: b.decode("utf-8", "replace")) | st.binary(max_size=80).map(
    lambda b: b.decode("latin-1"))
queries = token_streams | raw_texts | st.tuples(token_streams, raw_texts).map("".join)

#: Queries that mostly compile, so matching gets rules to run.
LITERALS = ["ban", "ban*", "Zürich", "ß", "东京", '"tik tok"', '"People\'s Republic"', "@China",
            "@TikTok", "@Odd", "/ban(ned)?/", "/(?i)ZOOM/", "/\\bprc\\b/", "title:ban",
            "author:(zoom OR china)", "lang:en", "tag:news", "url:f.example", "feed:f"]
OPERATORS = [" ", " AND ", " OR ", " NEAR/0 ", " NEAR/3 ", " AND NOT ", " -"]
valid_queries = st.tuples(st.sampled_from(LITERALS), st.lists(st.tuples(
    st.sampled_from(OPERATORS), st.sampled_from(LITERALS)), max_size=5)).map(
    lambda t: t[0] + "".join(op + lit for op, lit in t[1]))

ARTICLE_TEXT = st.lists(st.sampled_from(
    ["ban", "banned", "zoom", "china", "tiktok", "tik", "tok", "prc", "People's", "Republic",
     " ", " ", "Zürich", "İ", "ß", "东京", "\u0301", "\x00", "\ud800", "\n", "-", "'s", "ﬁ",
     "٣", "a"]), max_size=30).map("".join)


def check_query(query: str) -> None:
    try:
        compiled = compile_query(query, ENTITIES)
    except QueryError as e:
        assert e.column is None or 1 <= e.column <= len(query) + 1, (e.column, query)
        return
    assert compiled.ast is not None


@fuzz_settings(scale=1.0)
@given(queries)
@example("/a{99999}/")  # RE2 refuses the repeat count: a QueryError, not re2.error
@example("NEAR/" + "9" * 5000)  # int() of 5,000 digits raised ValueError
@example("NEAR/²")  # "²".isdigit(), but int("²") raised ValueError
@example("@Odd")  # an entity whose aliases fold to nothing
def test_query_compiles_or_raises_query_error(query: str) -> None:
    check_query(query)


@fuzz_settings(scale=0.5)
@given(st.lists(valid_queries | queries, min_size=1, max_size=4), ARTICLE_TEXT, ARTICLE_TEXT, ARTICLE_TEXT)
@example(["/ban(ned)?/"], "", "", "ban\ud800")  # RE2 raised UnicodeEncodeError (nightly run)
def test_compiled_rules_match_any_article(query_list: list[str], title: str, summary: str,
                                          content: str) -> None:
    rules = []
    for i, query in enumerate(query_list):
        try:
            compile_query(query, ENTITIES)
        except QueryError:
            continue
        rules.append(RuleSpec(name=f"r{i}", query=query))
    event(f"rules compiled: {len(rules)}")
    ruleset = compile_rules(rules, ENTITIES)
    article = Article(feed_url="https://f.example/", feed_name="f", feed_tags=("news",),
                      key="k", guid="k", link="https://f.example/a?x=1", canonical_url=None,
                      title=title, summary=summary, content=content, authors=(title,),
                      categories=(summary,), language="en")
    for match in ruleset.match(article):
        for hit in match.hits:
            text = article.field_text(hit.field)
            assert 0 <= hit.start <= hit.end <= len(text)
