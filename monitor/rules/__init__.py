"""The rule language: parse (query), compile (one automaton), match (with evidence)."""

from __future__ import annotations

from monitor.rules.compile import CompiledQuery, compile_query, compile_rules
from monitor.rules.match import RuleSet
from monitor.rules.query import Node, parse, render
from monitor.rules.snippet import make_snippet

__all__ = ["CompiledQuery", "Node", "RuleSet", "compile_query", "compile_rules", "make_snippet",
           "parse", "render"]
