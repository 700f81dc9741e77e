"""Admission control for ``/regex/`` terms: only patterns with bounded backtracking.

Python's ``re`` backtracks, and it cannot be interrupted, so a pattern such as
``(a+)+$`` can hang the matcher on one hostile article. Instead of a timer we
refuse, at load time, every pattern whose work per start position is not
small and bounded:

* no unbounded repeats (``*``, ``+``, ``{n,}``): write a bound, ``\\w{1,30}``;
* no repeat bound above ``MAX_REPEAT``;
* no variable repeat inside another variable repeat (``(a{1,5}){1,5}``);
* no alternation inside a variable repeat (``(a|ab){1,9}``);
* no backreferences (``\\1``, ``(?P=name)``);
* the product of the choices of all variable repeats and alternations must
  stay within ``MAX_BRANCHING``: that product bounds the backtracking per
  start position, so a search is linear in the length of the text;
* a pattern that matches the empty string is refused (it would match everything).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from monitor.errors import QueryError

# The regex parser is private API (re._parser since 3.11, sre_parse before); we only
# read its parse tree, which has been stable for many Python releases.
sre_c: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

MAX_PATTERN_LENGTH = 300
MAX_REPEAT = 100
MAX_BRANCHING = 10_000
_REPEATS = {sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)}


class _Unsafe(Exception):
    pass


def _walk(items: Any, in_repeat: bool) -> int:
    """Return the branching factor of a parsed (sub)pattern; raise _Unsafe."""
    product = 1
    for op, av in items:
        if op in _REPEATS:
            lo, hi, sub = av
            if hi == sre_c.MAXREPEAT:
                raise _Unsafe("unbounded repeats (*, +, {n,}) are not allowed; "
                              f"write a bound such as {{1,{min(30, MAX_REPEAT)}}}")
            if hi > MAX_REPEAT:
                raise _Unsafe(f"repeat bounds above {MAX_REPEAT} are not allowed")
            variable = hi != lo
            if variable and in_repeat:
                raise _Unsafe("nested variable repeats (like (a{1,5}){1,5}) are not allowed")
            inner = _walk(sub, in_repeat or variable)
            product *= (hi - lo + 1) * inner if variable else inner
        elif op == sre_c.BRANCH:
            if in_repeat:
                raise _Unsafe("alternation inside a repeated group is not allowed")
            product *= sum(_walk(alt, in_repeat) for alt in av[1])
        elif op == sre_c.SUBPATTERN:
            product *= _walk(av[-1], in_repeat)
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            product *= _walk(av[1], in_repeat)
        elif op == getattr(sre_c, "ATOMIC_GROUP", None):
            product *= _walk(av, in_repeat)
        elif op in (sre_c.GROUPREF, sre_c.GROUPREF_EXISTS):
            raise _Unsafe("backreferences are not allowed")
        if product > MAX_BRANCHING:
            raise _Unsafe(f"the pattern may backtrack too much (more than {MAX_BRANCHING} "
                          "combinations of repeats and alternatives)")
    return product


def compile_safe_regex(pattern: str, column: int) -> re.Pattern[str]:
    """Compile a ``/regex/`` term, refusing patterns with unbounded backtracking.

    The pattern runs over the folded text (lower case, accents removed, runs of
    spaces/hyphens/dashes as one space) with IGNORECASE.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise QueryError(f"regex longer than {MAX_PATTERN_LENGTH} characters", column)
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise QueryError(f"invalid regex: {e.msg}", column + 1 + (e.pos or 0)) from e
    try:
        _walk(parsed, False)
    except _Unsafe as e:
        raise QueryError(f"unsafe regex: {e}", column) from e
    if compiled.fullmatch("") is not None:
        raise QueryError("regex matches the empty string", column)
    return compiled
