"""YAML text -> plain data that remembers where every value came from.

PyYAML's ``safe_load`` forgets positions, so we compose the node tree ourselves and
build plain dicts/lists/scalars while recording the start of every value (and of
every mapping key) under its path, the same tuple pydantic uses as an error ``loc``:
``("rules", 2, "notify", 0)``. String scalars get ``${VAR}`` interpolation here, so a
missing variable is reported at the scalar that names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from monitor.errors import ConfigError
from monitor.redact import MASK

#: A path into the document, as a pydantic error ``loc``: str keys and int indices.
KeyPath = tuple[str | int, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: ``$${`` (escape), ``${body}``, or an unclosed ``${``.
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
#: Aliases can expand a small file into a huge tree ("billion laughs"): at most this
#: many values may be built a second time through an alias. Files without aliases
#: never count against it, however big.
MAX_ALIAS_VALUES = 50_000


class Position(NamedTuple):
    """A 1-based line and column in the YAML file (a tuple: one is made for every value
    of the file, and a config of 500 feeds and 1,000 rules has 10,000)."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, with where it is."""

    path: KeyPath
    message: str
    position: Position | None = None
    #: Text shown after the position (a hint or a query with a caret line).
    extra: str = ""
    #: Shown instead of the path when set (``rules[4] 'app-bans'``).
    label: str = ""

    def __str__(self) -> str:
        where = f" ({self.position})" if self.position else ""
        return f"{self.label or format_path(self.path)}: {self.message}{where}{self.extra}"


@dataclass
class Document:
    """The parsed YAML plus everything learned while building it."""

    data: Any
    #: Where each value starts, by path.
    values: dict[KeyPath, Position] = field(default_factory=dict)
    #: Where each mapping key starts, by the path of its value.
    keys: dict[KeyPath, Position] = field(default_factory=dict)
    #: Every non-empty value taken from the environment by an interpolation.
    secrets: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    #: Paths whose interpolation failed (their validation errors would only repeat it).
    tainted: set[KeyPath] = field(default_factory=set)
    #: Paths of values written in YAML double quotes (``query: "a b"`` is not a phrase).
    double_quoted: set[KeyPath] = field(default_factory=set)
    #: Values that took text from the environment, as shown: each such part masked.
    shown: dict[KeyPath, str] = field(default_factory=dict)

    def position(self, path: KeyPath, *, key: bool = False) -> Position | None:
        """Where ``path`` is (its key when ``key``), else where its nearest parent is."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return None


def format_path(path: KeyPath) -> str:
    """``("rules", 2, "notify", 0)`` -> ``rules[2].notify[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "(top level)"


def _position(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def read_yaml(text: str, env: Mapping[str, str]) -> Document:
    """Parse one YAML document; a syntax error raises ConfigError with its position.

    libyaml's parser when PyYAML has it (a config of 500 feeds and 1,000 rules parses
    in a tenth of the time); an error is reported by the pure-Python parser, whose
    messages are the ones we document and test."""
    try:
        return _read_yaml(_FAST_LOADER, text, env)
    except ConfigError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
    return _read_yaml(yaml.SafeLoader, text, env)


#: The C parser (same nodes and positions) when PyYAML was built with libyaml.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(loader_class: type[yaml.SafeLoader], text: str,
               env: Mapping[str, str]) -> Document:
    try:
        loader = loader_class(text)
    except yaml.reader.ReaderError as e:  # the pure-Python reader checks every character first
        where = Position(text.count("\n", 0, e.position) + 1,
                         e.position - text.rfind("\n", 0, e.position))
        char = e.character if isinstance(e.character, int) else ord(e.character[:1] or "\0")
        message = f"invalid YAML: control character U+{char:04X} is not allowed ({where})"
        raise ConfigError(problems=[message]) from e
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" ({_position(mark)})" if mark else ""
        reason = e.problem or e.context or "syntax error"
        if e.context and reason.startswith("but "):  # "but found another document"
            reason = f"{e.context}, {reason}"
        hint = _quoting_hint(text, mark) if mark else ""
        raise ConfigError(problems=[f"invalid YAML: {reason}{where}{hint}"]) from e
    except yaml.YAMLError as e:
        raise ConfigError(problems=[f"invalid YAML: {e}"]) from e
    finally:
        loader.dispose()
    doc = Document(data=None)
    if node is not None:
        doc.data = _Builder(loader, env, doc).build(node, ())
    return doc


#: ``key: value`` where the error is, in block (``query: @x``) or flow (``{query: @x}``) style.
_KEY_BEFORE = re.compile(r"([A-Za-z_][\w-]*):\s+(?=\S)")
#: Characters YAML reserves at the start of a plain value, or quotes that end too soon.
_NEEDS_QUOTES = "@`\"'%|>!&*"


def _quoting_hint(text: str, mark: yaml.Mark) -> str:
    """``; quote the query: query: '@Zoom AND China'`` when a value needs YAML quotes.

    Query syntax collides with YAML's: ``@`` and a backtick cannot start a plain value,
    and ``"a b" OR c`` ends the YAML string after ``"a b"``.
    """
    line = text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else ""
    keys = list(_KEY_BEFORE.finditer(line[: mark.column + 1]))
    if not keys:
        return ""
    key = keys[-1]
    value = line[key.end():].split(" #", 1)[0].rstrip()
    if line[: key.start()].lstrip(" -").startswith("{"):  # flow style: up to the closing brace
        value = value.rstrip(",").removesuffix("}").rstrip()
    if not value or value[0] not in _NEEDS_QUOTES:
        return ""
    what = "the query" if key.group(1) == "query" else "the value"
    quoted = "'" + value.replace("'", "''") + "'"
    return f"; quote {what}: {key.group(1)}: {quoted}"


class _Builder:
    """Walks a composed node tree into plain Python values, filling a Document."""

    def __init__(self, loader: yaml.SafeLoader, env: Mapping[str, str], doc: Document) -> None:
        self.loader = loader
        self.env = env
        self.doc = doc
        self.budget = MAX_ALIAS_VALUES
        self.built: set[int] = set()
        self.open: set[int] = set()  # nodes being built: an alias back to one is a cycle

    def build(self, node: Node, path: KeyPath) -> Any:
        node_id = id(node)
        if node_id in self.built:
            self.budget -= 1
            if self.budget < 0:
                raise ConfigError(problems=["invalid YAML: too many values (alias expansion?)"])
        self.built.add(node_id)
        if path not in self.doc.values:
            mark = node.start_mark
            self.doc.values[path] = Position(mark.line + 1, mark.column + 1)
        if isinstance(node, ScalarNode):  # holds nothing, so no alias back to it
            return self._scalar(node, path)
        if node_id in self.open:
            self._problem(path, "an alias refers to a value that contains it")
            return None
        self.open.add(node_id)
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(node_id)

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged += self._merge_pairs(value_node, path)
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(path, "a key must be a plain string", key_node)
                continue
            # The key as written: `no:` or `1:` name things, they are not booleans or ints.
            key = str(key_node.value)
            if key in out:
                first = self.doc.keys[(*path, key)]
                self._problem((*path, key), f"duplicate key (first at {first})", key_node)
                continue
            self.doc.keys[(*path, key)] = _position(key_node.start_mark)
            out[key] = self.build(value_node, (*path, key))
        # `<<: *anchor` supplies defaults: keys written here win, then earlier merges.
        for key_node, value_node in merged:
            key = str(key_node.value)
            if isinstance(key_node, ScalarNode) and key not in out:
                self.doc.keys[(*path, key)] = _position(key_node.start_mark)
                out[key] = self.build(value_node, (*path, key))
        return out

    def _merge_pairs(self, node: Node, path: KeyPath) -> list[tuple[Node, Node]]:
        """The (key, value) nodes a merge brings, own keys before nested merges."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        pairs: list[tuple[Node, Node]] = []
        for source in sources:
            if not isinstance(source, MappingNode) or id(source) in self.open:
                self._problem(path, "'<<' must name a mapping or a list of mappings", source)
                continue
            own = [(k, v) for k, v in source.value if k.tag != _MERGE_TAG]
            self.open.add(id(source))
            nested = [p for k, v in source.value if k.tag == _MERGE_TAG
                      for p in self._merge_pairs(v, path)]
            self.open.discard(id(source))
            pairs += own + nested
        return pairs

    def _scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        if node.style == '"':
            self.doc.double_quoted.add(path)
        if node.tag != _STR_TAG:
            try:
                return self.loader.construct_object(node)
            # An unknown !tag, a bad !!binary (YAMLError); PyYAML's constructors for explicit
            # tags raise what int() and dict lookups do: "!!int x", "!!bool maybe" (KeyError),
            # "!!timestamp " (AttributeError: its regex did not match).
            except (yaml.YAMLError, ValueError, TypeError, AttributeError, LookupError,
                    OverflowError) as e:
                tag = node.tag.replace("tag:yaml.org,2002:", "!!")
                reason = getattr(e, "problem", None) or (
                    str(e) if isinstance(e, yaml.YAMLError) else f"not a valid {tag}")
                self._problem(path, f"cannot read this value: {reason}")
                self.doc.tainted.add(path)
                return None
        text, secrets, errors = interpolate(str(node.value), self.env)
        self.doc.secrets.update(secrets)
        if secrets:
            self.doc.shown[path] = interpolate(str(node.value), _Masking(self.env))[0]
        for error in errors:
            self._problem(path, error)
        if errors:
            self.doc.tainted.add(path)
        return text

    def _problem(self, path: KeyPath, message: str, node: Node | None = None) -> None:
        where = _position(node.start_mark) if node is not None else self.doc.position(path)
        self.doc.problems.append(Problem(path, message, where))


class _Masking(Mapping[str, str]):
    """The environment as shown: every non-empty value is ``***``."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def __getitem__(self, name: str) -> str:
        return MASK if self._env[name] else ""

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[str], list[str]]:
    """Expand ``${VAR}``, ``${VAR:-default}`` and ``$${`` in ``text``.

    Returns the text, the non-empty values taken from ``env`` (secrets to redact) and
    the errors found. As in a shell, ``:-`` also applies when the variable is empty;
    the default is literal text up to the first ``}``.
    """
    if "${" not in text:  # every reference and escape has it: most values have none
        return text, [], []
    secrets: list[str] = []
    errors: list[str] = []

    def expand(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        body = m.group(1)
        if body is None:
            errors.append("unclosed '${' (write '$${' for a literal '${')")
            return m.group(0)
        name, has_default, default = body.partition(":-")
        if not _VAR_NAME.match(name):
            errors.append(f"invalid variable reference '${{{body}}}' "
                          "(write '$${' for a literal '${')")
            return m.group(0)
        value = env.get(name)
        if value is None or (value == "" and has_default):
            if has_default:
                return default
            errors.append(f"environment variable {name} is not set")
            return m.group(0)
        if value:
            secrets.append(value)
        return value

    return _REFERENCE.sub(expand, text), secrets, errors
