"""A record of the rule sets that compile, so that a start need not compile them to know.

Loading a config compiles its rules to report a bad query at its line and column
(~50 ms for 1,000 rules), and a cron ``once`` whose feeds all answer 304 then matches
nothing. When the same rule set compiled before, with the same compiler, the record
says so: the load skips compiling and the run compiles the rules on first use only.

The record (in monitor.cache) keeps SHA-256 digests, nothing else. A digest covers the
rules and entities, the package and Python versions and the size and modification time
of every file of the rule compiler: any change of these is a digest not recorded. Rules
or entities holding a secret (a value from ``${VAR}``) are never recorded.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import monitor
from monitor.article import RuleSpec
from monitor.cache import read_json, write_json

if TYPE_CHECKING:
    from monitor.rules.match import RuleSet

_FILE = "valid-rules.json"
#: Digests kept (the newest): a few configs checked in turn keep theirs.
_KEEP = 16
#: Digests this process found in the record (its rules compile on first use).
_vouched: set[str] = set()


def rules_digest(rules: Sequence[RuleSpec], entities: Mapping[str, Sequence[str]]) -> str:
    """The digest of these rules as this compiler sees them."""
    h = hashlib.sha256()
    for part in (monitor.__version__, sys.version, *_compiler_files(),
                 repr(tuple(rules)), repr(sorted((k, tuple(v)) for k, v in entities.items()))):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def _compiler_files() -> list[str]:
    """Size and mtime of each file the compiler's verdict depends on."""
    package = Path(monitor.__file__).parent
    files = sorted((package / "rules").glob("*.py")) + [package / "article.py",
                                                         package / "errors.py"]
    stamps = []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        stamps.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return stamps


def holds_secret(texts: Iterable[str], secrets: Iterable[str]) -> bool:
    """Whether any of ``texts`` contains one of ``secrets``."""
    secrets = [s for s in secrets if s]
    return any(s in text for text in texts for s in secrets)


def known_valid(digest: str) -> bool:
    """Whether the record says these rules compile."""
    record = read_json(_FILE)
    keys = record.get("valid") if isinstance(record, dict) else None
    if isinstance(keys, list) and digest in keys:
        _vouched.add(digest)
        return True
    return False


def remember_valid(digest: str) -> None:
    """Record that these rules compile (the newest first, the oldest dropped)."""
    record = read_json(_FILE)
    keys = record.get("valid") if isinstance(record, dict) else None
    kept = [k for k in keys if isinstance(k, str) and k != digest] if isinstance(keys, list) else []
    write_json(_FILE, {"valid": [digest, *kept][:_KEEP]})


def rules_for_run(rules: Sequence[RuleSpec], entities: Mapping[str, Sequence[str]]) -> RuleSet:
    """The RuleSet of a run: compiled on first use when loading the config found these
    rules in the record, else compiled now (at once when loading just compiled them)."""
    from monitor.rules.match import RuleSet  # the compiler itself only when it compiles

    def build() -> RuleSet:
        from monitor.rules.compile import compile_rules

        return compile_rules(rules, entities)

    if _vouched and rules_digest(rules, entities) in _vouched:
        return RuleSet.deferred(build)
    return build()
