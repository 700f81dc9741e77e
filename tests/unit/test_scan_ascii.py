"""Property test: the whole-word automaton for ASCII text finds what the general scan finds.

``RuleSet`` scans ASCII fields with padded keys over text whose non-word characters
are made spaces (``scan.scan_ascii``); every other field goes through ``scan_field``,
which checks word boundaries after each hit. Both must give the same literal spans
(and so the same matches and evidence), for words, stems, phrases, keys holding
punctuation (``at&t``, ``u.s.``) or starting with it (``'til``), and capitalised aliases.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.article import Article, RuleSpec
from monitor.rules.compile import compile_rules
from monitor.rules.evaluate import ScanContext
from monitor.rules.scan import scan_field

_QUERIES = ["ban", "ban*", "bann*", "at&t", '"u.s."', '"ban x"', '"quot they"', "'til",
            "@Co", "o'neil", "2024", "x", "o'ne*", '"at t"']
_ENTITIES = {"Co": ["Ban", "AT&T", "x y"]}
_TOKENS = ["ban", "Ban", "BAN", "banned", "bank", "at&t", "AT&T", "at t", "u.s.", "U.S.",
           "x", "y", "'til", "til", "o'neil", "2024", "20245", "quot;they", "quot they",
           "_", "ban_x", "é"]
_SEPS = [" ", " ", ",", ";", "-", "'", ".", "\n", "  ", "&", ""]
_RULES = compile_rules([RuleSpec(f"r{i}", q) for i, q in enumerate(_QUERIES)], _ENTITIES)


def _text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(st.sampled_from(_SEPS), st.sampled_from(_TOKENS)),
                          max_size=12))
    return "".join(sep + tok for sep, tok in parts) + draw(st.sampled_from(_SEPS))


@st.composite
def articles(draw: st.DrawFn) -> Article:
    return Article("https://f.example/", "F", (), "k", None, None, None,
                   title=_text(draw), summary=_text(draw))


def _general(article: Article) -> dict[int, list[tuple[str, int, int]]]:
    ctx = ScanContext(article)
    for name in _RULES._scan_fields:
        scan_field(ctx, _RULES._automaton, name)
    return {k: sorted(v) for k, v in ctx.found.items()}


@settings(max_examples=1000, deadline=None)
@given(articles())
def test_ascii_scan_finds_what_the_general_scan_finds(article: Article) -> None:
    assert _RULES._ascii is not None and _RULES._ascii_rest is not None
    ctx = ScanContext(article)
    _RULES.candidates(ctx)
    assert {k: sorted(v) for k, v in ctx.found.items()} == _general(article)


def test_ascii_scan_examples() -> None:
    a = Article("https://f.example/", "F", (), "k", None, None, None,
                title="AT&T and at t; BANNED 'til u.s. Ban", summary="")
    ctx = ScanContext(a)
    matched = {_RULES._rules[i].name for i in _RULES.matching(ctx)}
    assert {k: sorted(v) for k, v in ctx.found.items()} == _general(a)
    assert {"r0", "r1", "r3", "r4", "r7", "r8", "r13"} <= matched
