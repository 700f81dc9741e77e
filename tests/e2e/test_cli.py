"""The CLI as a user meets it: check, demo, run (daemon + SIGTERM), notify-test,
test-rule and rules apply, each through the real `news-monitor` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import cli
from feedserver import FeedServer
from receivers import WebhookReceiver

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
database: sqlite:///state/monitor.db
poll: {interval: 15m, timeout: 5s}
feeds:
  - url: https://example.com/feed.xml
    name: Example
recipients:
  policy-chat: ["json://127.0.0.1:9/hook"]
entities:
  Zoom: {aliases: ["Zoom"]}
rules:
  - name: zoom-china
    query: '@Zoom AND "mainland China"'
    notify: [policy-chat]
"""

# Each broken config, the key path we expect in the message and its position.
BROKEN = [
    # a typo'd key inside a feed
    (GOOD.replace("    name: Example", "    nmae: Example"),
     "feeds[0].nmae: unknown key (line 5, column 5)"),
    # a rule naming a recipient that does not exist
    (GOOD.replace("notify: [policy-chat]", "notify: [polcy-chat]"),
     "rules[0].notify[0]: unknown recipient 'polcy-chat' (line 13, column 14)"),
    # an unbalanced quote in a query: the rule, the column inside the query, the YAML position
    (GOOD.replace("'@Zoom AND \"mainland China\"'", "'@Zoom AND \"mainland China'"),
     "rules[0] 'zoom-china': query column 11: unbalanced quote"),
    # a secret taken from an environment variable that is not set
    (GOOD.replace("json://127.0.0.1:9/hook", "json://${HOOK_TOKEN}@127.0.0.1:9/hook"),
     "recipients.policy-chat[0]: environment variable HOOK_TOKEN is not set (line 7, column 17)"),
]


@pytest.mark.parametrize(("text", "expected"), BROKEN, ids=["typo", "recipient", "quote", "env"])
def test_check_refuses_a_broken_config_naming_path_and_position(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(text)
    result = cli("check", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr
    # The daemon refuses to start on the same file.
    run = cli("once", "-c", str(config), cwd=tmp_path)
    assert run.returncode == 1 and expected in run.stderr


def test_check_accepts_the_example_config_and_never_prints_secrets(tmp_path: Path) -> None:
    result = cli("check", "-c", str(REPO / "config" / "example.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout

    config = tmp_path / "monitor.yaml"
    config.write_text(GOOD.replace("json://127.0.0.1:9/hook", "json://bot:${HOOK_PASS}@127.0.0.1:9/hook")
                      .replace("notify: [policy-chat]", "notify: [policy-chat, nobody]"))
    result = cli("check", "-c", str(config), cwd=tmp_path, env={"HOOK_PASS": "s3cr3t-Pa55"})
    assert result.returncode == 1 and "nobody" in result.stderr
    assert "s3cr3t-Pa55" not in result.stderr + result.stdout


def test_demo_runs_offline_and_shows_alerts_and_matches(tmp_path: Path) -> None:
    result = cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[zoom-china] Zoom to stop selling directly to customers in mainland China" in result.stdout
    assert "[app-bans] Senate hearing weighs a nationwide TikTok ban" in result.stdout
    # "zoom in" and "urban bananas" are the traps: never alerted.
    assert "night sky" not in result.stdout and "banana" not in result.stdout
    assert "4 matches" in result.stdout


def test_notify_test_reaches_the_recipient(tmp_path: Path) -> None:
    with WebhookReceiver() as hook:
        config = tmp_path / "monitor.yaml"
        config.write_text(GOOD.replace("json://127.0.0.1:9/hook", hook.json_url("/hook")))
        result = cli("notify-test", "policy-chat", "-c", str(config), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert len(hook.delivered) == 1
        unknown = cli("notify-test", "nobody", "-c", str(config), cwd=tmp_path)
        assert unknown.returncode == 1 and "policy-chat" in unknown.stderr


def test_notify_test_fails_loudly_when_the_target_is_down(tmp_path: Path) -> None:
    with WebhookReceiver(fail_first=10) as hook:
        config = tmp_path / "monitor.yaml"
        config.write_text(GOOD.replace("json://127.0.0.1:9/hook", hook.json_url("/hook")))
        result = cli("notify-test", "policy-chat", "-c", str(config), cwd=tmp_path)
        assert result.returncode == 1
        assert "failed" in result.stderr


FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Zoom exits mainland China</title><link>https://t.test/1</link><guid>1</guid></item>
<item><title>TikTok ban vote delayed</title><link>https://t.test/2</link><guid>2</guid></item>
<item><title>Weather</title><link>https://t.test/3</link><guid>3</guid></item>
</channel></rss>"""


def test_run_delivers_then_stops_cleanly_on_sigterm(tmp_path: Path, db_url: str) -> None:
    with FeedServer() as feeds, WebhookReceiver() as hook:
        config = tmp_path / "monitor.yaml"
        config.write_text(GOOD.replace("https://example.com/feed.xml", feeds.add("/f.xml", FEED))
                          .replace("json://127.0.0.1:9/hook", hook.json_url("/hook")))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env["MONITOR_DATABASE_URL"] = db_url
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(config)], cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            delivered = hook.wait_for(1, timeout=60)
            assert [r.json["title"] for r in delivered] == ["[zoom-china] Zoom exits mainland China"]
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert "service.stopped" in stderr


def test_test_rule_on_a_file_and_on_stored_articles(tmp_path: Path, db_url: str) -> None:
    feed_file = tmp_path / "feed.xml"
    feed_file.write_text(FEED)
    result = cli("test-rule", "ban* NEAR/2 TikTok", "--file", str(feed_file), "-f", "jsonl",
                 "-c", str(tmp_path / "absent.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["title"], sorted(r["terms"])) for r in rows] == [("TikTok ban vote delayed", ["TikTok", "ban*"])]
    assert "«ban»" in rows[0]["snippet"]

    bad = cli("test-rule", "ban NEAR/2", "--file", str(feed_file), cwd=tmp_path)
    assert bad.returncode == 1 and "column" in bad.stderr and "^" in bad.stderr

    with FeedServer() as feeds:
        config = tmp_path / "monitor.yaml"
        config.write_text(GOOD.replace("https://example.com/feed.xml", feeds.add("/f.xml", FEED))
                          .replace("notify: [policy-chat]", "notify: []"))
        assert cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url).returncode == 0
        stored = cli("test-rule", "TikTok OR Weather", "--stored", "-c", str(config), "-f", "jsonl",
                     cwd=tmp_path, db_url=db_url)
        assert stored.returncode == 0, stored.stderr
        assert sorted(json.loads(x)["title"] for x in stored.stdout.splitlines()) == [
            "TikTok ban vote delayed", "Weather"]

        # A rule added after the articles arrived: `rules apply` records its matches once.
        config.write_text(config.read_text() + "  - name: tiktok\n    query: TikTok\n    notify: []\n")
        applied = cli("rules", "apply", "-c", str(config), cwd=tmp_path, db_url=db_url)
        assert applied.returncode == 0, applied.stderr
        assert "1 new match," in applied.stdout
        again = cli("rules", "apply", "-c", str(config), cwd=tmp_path, db_url=db_url)
        assert "0 new matches" in again.stdout
        out = cli("matches", "-c", str(config), "-f", "csv", cwd=tmp_path, db_url=db_url)
        lines = out.stdout.splitlines()
        assert lines[0].startswith("rule,title,url")
        assert sorted(line.split(",")[0] for line in lines[1:]) == ["tiktok", "zoom-china"]


def test_package_files_exist_for_the_dockerfile() -> None:
    """No Docker engine here: check what the Dockerfile copies exists and the entry point runs."""
    dockerfile = (REPO / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    assert 'ENTRYPOINT ["news-monitor"]' in dockerfile
    assert 'CMD ["run", "-c", "/config/monitor.yaml"]' in dockerfile
    result = subprocess.run([sys.executable, "-m", "monitor", "--help"], capture_output=True,
                            text=True, check=False, timeout=60)
    assert result.returncode == 0 and "once" in result.stdout
