"""Property test: the engine agrees with a slow, obviously correct reference.

Texts are built from a token list (each token with the separator that precedes
it), so the reference never has to tokenise: it walks the syntax tree over the
tokens, with the semantics written down in docs/rules.md:

* a term matches a token equal to it (case and accents folded);
* ``p*`` matches a token starting with p;
* a phrase matches consecutive tokens joined only by spaces, line breaks,
  hyphens or dashes; an entity is an OR of its (lower-case) aliases as phrases;
* ``a NEAR/n b``: an a-occurrence and a b-occurrence in the same field, not
  overlapping, with at most n tokens between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from monitor.article import Article, RuleSpec
from monitor.errors import ConfigError
from monitor.rules.compile import compile_rules
from monitor.rules.normalize import WORD_RE
from monitor.rules.normalize import fold as fold_text
from monitor.rules.query import (
    And,
    Entity,
    Field,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    Wildcard,
    render,
)

WORDS = ["ban", "bans", "banned", "banana", "urban", "tik", "tiktok", "zoom", "china",
         "zurich", "partner", "only"]
# How a word may be written in a text or a query (folding makes these equal).
SPELLINGS = {w: [w, w.title(), w.upper()] for w in WORDS}
SPELLINGS["zurich"] += ["Zürich", "ZÜRICH"]
PREFIXES = ["ban", "tik", "par", "zoo"]
ENTITIES = {"Tech": ["tiktok", "zoom china"], "Pact": ["partner only", "banana"]}
# Separators that a phrase may span, and ones that break it.
JOINING = [" ", "  ", "-", " – ", "\n", " —\n"]
BREAKING = [", ", ". ", "; ", " (", ") ", "'s "]
FIELDS = ("title", "summary")


@dataclass(frozen=True)
class Tok:
    word: str
    #: True when the separator before this token lets a phrase continue.
    joined: bool


def fold(word: str) -> str:
    return word.lower().replace("ü", "u")


# --- the reference evaluator -----------------------------------------------------------


def phrase_occurrences(words: list[str], toks: list[Tok]) -> list[tuple[int, int]]:
    out = []
    for i in range(len(toks) - len(words) + 1):
        if all(toks[i + k].word == words[k] for k in range(len(words))) and all(
                toks[i + k].joined for k in range(1, len(words))):
            out.append((i, i + len(words) - 1))
    return out


def occurrences(node: Node, field: str, doc: dict[str, list[Tok]]) -> list[tuple[int, int]]:
    """Token ranges where a literal (or an OR of literals) occurs in one field."""
    toks = doc[field]
    if isinstance(node, Field):
        while isinstance(node.child, Field):  # the innermost field restriction wins
            node = node.child
        return occurrences(node.child, field, doc) if node.name == field else []
    if isinstance(node, Term):
        return [(i, i) for i, t in enumerate(toks) if t.word == fold(node.text)]
    if isinstance(node, Wildcard):
        return [(i, i) for i, t in enumerate(toks) if t.word.startswith(node.prefix)]
    if isinstance(node, Phrase):
        return phrase_occurrences(fold(node.text).replace("-", " ").split(), toks)
    if isinstance(node, Entity):
        return [o for alias in ENTITIES[node.name] for o in phrase_occurrences(alias.split(), toks)]
    assert isinstance(node, Or)
    return [o for c in node.children for o in occurrences(c, field, doc)]


def near(node: Near, doc: dict[str, list[Tok]]) -> bool:
    for field in FIELDS:
        for a0, a1 in occurrences(node.left, field, doc):
            for b0, b1 in occurrences(node.right, field, doc):
                gap = b0 - a1 - 1 if a1 < b0 else a0 - b1 - 1
                if (a1 < b0 or b1 < a0) and gap <= node.distance:
                    return True
    return False


def reference(node: Node, doc: dict[str, list[Tok]]) -> bool:
    if isinstance(node, And):
        return all(reference(c, doc) for c in node.children)
    if isinstance(node, Or):
        return any(reference(c, doc) for c in node.children)
    if isinstance(node, Not):
        return not reference(node.child, doc)
    if isinstance(node, Near):
        return near(node, doc)
    if isinstance(node, Field) and not isinstance(node.child, (Term, Wildcard, Phrase, Entity)):
        return reference(_push_field(node.child, node.name), doc)
    return any(occurrences(node, f, doc) for f in FIELDS)


def _push_field(node: Node, name: str) -> Node:
    """title:(a AND NOT b) == title:a AND NOT title:b (innermost field wins)."""
    if isinstance(node, (And, Or)):
        return type(node)(tuple(_push_field(c, name) for c in node.children))
    if isinstance(node, Not):
        return Not(_push_field(node.child, name))
    if isinstance(node, Near):
        return Near(_push_field(node.left, name), _push_field(node.right, name), node.distance)
    if isinstance(node, Field):
        return node
    return Field(name, node)


# --- generators ----------------------------------------------------------------------

spelled = st.sampled_from(WORDS).flatmap(lambda w: st.sampled_from(SPELLINGS[w]))
leaves = st.one_of(
    st.builds(Term, spelled),
    st.builds(Wildcard, st.sampled_from(PREFIXES)),
    st.builds(lambda a, sep, b: Phrase(f"{a}{sep}{b}"), spelled, st.sampled_from([" ", "-"]),
              spelled),
    st.builds(Entity, st.sampled_from(sorted(ENTITIES))),
)
fields = st.sampled_from(FIELDS)
near_sides = st.one_of(
    leaves,
    st.builds(Field, fields, leaves),
    st.builds(lambda xs: Or(tuple(xs)), st.lists(leaves, min_size=2, max_size=3)),
)
trees = st.recursive(leaves, lambda kids: st.one_of(
    st.builds(Not, kids),
    st.builds(Field, fields, kids),
    st.builds(lambda xs: And(tuple(xs)), st.lists(kids, min_size=2, max_size=3)),
    st.builds(lambda xs: Or(tuple(xs)), st.lists(kids, min_size=2, max_size=3)),
    st.builds(Near, near_sides, near_sides, st.integers(0, 4)),
), max_leaves=6)


@st.composite
def texts(draw: st.DrawFn) -> tuple[str, list[Tok]]:
    """A text and its token list, built together so the reference needs no tokeniser."""
    n = draw(st.integers(0, 12))
    parts: list[str] = []
    toks: list[Tok] = []
    for i in range(n):
        word = draw(st.sampled_from(WORDS))
        sep = draw(st.sampled_from(JOINING + BREAKING)) if i else draw(st.sampled_from(["", " "]))
        if sep == "'s ":
            toks.append(Tok("s", False))  # the possessive s is a word of its own
            parts.append("'s ")
            toks.append(Tok(word, True))
        else:
            toks.append(Tok(word, sep in JOINING or not i))
            parts.append(sep)
        parts.append(draw(st.sampled_from(SPELLINGS[word])))
    return "".join(parts), toks


@settings(max_examples=600, deadline=None)
@given(trees, texts(), texts())
def test_engine_agrees_with_reference(tree: Node, title: tuple[str, list[Tok]],
                                      summary: tuple[str, list[Tok]]) -> None:
    query = render(tree)
    try:
        rules = compile_rules([RuleSpec("r", query)], ENTITIES)
    except ConfigError as e:  # only "no positive term" may be refused
        assert "positive term" in str(e), (query, e)
        assume(False)
        return
    art = Article("u", "f", (), "k", None, None, None, title=title[0], summary=summary[0])
    doc = {"title": title[1], "summary": summary[1]}
    expected = reference(tree, doc)
    event(f"verdict={expected}")
    assert bool(rules.match(art)) == expected, (query, title[0], summary[0])


@settings(max_examples=200, deadline=None)
@given(leaves, texts())
def test_every_hit_is_real_evidence(leaf: Node, title: tuple[str, list[Tok]]) -> None:
    """Each hit's offsets select, in the original text, a spelling of the literal."""
    art = Article("u", "f", (), "k", None, None, None, title=title[0])
    for m in compile_rules([RuleSpec("r", render(leaf))], ENTITIES).match(art):
        for h in m.hits:
            assert art.title[h.start:h.end] == h.text
            assert h.text[:1].isalpha() and h.text[-1:].isalpha()



# --- folding keeps a faithful map back to the original text ---------------------------

ODD_TEXT = st.text(alphabet="abzZ üÜßẞﬁｂ–—-\n\t'’éE\u0301中国İ.,", max_size=40)


@settings(max_examples=300, deadline=None)
@given(ODD_TEXT)
def test_fold_maps_every_word_back_to_its_original_spelling(text: str) -> None:
    folded = fold_text(text)
    offsets = folded.offsets or list(range(len(folded.text)))
    assert offsets == sorted(offsets) and all(0 <= o < len(text) for o in offsets)
    for m in WORD_RE.finditer(folded.text):
        start, end = folded.span(m.start(), m.end())
        # Folding the original slice gives back the folded word.
        assert fold_text(text[start:end]).text == m.group(), (text, m.group())
