"""The ``spike:`` rule config: loaded into the rule, and each mistake at its position."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import HEADER, load, problems_of

STORIES = "stories: {enabled: true}\n"


def test_a_spike_rule_matches_with_its_spike_query(tmp_path: Path) -> None:
    settings = load(tmp_path, HEADER + STORIES + "rules:\n"
                    "  - name: surge\n"
                    "    spike: {query: '@TikTok', window: 2h, baseline: 3d, factor: 2.5,"
                    " min_stories: 4}\n"
                    "    notify: [policy-chat]\n"
                    "entities:\n  TikTok: {aliases: [TikTok]}\n")
    rule = settings.rules[0]
    assert rule.query == "@TikTok" and rule.spike is not None
    assert (rule.spike.window_s, rule.spike.baseline_s, rule.spike.factor,
            rule.spike.min_stories) == (7200, 3 * 86400, 2.5, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a broken spike query: the caret points into spike.query
        (STORIES + "rules:\n  - name: surge\n    spike: {query: 'tiktok AND ('}\n",
         "rules[0] 'surge' spike: query column 13: the query ends too early (line 8, "
         "column 20)"),
        # spikes count stories: without them the rule could never fire
        ("rules:\n  - name: surge\n    spike: {query: tiktok}\n",
         "rules[0].spike: a spike rule counts stories: set stories: {enabled: true} "
         "(line 7, column 12)"),
        # a baseline shorter than the window says nothing about it
        (STORIES + "rules:\n  - name: surge\n    spike: {query: tiktok, window: 2h, "
         "baseline: 1h}\n",
         "rules[0].spike: spike baseline must be at least as long as its window (line 8, "
         "column 12)"),
        # a query beside spike: ambiguous, refused
        (STORIES + "rules:\n  - name: surge\n    query: china\n    spike: {query: tiktok}\n",
         "rules[0]: a spike rule takes its query inside spike: (spike.query), not beside "
         "it (line 7, column 5)"),
    ],
)
def test_spike_mistakes_are_reported_where_they_are(
    tmp_path: Path, text: str, expected: str
) -> None:
    problems = problems_of(tmp_path, HEADER + text)
    assert [p.splitlines()[0] for p in problems] == [expected]
