"""Start-up does each piece of work once, and only when needed (issue 8, item 9)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from monitor.article import RuleSpec
from monitor.rules.compile import compile_rules


def test_the_same_rules_compile_once():
    specs = [RuleSpec(name="a", query="zoom AND china"), RuleSpec(name="b", query="@Zoom")]
    entities = {"Zoom": ["Zoom Video Communications", "Zoom"]}
    first = compile_rules(specs, entities)
    assert compile_rules(list(specs), {"Zoom": ["Zoom Video Communications", "Zoom"]}) is first
    changed = compile_rules([*specs, RuleSpec(name="c", query="tiktok")], entities)
    assert changed is not first and changed.rule_names == ("a", "b", "c")
    assert compile_rules(specs, {"Zoom": ["Zoom"]}) is not first  # other aliases, other set


def test_loading_a_config_compiles_the_rule_set_the_run_uses(tmp_path):
    from monitor.config import load_settings

    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent("""\
        database: sqlite:///x.db
        feeds: [{url: "http://127.0.0.1:1/f.xml"}]
        entities: {Zoom: {aliases: [Zoom Video Communications]}}
        rules:
          - {name: zoom, query: "@Zoom AND china", languages: [EN]}
        """))
    settings = load_settings(path)
    checked = compile_rules(settings.rule_specs(), settings.entity_aliases())
    again = load_settings(path)  # a reload of the same file: the same compiled set
    assert compile_rules(again.rule_specs(), again.entity_aliases()) is checked
    assert settings.rule_specs()[0].languages == ("en",)


def test_a_notifier_loads_apprise_plugins_only_to_send():
    code = textwrap.dedent("""\
        import sys
        from monitor.alerts.notifier import Notifier
        n = Notifier({"team": ["json://127.0.0.1:1/hook", "mailto://u:p@example.org"]})
        n.routes_for(["team"])
        print(sum(m.startswith("apprise.plugins.") for m in sys.modules))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert int(out) == 0
