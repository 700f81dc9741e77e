"""Full-text search conditions over articles (structures: migration 0007).

User input is never handed to the search engine's own query language: it is cut
into words, each searched as a literal (a trailing ``*`` keeps a prefix search),
all of which must appear. So ``"AND (`` or ``NEAR`` typed into a search box
cannot raise a syntax error or change the meaning.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Connection, literal_column, select, text, true

from monitor.store.tables import article

#: The indexed document on PostgreSQL; equal to the index expression of migration 0007.
PG_DOCUMENT = "to_tsvector('simple'::regconfig, title || ' ' || summary || ' ' || content)"
_PG_SEARCHED = ("to_tsvector('simple'::regconfig, searched.title || ' ' || searched.summary"
                " || ' ' || searched.content)")
_WORD = re.compile(r"[\w'’-]+\*?", re.UNICODE)


def search_words(query: str) -> list[str]:
    """The words of a search box's text (a trailing ``*``: prefix), at most 16."""
    words = []
    for raw in _WORD.findall(query):
        prefix = raw.endswith("*")
        word = raw.rstrip("*").strip("'’-")
        if word:
            words.append(word + ("*" if prefix else ""))
    return words[:16]


def _fts5_query(words: list[str]) -> str:
    # Each word a quoted FTS5 string (quotes doubled), so no word is an operator.
    parts = []
    for w in words:
        body = w.rstrip("*").replace('"', '""')
        parts.append(f'"{body}"' + ("*" if w.endswith("*") else ""))
    return " ".join(parts)


def _tsquery(words: list[str]) -> str:
    parts = []
    for w in words:
        body = re.sub(r"[^\w]", " ", w.rstrip("*")).split()
        if body:  # "partner-only" -> partner <-> only (a phrase, as tsvector splits it)
            term = " <-> ".join(body)
            parts.append(f"({term}:*)" if w.endswith("*") else f"({term})")
    return " & ".join(parts)


def article_matches(conn: Connection, query: str,
                    column: ColumnElement[int] = article.c.id) -> ColumnElement[bool] | None:
    """A condition on ``column`` (an article id) for articles containing every word
    of ``query``; None when the query has no words (no search)."""
    words = search_words(query)
    if not words:
        return None
    if conn.dialect.name == "sqlite":
        ids = select(literal_column("rowid")).select_from(text("article_fts")).where(
            text("article_fts MATCH :fts").bindparams(fts=_fts5_query(words)))
        return column.in_(ids)
    tsq = _tsquery(words)
    if not tsq:
        return None
    # A subquery of its own, so the planner can answer it from the GIN index first
    # (as a filter on the joined rows it tends to compute tsvectors row by row).
    ids = select(literal_column("searched.id")).select_from(text("article AS searched")).where(
        text(f"{_PG_SEARCHED} @@ to_tsquery('simple', :tsq)").bindparams(tsq=tsq))
    # IS TRUE keeps the planner from turning IN into a join: the found ids become a
    # hashed subplan filtering a newest-first index scan, which stops after one page
    # (a hash join read every match: 4x slower with 50,000 of them).
    return column.in_(ids).is_(true())
