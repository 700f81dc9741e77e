"""``/regex/`` terms on RE2: compiled once, literals extracted for the presearch (pure).

RE2 matches in time linear in the text by construction (no backtracking), so every
pattern it accepts is safe on a hostile article; what it cannot do (backreferences,
lookaround, atomic groups, possessive repeats) is refused at load time with the column
of the construct. Patterns run over the *folded* text (see ``normalize``), always
case-insensitively.

``required_literals`` reads a pattern's top level for plain text that every match must
contain (``ban`` in ``\\bban(s|ned)?\\b``), so the rule can sit behind the shared
Aho-Corasick automaton instead of running on every article.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from monitor.errors import QueryError
from monitor.rules.normalize import fold

#: Shortest literal worth indexing: shorter keys fire on nearly every article.
MIN_LITERAL = 3
_REPEAT = re.compile(r"\{(\d+)(,\d*)?\}")
#: How a construct RE2 refuses begins -> why, in plain words.
_UNSUPPORTED = {
    "(?=": "lookahead (?=...) is not supported (RE2 has no lookaround)",
    "(?!": "negative lookahead (?!...) is not supported (RE2 has no lookaround)",
    "(?<=": "lookbehind (?<=...) is not supported (RE2 has no lookaround)",
    "(?<!": "negative lookbehind (?<!...) is not supported (RE2 has no lookaround)",
    "(?P=": "backreferences are not supported (RE2 matches in linear time)",
    "(?>": "atomic groups (?>...) are not supported; RE2 never backtracks, write (?:...)",
    "(?#": "comments (?#...) are not supported",
    "(?(": "conditionals (?(...)...) are not supported",
}


def compile_regex(pattern: str, column: int) -> tuple[Any, list[str] | None]:
    """Compile a ``/regex/`` term with RE2 (case-insensitive), or raise QueryError.

    Returns the compiled pattern and its ``required_literals``. ``column`` is the
    query column of the opening slash; errors point at the construct inside the
    pattern.
    """
    import re2  # type: ignore[import-untyped]  # loaded only when a rule has a regex

    _check_folded_letters(pattern, column)
    pattern = hyphens_as_spaces(pattern)
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as e:
        reason, at = _explain(pattern, e.args[0] if e.args else b"")
        raise QueryError(reason, column + 1 + at) from None
    if compiled.fullmatch("") is not None:
        raise QueryError("regex matches the empty string (it would match every article)",
                         column)
    return compiled, required_literals(pattern)


def hyphens_as_spaces(pattern: str) -> str:
    """Turn a literal ``-`` (outside [...]) into a space, as folding does to the text.

    The length is kept, so columns in RE2's errors still point into what was written.
    """
    out = list(pattern)
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            i = _class_end(pattern, i)
            continue
        if c == "\\":
            if pattern.startswith("-", i + 1):
                out[i + 1] = " "
            i = _escape_end(pattern, i)
            continue
        if pattern.startswith("(?", i):  # flags such as (?-i) or (?i-s:...)
            i += 2
            while i < len(pattern) and pattern[i] in "imsU-":
                i += 1
            continue
        if c == "-":
            out[i] = " "
        i += 1
    return "".join(out)


def _check_folded_letters(pattern: str, column: int) -> None:
    """Refuse characters that can never occur in folded text (``ü``, ``ß``, ``–``)."""
    for i, c in enumerate(pattern):
        if c.isascii():
            continue
        folded = fold(c).text
        if folded not in (c, c.lower()):
            raise QueryError(f"regex text is matched folded (no accents, dashes as spaces):"
                             f" write {folded!r} for {c!r}", column + 1 + i)


def _explain(pattern: str, raw: bytes | str) -> tuple[str, int]:
    """RE2's error -> (reason, 0-based index in the pattern)."""
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    code, _, arg = message.partition(": ")
    if code == "missing )":
        return "invalid regex: missing ), this ( is never closed", _unclosed(pattern)
    if code == "unexpected )":
        return "invalid regex: ) without (", _unopened(pattern)
    # RE2 names the construct ("(?P" for "(?P=name)"): find its full form first.
    spots = [pattern.find(k) for k in _UNSUPPORTED if arg and k.startswith(arg)]
    at = min([s for s in spots if s >= 0], default=pattern.find(arg) if arg else -1)
    at = max(at, 0)
    for start, why in _UNSUPPORTED.items():
        if pattern.startswith(start, at):
            return f"regex: {why}", at
    if code == "invalid escape sequence" and re.fullmatch(r"\\[1-9]", arg):
        why = f"backreferences ({arg}) are not supported (RE2 matches in linear time)"
        return f"regex: {why}", at
    if code == "invalid escape sequence" and arg == "\\Z":
        return "invalid regex: \\Z is not supported; write \\z for the end of the field", at
    if code == "bad repetition operator" and arg[-1:] == "+" and len(arg) == 2:
        why = f"possessive repeats ({arg}) are not supported; RE2 never backtracks, drop a +"
        return f"regex: {why}", at
    return f"invalid regex: {message}", at


def _parens(pattern: str, i: int = 0) -> Iterator[tuple[int, str]]:
    """(index, '(' or ')') of each group parenthesis from ``i`` (escapes, classes skipped)."""
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
            continue
        if c in "()":
            yield i, c
        i += 1


def _scan_groups(pattern: str) -> tuple[list[int], list[int]]:
    """Indices of unclosed '(' and of ')' without '('."""
    opened: list[int] = []
    stray: list[int] = []
    for i, c in _parens(pattern):
        if c == "(":
            opened.append(i)
        elif opened:
            opened.pop()
        else:
            stray.append(i)
    return opened, stray


def _unclosed(pattern: str) -> int:
    opened, _ = _scan_groups(pattern)
    return opened[-1] if opened else 0


def _unopened(pattern: str) -> int:
    _, stray = _scan_groups(pattern)
    return stray[0] if stray else 0


def _class_end(pattern: str, i: int) -> int:
    """Index just after the character class starting at ``pattern[i] == '['``."""
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):  # a leading ] is a literal
        j += 1
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 2
        elif c == "[" and pattern.startswith("[:", j):  # [:alpha:]
            end = pattern.find(":]", j + 2)
            j = end + 2 if end != -1 else j + 1
        elif c == "]":
            return j + 1
        else:
            j += 1
    return len(pattern)


def _group_end(pattern: str, i: int) -> int:
    """Index just after the group starting at ``pattern[i] == '('``."""
    depth = 0
    for j, c in _parens(pattern, i):
        depth += 1 if c == "(" else -1
        if depth == 0:
            return j + 1
    return len(pattern)


def _escape_end(pattern: str, i: int) -> int:
    """Index just after the escape starting at ``pattern[i] == '\\'``."""
    nxt = pattern[i + 1 : i + 2]
    if nxt in ("x", "p", "P") and pattern.startswith("{", i + 2):
        end = pattern.find("}", i + 3)
        return end + 1 if end != -1 else len(pattern)
    if nxt == "x":
        return i + 4
    if nxt in ("p", "P"):
        return i + 3
    if nxt.isdigit():  # octal: up to three digits
        j = i + 1
        while j < min(i + 4, len(pattern)) and pattern[j] in "01234567":
            j += 1
        return max(j, i + 2)
    if nxt == "Q":
        end = pattern.find("\\E", i + 2)
        return end + 2 if end != -1 else len(pattern)
    return i + 2


def _items(pattern: str) -> list[str | None]:
    """The top level of a pattern: one literal character, None (anything else) or '|'.

    Only what is certain is kept literal: a group, class, escape class, anchor or
    dot is None, and so is an item made optional by ``?``, ``*`` or ``{0,n}``.
    """
    items: list[str | None] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            end = _escape_end(pattern, i)
            nxt = pattern[i + 1 : i + 2]
            item = nxt if end == i + 2 and nxt and not nxt.isalnum() else None
        elif c == "[":
            end, item = _class_end(pattern, i), None
        elif c == "(":
            end, item = _group_end(pattern, i), None
        elif c == "|":
            end, item = i + 1, "|"
        elif c in ".^$":
            end, item = i + 1, None
        else:
            end, item = i + 1, c
        i = end
        i = _repeat(pattern, i, items, item)
    return items


def _repeat(pattern: str, i: int, items: list[str | None], item: str | None) -> int:
    """Append ``item`` as changed by a repeat after it; return the index past the repeat."""
    c = pattern[i : i + 1]
    repeat = _REPEAT.match(pattern, i) if c == "{" else None
    if c in ("?", "*") or (repeat is not None and int(repeat.group(1)) == 0):
        items.append(None)  # optional: nothing certain
    elif c == "+" or repeat is not None:
        items.extend((item, None))  # at least once, but the run stops here
    else:
        items.append(item)
        return i
    i += len(repeat.group(0)) if repeat is not None else 1
    return i + 1 if pattern.startswith("?", i) else i  # lazy suffix


def required_literals(pattern: str) -> list[str] | None:
    """For each top-level alternative, the longest folded text every match contains.

    None when some alternative has no literal of ``MIN_LITERAL`` characters: then
    the regex must run on every article. Case is folded (the regex is
    case-insensitive and the text it runs on is folded).
    """
    branches: list[list[str | None]] = [[]]
    for item in _items(pattern):
        if item == "|":
            branches.append([])
        else:
            branches[-1].append(item)
    out: list[str] = []
    for branch in branches:
        runs = "".join(c if c is not None else "\0" for c in branch).split("\0")
        keys = [k for k in (_key(r) for r in runs) if len(k) >= MIN_LITERAL]
        if not keys:
            return None
        out.append(max(keys, key=len))
    return out


def _key(run: str) -> str:
    """The folded form of a literal run, or '' if folding would change it.

    A run that folding changes (a dash, an upper-case-only form) could be
    spelled differently in the text; it is not indexed.
    """
    key = run.lower().strip(" ")
    return key if fold(key).text == key else ""
