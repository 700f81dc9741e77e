"""Rule query text -> syntax tree, and back (pure).

Grammar, loosest binding first (precedence NOT > NEAR > AND > OR)::

    query   := and_q ("OR" and_q)*
    and_q   := near_q (["AND"] near_q)*          # adjacent clauses: implicit AND
    near_q  := unary ["NEAR/n" unary]            # sides: literals or an OR of them
    unary   := ("NOT" | "-") unary | primary
    primary := [field ":"] (word | word* | "phrase" | @Entity | /regex/ | "(" query ")")

Operators are upper case only; ``and``/``or``/``not`` in lower case are words.
Every node keeps the 1-based column where it starts (not part of equality), so
errors found later (unknown entity) can still point at the spot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from monitor.errors import QueryError
from monitor.rules.tokens import Token, tokenize

_NEAR_HELP = "NEAR needs a term on both sides (a word, phrase, wildcard, entity or an OR of those)"
_CLAUSE_START = {"WORD", "PHRASE", "ENTITY", "REGEX", "LPAREN", "NOT", "MINUS", "FIELD"}


@dataclass(frozen=True)
class Term:
    """A bare word, matched as a whole word: ``ban``."""

    text: str
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Wildcard:
    """A prefix wildcard: ``ban*`` (stored without the star)."""

    prefix: str
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Phrase:
    """A quoted phrase: ``"partner-only"`` (stored without the quotes)."""

    text: str
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Entity:
    """A reference to a configured entity: ``@China``."""

    name: str
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Regex:
    """The escape hatch: ``/pattern/`` (stored without the slashes)."""

    pattern: str
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Field:
    """A field restriction: ``title:ban`` or ``title:(a OR b)``."""

    name: str
    child: Node
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    child: Node
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Near:
    """Both sides within ``distance`` words of each other, either order."""

    left: Node
    right: Node
    distance: int
    column: int = field(default=0, compare=False, repr=False)


Leaf = Union[Term, Wildcard, Phrase, Entity, Regex]
Node = Union[Term, Wildcard, Phrase, Entity, Regex, Field, Not, And, Or, Near]
LEAF_TYPES = (Term, Wildcard, Phrase, Entity, Regex)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek().kind == "OR":
            op = self.take()
            if self.peek().kind not in _CLAUSE_START:
                raise QueryError("OR needs a clause on both sides", op.column)
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items), items[0].column)

    def parse_and(self) -> Node:
        items = [self.parse_near()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                op = self.take()
                if self.peek().kind not in _CLAUSE_START:
                    raise QueryError("AND needs a clause on both sides", op.column)
            elif kind not in _CLAUSE_START:
                break
            items.append(self.parse_near())
        return items[0] if len(items) == 1 else And(tuple(items), items[0].column)

    def parse_near(self) -> Node:
        left = self.parse_unary()
        if self.peek().kind != "NEAR":
            return left
        op = self.take()
        if self.peek().kind not in _CLAUSE_START:
            raise QueryError(_NEAR_HELP, op.column)
        right = self.parse_unary()
        if not (_nearable(left) and _nearable(right)):
            raise QueryError(_NEAR_HELP, op.column)
        if self.peek().kind == "NEAR":
            raise QueryError("NEAR cannot be chained: write (a NEAR/2 b) AND (b NEAR/3 c)",
                             self.peek().column)
        return Near(left, right, op.number, left.column)

    def parse_unary(self) -> Node:
        if self.peek().kind in ("NOT", "MINUS"):
            op = self.take()
            if self.peek().kind not in _CLAUSE_START:
                raise QueryError("NOT needs a clause after it", op.column)
            return Not(self.parse_unary(), op.column)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        tok = self.take()
        kind = tok.kind
        if kind == "WORD":
            if tok.value.endswith("*"):
                return Wildcard(tok.value[:-1], tok.column)
            return Term(tok.value, tok.column)
        if kind == "PHRASE":
            return Phrase(tok.value, tok.column)
        if kind == "ENTITY":
            return Entity(tok.value, tok.column)
        if kind == "REGEX":
            return Regex(tok.value, tok.column)
        if kind == "FIELD":
            if self.peek().kind not in ("WORD", "PHRASE", "ENTITY", "REGEX", "LPAREN", "FIELD"):
                raise QueryError(f"{tok.value}: needs a term, phrase or (group) right after it",
                                 tok.column)
            child = self.parse_primary()
            if tok.value == "lang":
                _check_languages(child)
            return Field(tok.value, child, tok.column)
        if kind == "LPAREN":
            if self.peek().kind == "RPAREN":
                raise QueryError("empty parentheses", tok.column)
            node = self.parse_or()
            if self.peek().kind != "RPAREN":
                raise QueryError("unbalanced parenthesis: this ( is never closed", tok.column)
            self.take()
            return node
        raise _unexpected(tok)


#: An article's language as detection gives it: an ISO 639-1 code, no region.
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")


def language_code_problem(code: str) -> str | None:
    """Why ``code`` (``languages:``, ``lang:``) can never be an article's language, or
    None when it can: ``en-US`` or ``english`` would silently match nothing."""
    text = code.strip().lower()
    if _LANGUAGE_CODE.fullmatch(text):
        return None
    primary = re.split(r"[-_]", text)[0]
    if _LANGUAGE_CODE.fullmatch(primary):
        return f"'{code}': an article's language has no region; write '{primary}'"
    return f"'{code}' is not a language code: write ISO 639-1, two letters such as en, de, fr"


def _check_languages(node: Node) -> None:
    """``lang:`` takes language codes (alone, or in a group with AND, OR, NOT)."""
    if isinstance(node, (Term, Phrase)):
        problem = language_code_problem(node.text)
        if problem:
            raise QueryError(f"lang: {problem}", node.column)
    elif isinstance(node, (And, Or)):
        for item in node.children:
            _check_languages(item)
    elif isinstance(node, Not):
        _check_languages(node.child)


def _unexpected(tok: Token) -> QueryError:
    if tok.kind == "RPAREN":
        return QueryError("unbalanced parenthesis: ) without (", tok.column)
    if tok.kind in ("AND", "OR"):
        return QueryError(f"{tok.kind} needs a clause on both sides", tok.column)
    if tok.kind == "NEAR":
        return QueryError(_NEAR_HELP, tok.column)
    if tok.kind == "EOF":
        return QueryError("the query ends too early", tok.column)
    return QueryError(f"unexpected {tok.value!r}", tok.column)


def _nearable(node: Node) -> bool:
    if isinstance(node, LEAF_TYPES):
        return True
    if isinstance(node, Field):
        return _nearable(node.child)
    if isinstance(node, Or):
        return all(_nearable(c) for c in node.children)
    return False


def parse(text: str) -> Node:
    """Parse a rule query into its syntax tree.

    Raises QueryError(reason, column) with the 1-based column of the offending spot.
    """
    if not text.strip():
        raise QueryError("empty query", 1)
    parser = _Parser(text)
    node = parser.parse_or()
    tok = parser.peek()
    if tok.kind != "EOF":
        raise _unexpected(tok)
    return node


def _wrap(node: Node, needs_parens: bool) -> str:
    text = render(node)
    return f"({text})" if needs_parens else text


def render(node: Node) -> str:
    """Write a syntax tree back as query text; ``parse(render(ast)) == ast``."""
    if isinstance(node, Term):
        return node.text
    if isinstance(node, Wildcard):
        return node.prefix + "*"
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, Entity):
        return "@" + node.name
    if isinstance(node, Regex):
        return f"/{node.pattern}/"
    if isinstance(node, Field):
        return f"{node.name}:" + _wrap(node.child, not isinstance(node.child, LEAF_TYPES))
    if isinstance(node, Not):
        return "NOT " + _wrap(node.child, isinstance(node.child, (And, Or, Near)))
    if isinstance(node, Near):
        left = _wrap(node.left, isinstance(node.left, Or))
        right = _wrap(node.right, isinstance(node.right, Or))
        return f"{left} NEAR/{node.distance} {right}"
    op = " AND " if isinstance(node, And) else " OR "
    return op.join(_wrap(c, isinstance(c, (And, Or))) for c in node.children)


def literal_label(node: Leaf) -> str:
    """How a literal is named in evidence: 'ban*', '"partner-only"', '@China', '/re/'."""
    return render(node)
