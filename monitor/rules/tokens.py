"""Query text -> tokens, with the 1-based column of each (pure).

Checks that need only one token happen here, so their errors point exactly at
the token: unbalanced quotes, empty phrases, bad wildcards, unknown fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.article import FIELDS
from monitor.errors import QueryError
from monitor.rules.normalize import fold_term

#: Largest n accepted in NEAR/n.
MAX_NEAR = 100
#: Letters or digits required before a ``*`` wildcard.
MIN_WILDCARD_PREFIX = 3


@dataclass(frozen=True)
class Token:
    kind: str  # WORD PHRASE ENTITY REGEX FIELD LPAREN RPAREN AND OR NOT MINUS NEAR EOF
    value: str
    column: int
    number: int = 0


_STOP = set(' \t\r\n()"')


def _scan_until(text: str, i: int, closer: str, escapes: bool) -> int:
    """Index of the closing character starting the search at i, or -1."""
    while i < len(text):
        if escapes and text[i] == "\\":
            i += 2
            continue
        if text[i] == closer:
            return i
        i += 1
    return -1


def _word_token(word: str, col: int) -> Token:
    if word in ("AND", "OR", "NOT"):
        return Token(word, word, col)
    if word == "NEAR" or word.startswith("NEAR/"):
        digits = word[5:]
        # ASCII digits only: "²".isdigit() is true, but int("²") raises; and no
        # int() of 5,000 digits (Python refuses over 4,300).
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 4
                and int(digits) <= MAX_NEAR):
            raise QueryError(f"NEAR needs a distance from 0 to {MAX_NEAR}: write NEAR/5", col)
        return Token("NEAR", word, col, int(digits))
    if "?" in word:
        raise QueryError("? wildcards are not supported: write (color OR colour)",
                         col + word.index("?"))
    star = word.find("*")
    if star != -1 and star != len(word) - 1:
        raise QueryError("a wildcard * can only end a word, as in ban*", col + star)
    stem = word[:-1] if star != -1 else word
    folded = fold_term(stem)
    if star != -1 and sum(c.isalnum() for c in folded) < MIN_WILDCARD_PREFIX:
        raise QueryError(f"a wildcard needs at least {MIN_WILDCARD_PREFIX} letters before *"
                         " (ban*, not ba*)", col)
    if not any(c.isalnum() for c in folded):
        raise QueryError(f"term '{word}' has no letters or digits to match", col)
    return Token("WORD", word, col)


def _scan_word(text: str, i: int, tokens: list[Token]) -> int:
    j = i
    while j < len(text) and text[j] not in _STOP:
        j += 1
    word = text[i:j]
    colon = word.find(":")
    if colon > 0 and word[:colon].isascii() and word[:colon].isalpha():
        name = word[:colon].lower()
        if name not in FIELDS:
            raise QueryError(f"unknown field '{word[:colon]}' (fields: {', '.join(FIELDS)})",
                             i + 1)
        tokens.append(Token("FIELD", name, i + 1))
        return i + colon + 1
    tokens.append(_word_token(word, i + 1))
    return j


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; raises QueryError at the offending column."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        col = i + 1
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(Token("LPAREN" if c == "(" else "RPAREN", c, col))
            i += 1
        elif c == '"':
            end = _scan_until(text, i + 1, '"', escapes=False)
            if end == -1:
                raise QueryError('unbalanced quote: this " is never closed', col)
            _check_phrase(text[i + 1 : end], col)
            tokens.append(Token("PHRASE", text[i + 1 : end], col))
            i = end + 1
        elif c == "/":
            end = _scan_until(text, i + 1, "/", escapes=True)
            if end == -1:
                raise QueryError("unterminated regex: end it with /", col)
            if end == i + 1:
                raise QueryError("empty regex //", col)
            tokens.append(Token("REGEX", text[i + 1 : end], col))
            i = end + 1
        elif c == "@":
            j = i + 1
            while j < len(text) and text[j] not in _STOP:
                j += 1
            if j == i + 1:
                raise QueryError("@ needs an entity name, as in @China", col)
            tokens.append(Token("ENTITY", text[i + 1 : j], col))
            i = j
        elif c == "-" and (i + 1 >= len(text) or text[i + 1] in _STOP):
            raise QueryError("- must be followed by a term: write -term for NOT term", col)
        elif c == "-":
            tokens.append(Token("MINUS", c, col))
            i += 1
        else:
            i = _scan_word(text, i, tokens)
    tokens.append(Token("EOF", "", len(text) + 1))
    return tokens


def _check_phrase(body: str, col: int) -> None:
    if "*" in body:
        raise QueryError("wildcards are not supported inside a phrase", col)
    if not any(c.isalnum() for c in fold_term(body)):
        raise QueryError("empty phrase", col)
