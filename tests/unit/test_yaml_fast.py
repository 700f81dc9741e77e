"""The config reader parses with libyaml when it can: same document, same positions,
and errors worded by the pure-Python parser (the messages we document)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.config import source
from monitor.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(source._FAST_LOADER is yaml.SafeLoader, reason="PyYAML without libyaml")
@pytest.mark.parametrize("path", [REPO / "config" / "example.yaml",
                                  *sorted((REPO / "tests" / "data" / "config").glob("*.yaml"))])
def test_libyaml_and_python_build_the_same_document(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    env = {"SMTP_USER": "u", "SMTP_PASSWORD": "p4ssw0rd", "HOOK_TOKEN": "t0k3n-value"}
    python = source._read_yaml(yaml.SafeLoader, text, env)
    fast = source._read_yaml(source._FAST_LOADER, text, env)
    assert (fast.data, fast.values, fast.keys, fast.problems, fast.double_quoted) == (
        python.data, python.values, python.keys, python.problems, python.double_quoted)


def test_a_syntax_error_reads_as_the_python_parser_words_it() -> None:
    text = "feeds:\n  - url: https://a.test/\nrules:\n  - {name: z, query: @Zoom AND China}\n"
    with pytest.raises(ConfigError) as python:
        source._read_yaml(yaml.SafeLoader, text, {})
    with pytest.raises(ConfigError) as ours:
        source.read_yaml(text, {})
    assert ours.value.problems == python.value.problems
    assert "line 4" in ours.value.problems[0]
