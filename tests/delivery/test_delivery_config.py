"""The delivery keys of the config: per-rule policy, default_notify, delivery, templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.alerts.policy import RuleDelivery, retry_policy, rule_policy
from monitor.config import Settings, load_settings
from monitor.errors import ConfigError

HEADER = """\
recipients:
  policy-chat: ["console://"]
  mail: ["console://"]
"""


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    return load_settings(path, {})


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value.problems


def test_full_policy_and_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, HEADER + """\
default_notify: [mail]
delivery: {retry_base: 1m, retry_cap: 2h, max_attempts: 5, max_age: 1d, digest_max_items: 7}
rules:
  - name: app-bans
    query: 'ban* NEAR/5 (TikTok OR WeChat)'
    notify: [policy-chat]
    mode: digest
    digest: {cron: "0 8 * * mon-fri", timezone: Europe/Berlin}
    max_per_hour: 10
    quiet_hours: {from: "22:00", to: "07:00", timezone: Europe/Berlin}
    template: "{{ rule }}: {{ article.title }}"
  - {name: plain, query: zoom}
""")
    bans, plain = settings.rules
    assert settings.rule_notify(bans) == ["policy-chat"]
    assert settings.rule_notify(plain) == ["mail"]
    retry = retry_policy(settings)
    assert (retry.base_s, retry.cap_s, retry.max_attempts, retry.max_age_s) == (
        60, 7200, 5, 86400)
    policy = rule_policy(bans)
    assert (policy.mode, policy.max_per_hour, policy.quiet is not None) == ("digest", 10, True)
    assert rule_policy(plain).mode == "immediate"
    delivery = RuleDelivery.from_settings(settings)
    assert set(delivery.templates) == {"app-bans"} and delivery.digest_max_items == 7


def test_delivery_defaults_without_the_section(tmp_path: Path) -> None:
    settings = load(tmp_path, HEADER + "delivery:\nrules:\n  - {name: r, query: x}\n")
    retry = retry_policy(settings)
    assert (retry.base_s, retry.cap_s, retry.max_attempts) == (30, 3600, 10)
    assert settings.rule_notify(settings.rules[0]) == []  # records matches, alerts nobody


@pytest.mark.parametrize(("rule", "expected"), [
    ('{name: r, query: x, mode: later}',
     "rules[0].mode: input should be 'immediate' or 'digest' (line 5, column 31)"),
    ('{name: r, query: x, digest: {cron: "0 25 * * *"}}',
     "rules[0].digest: invalid cron expression '0 25 * * *': Error validating expression "
     "'25': the last value (25) is higher than the maximum value (23) (line 5, column 33)"),
    ('{name: r, query: x, digest: {every: 1h, cron: "0 8 * * *"}}',
     "rules[0].digest: give either 'every' or 'cron', not both or neither (line 5, column 33)"),
    ('{name: r, query: x, digest: {every: 1h, timezone: Mars/Base}}',
     "rules[0].digest.timezone: unknown time zone 'Mars/Base' (use an IANA name like "
     "Europe/Berlin) (line 5, column 55)"),
    ('{name: r, query: x, quiet_hours: {from: "22:00", to: "7"}}',
     "rules[0].quiet_hours.to: expected a time of day like 22:00, got '7' (line 5, column 58)"),
    ('{name: r, query: x, max_per_hour: 0}',
     "rules[0].max_per_hour: input should be greater than or equal to 1 (line 5, column 39)"),
    ('{name: r, query: x, template: "{{ rule }"}',
     "rules[0].template: template: line 1: unexpected '}' (line 5, column 35)"),
])
def test_invalid_policy_names_path_and_position(tmp_path: Path, rule: str, expected: str) -> None:
    assert problems(tmp_path, HEADER + f"rules:\n  - {rule}\n") == [expected]


def test_template_part_errors_point_at_the_part(tmp_path: Path) -> None:
    found = problems(tmp_path, HEADER + """\
rules:
  - name: r
    query: x
    template:
      html: "<p>{{ article.title }}</p>{% if %}"
""")
    assert found == ["rules[0].template.html: template (html): line 1: Expected an expression, "
                     "got 'end of statement block' (line 8, column 13)"]


def test_default_notify_must_name_recipients(tmp_path: Path) -> None:
    found = problems(tmp_path, HEADER + "default_notify: [policy-chat, mial]\n")
    assert found == ["default_notify[1]: unknown recipient 'mial' (line 4, column 31); "
                     "did you mean 'mail'?"]


def test_delivery_section_rejects_unknown_keys(tmp_path: Path) -> None:
    found = problems(tmp_path, HEADER + "delivery: {retry_bse: 1m}\n")
    assert found == ["delivery.retry_bse: unknown key (line 4, column 12); "
                     "did you mean 'retry_base'?"]
