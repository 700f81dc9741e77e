"""The query parser: trees, precedence, round-trip, and errors that point at a column."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError, QueryError
from monitor.rules.compile import compile_query
from monitor.rules.query import (
    And,
    Entity,
    Field,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Regex,
    Term,
    Wildcard,
    parse,
    render,
)

ENTITIES = {"China": ["China", "PRC"], "TikTok": ["TikTok"]}
a, b, c, d = Term("a1"), Term("b1"), Term("c1"), Term("d1")

TREES = [
    ("a1", a),  # one term
    ("a1 b1", And((a, b))),  # implicit AND
    ("a1 AND b1", And((a, b))),  # explicit AND
    ("a1 OR b1 c1", Or((a, And((b, c))))),  # AND binds tighter than OR
    ("a1 b1 OR c1", Or((And((a, b)), c))),  # ... on either side
    ("NOT a1 b1", And((Not(a), b))),  # NOT binds tighter than AND
    ("-a1 b1", And((Not(a), b))),  # - is NOT
    ("a1 NEAR/3 b1 c1", And((Near(a, b, 3), c))),  # NEAR binds tighter than AND
    ("c1 OR a1 NEAR/3 b1", Or((c, Near(a, b, 3)))),  # ... and than OR
    ("(a1 OR b1) NEAR/2 c1", Near(Or((a, b)), c, 2)),  # OR group as a NEAR side
    ("a1 AND (b1 AND c1)", And((a, And((b, c))))),  # groups are kept, not flattened
    ("a1 OR b1 OR c1", Or((a, b, c))),  # n-ary OR
    ('"x y"', Phrase("x y")),  # phrase
    ("ban*", Wildcard("ban")),  # wildcard
    ("@China", Entity("China")),  # entity
    ("/ab{1,3}c/", Regex("ab{1,3}c")),  # regex
    (r"/a\/b/", Regex(r"a\/b")),  # escaped slash in a regex
    ("title:a1", Field("title", a)),  # field on a term
    ("title:(a1 OR b1)", Field("title", Or((a, b)))),  # field on a group
    ('summary:"x y"', Field("summary", Phrase("x y"))),  # field on a phrase
    ("NOT title:a1", Not(Field("title", a))),  # NOT of a field term
    ("title:a1 NEAR/1 b1", Near(Field("title", a), b, 1)),  # field binds tightest
    ("NOT NOT a1", Not(Not(a))),  # double negation
    ("a1 and b1", And((a, Term("and"), b))),  # lower-case and is a word
    ("partner-only", Term("partner-only")),  # hyphen inside a word
    ("10:30", Term("10:30")),  # a colon after digits is not a field
    ("((a1))", a),  # redundant parentheses
]


@pytest.mark.parametrize(("text", "tree"), TREES)
def test_parse_tree(text: str, tree: Node) -> None:
    assert parse(text) == tree
    assert parse(render(parse(text))) == tree


# (query, column, start of the reason)
ERRORS = [
    ("", 1, "empty query"),  # nothing at all
    ('"partner-only AND x', 1, "unbalanced quote"),  # quote never closed
    ('x AND "abc', 7, "unbalanced quote"),  # ... later in the query
    ("(a1 OR b1", 1, "unbalanced parenthesis"),  # ( never closed
    ("a1 OR b1)", 9, "unbalanced parenthesis"),  # ) without (
    ("()", 1, "empty parentheses"),  # empty group
    ("a1 OR", 4, "OR needs a clause on both sides"),  # dangling OR
    ("OR a1", 1, "OR needs a clause on both sides"),  # leading OR
    ("a1 AND", 4, "AND needs a clause on both sides"),  # dangling AND
    ("a1 AND OR b1", 4, "AND needs a clause on both sides"),  # two operators
    ("a1 NOT", 4, "NOT needs a clause after it"),  # dangling NOT
    ("ban* NEAR/5", 6, "NEAR needs a term on both sides"),  # dangling NEAR
    ("NEAR/5 x", 1, "NEAR needs a term on both sides"),  # leading NEAR
    ("ban* NEAR/5 AND tiktok", 6, "NEAR needs a term on both sides"),  # NEAR then AND
    ("(a1 b1) NEAR/2 c1", 9, "NEAR needs a term on both sides"),  # AND group side
    ("NOT a1 NEAR/2 b1", 8, "NEAR needs a term on both sides"),  # NOT binds tighter
    ("a1 NEAR b1", 4, "NEAR needs a distance"),  # NEAR without /n
    ("a1 NEAR/x b1", 4, "NEAR needs a distance"),  # NEAR/x
    ("a1 NEAR/1000 b1", 4, "NEAR needs a distance"),  # too far
    ("a1 NEAR/2 b1 NEAR/2 c1", 14, "NEAR cannot be chained"),  # chained NEAR
    ("foo:bar", 1, "unknown field 'foo'"),  # unknown field
    ("a1 titel:ban", 4, "unknown field 'titel'"),  # typo in a field
    ("title:", 1, "title: needs a term"),  # field without a term
    ('""', 1, "empty phrase"),  # empty phrase
    ('a1 "  - "', 4, "empty phrase"),  # phrase of separators only
    ('"ban* x"', 1, "wildcards are not supported inside a phrase"),  # star in phrase
    ("ba*", 1, "a wildcard needs at least 3 letters"),  # 2 letters
    ("x a*", 3, "a wildcard needs at least 3 letters"),  # 1 letter
    ("*ban", 1, "a wildcard * can only end a word"),  # leading star
    ("b*an", 2, "a wildcard * can only end a word"),  # inner star
    ("colo?r", 5, "? wildcards are not supported"),  # ? wildcard
    ("a1 - b1", 4, "- must be followed by a term"),  # lone minus
    ("@", 1, "@ needs an entity name"),  # no name
    ("/abc", 1, "unterminated regex"),  # regex never closed
    ("//", 1, "empty regex"),  # empty regex
    ("a1 &", 4, "term '&' has no letters"),  # punctuation only
]


@pytest.mark.parametrize(("query", "column", "reason"), ERRORS)
def test_parse_errors(query: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(query, ENTITIES)
    assert info.value.column == column
    assert info.value.reason.startswith(reason)
    assert str(info.value) == f"column {column}: {info.value.reason}"


# Errors only the compiler can see (entities, positive terms, regex safety).
COMPILE_ERRORS = [
    ("NOT a1", 1, "the rule needs a positive term"),  # only NOT
    ("-a1 -b1", 1, "the rule needs a positive term"),  # only NOTs
    ("a1 OR NOT b1", 7, "the rule needs a positive term"),  # NOT alone in an OR branch
    ("title:(NOT a1)", 8, "the rule needs a positive term"),  # NOT under a field
    ("x @Chna", 3, "unknown entity '@Chna'"),  # typo in an entity
    ("/a(/", 3, "invalid regex"),  # regex syntax error (more in test_regex.py)
    (r"x /(a)\1/", 7, "regex: backreferences"),  # RE2 cannot: column of the construct
    ("/a?/", 1, "regex matches the empty string"),  # would match everything
]


@pytest.mark.parametrize(("query", "column", "reason"), COMPILE_ERRORS)
def test_compile_errors(query: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(query, ENTITIES)
    assert info.value.column == column
    assert info.value.reason.startswith(reason)


def test_query_error_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        compile_query("(", ENTITIES)


def test_unknown_entity_lists_the_declared_ones() -> None:
    with pytest.raises(QueryError, match=r"entities: China, TikTok"):
        compile_query("@Zoom", ENTITIES)


def test_regex_is_indexed_by_its_literal_or_a_sibling() -> None:
    assert not compile_query(r"/\bcov(id)?.?19\b/", ENTITIES).unindexed
    assert compile_query(r"/\d{2,4}/", ENTITIES).unindexed
    assert not compile_query(r"ban AND /\d{2,4}/", ENTITIES).unindexed


# --- round trip over random trees ---------------------------------------------------

WORDS = ["ban", "bans", "tiktok", "zoom", "china", "and1", "x-y", "u.s.", "中国"]
leaves = st.one_of(
    st.builds(Term, st.sampled_from(WORDS)),
    st.builds(Wildcard, st.sampled_from(["ban", "tik", "zoo"])),
    st.builds(Phrase, st.sampled_from(["partner-only", "mainland china", "a b c"])),
    st.builds(Entity, st.sampled_from(["China", "TikTok"])),
    st.builds(Regex, st.sampled_from([r"ab{1,3}", r"a\/b", "x.?y"])),
)
fields = st.sampled_from(["title", "summary", "content", "url"])
near_sides = st.one_of(
    leaves,
    st.builds(Field, fields, leaves),
    st.builds(lambda xs: Or(tuple(xs)), st.lists(leaves, min_size=2, max_size=3)),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(Not, children),
        st.builds(Field, fields, children),
        st.builds(lambda xs: And(tuple(xs)), st.lists(children, min_size=2, max_size=3)),
        st.builds(lambda xs: Or(tuple(xs)), st.lists(children, min_size=2, max_size=3)),
        st.builds(Near, near_sides, near_sides, st.integers(0, 20)),
    )


trees = st.recursive(leaves, _extend, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_round_trip(tree: Node) -> None:
    assert parse(render(tree)) == tree
