"""The rule language: parse (query), compile (one automaton), match (with evidence).

The names below are loaded on first use: importing one submodule (``snippet``, say, for
an alert's text) does not build the compiler's tables.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.rules.compile import CompiledQuery, compile_query, compile_rules
    from monitor.rules.match import RuleSet
    from monitor.rules.query import Node, parse, render
    from monitor.rules.snippet import make_snippet

__all__ = ["CompiledQuery", "Node", "RuleSet", "compile_query", "compile_rules", "make_snippet",
           "parse", "render"]

_HOME = {"CompiledQuery": "compile", "compile_query": "compile", "compile_rules": "compile",
         "RuleSet": "match", "Node": "query", "parse": "query", "render": "query",
         "make_snippet": "snippet"}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
