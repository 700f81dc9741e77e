"""`news-monitor alerts list/retry` through the real CLI, and delivery to real Mosquitto."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from receivers import WebhookReceiver
from test_outbox import T0, seed

from monitor.alerts.drain import deliver_due
from monitor.alerts.notifier import Notifier
from monitor.alerts.policy import RetryPolicy
from monitor.store.repo import Store


def cli(*args: str, cwd: Path, db_url: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess (as tests/e2e/clirun.py, which is not on this path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, env=env,
                          text=True, capture_output=True, timeout=120, check=False)


def test_alerts_list_and_retry_dead(tmp_path: Path, sqlite_url: str) -> None:
    with WebhookReceiver(fail_first=1000) as hook:
        url = hook.json_url("/hook?token=s3cr3t-value")
        (tmp_path / "monitor.yaml").write_text(
            f"recipients:\n  team: ['{url}']\nrules:\n  - {{name: zoom, query: Zoom}}\n"
            "default_notify: [team]\n")
        notifier = Notifier({"team": [url]})
        with Store.open(sqlite_url) as store:
            seed(store, notifier, 2)
            deliver_due(store, notifier, T0, owner="w", policy=RetryPolicy(max_attempts=1))
        listed = cli("alerts", "list", "--status", "dead", "--format", "jsonl",
                     "-c", "monitor.yaml", cwd=tmp_path, db_url=sqlite_url)
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [sorted(r) for r in rows] == [sorted(["id", "kind", "rule", "recipient", "status",
                                                     "attempts", "last_error", "created_at",
                                                     "sent_at", "title", "url"])] * 2
        assert {(r["rule"], r["recipient"], r["status"], r["attempts"]) for r in rows} == {
            ("zoom", "team", "dead", 1)}
        assert "s3cr3t-value" not in listed.stdout
        table = cli("alerts", "list", "-c", "monitor.yaml", cwd=tmp_path, db_url=sqlite_url)
        assert table.returncode == 0 and "dead" in table.stdout
        one = cli("alerts", "retry", "--id", str(rows[0]["id"]), "-c", "monitor.yaml",
                  cwd=tmp_path, db_url=sqlite_url)
        assert one.returncode == 0 and "1 alert queued" in one.stdout
        rest = cli("alerts", "retry", "--dead", "-c", "monitor.yaml", cwd=tmp_path,
                   db_url=sqlite_url)
        assert rest.returncode == 0 and "1 alert queued" in rest.stdout
        bad = cli("alerts", "retry", "-c", "monitor.yaml", cwd=tmp_path, db_url=sqlite_url)
        assert bad.returncode == 2
    with Store.open(sqlite_url) as store:
        assert {a.status for a in store.list_alerts()} == {"pending"}


def _mosquitto_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _mosquitto_up(), reason="no MQTT broker on 127.0.0.1:1883")
def test_alerts_arrive_on_the_mqtt_topic(sqlite_url: str) -> None:
    import paho.mqtt.client as mqtt

    topic = f"news-monitor/test-{uuid.uuid4().hex[:8]}"
    received: queue.Queue[bytes] = queue.Queue()
    subscribed: queue.Queue[bool] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, msg: received.put(msg.payload)
    client.on_subscribe = lambda *a: subscribed.put(True)
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        subscribed.get(timeout=10)
        notifier = Notifier({"team": [f"mqtt://127.0.0.1:1883/{topic}?qos=1"]})
        with Store.open(sqlite_url) as store:
            seed(store, notifier, 2)
            report = deliver_due(store, notifier, datetime(2026, 11, 26, 10, 15, tzinfo=UTC),
                                 owner="w")
        assert report.sent == 2, store
        bodies = [received.get(timeout=10).decode() for _ in range(2)]
    finally:
        client.loop_stop()
        client.disconnect()
    assert sorted(b.splitlines()[0] for b in bodies) == ["[zoom] Story 0", "[zoom] Story 1"]


def test_check_reports_template_and_cron_errors_with_positions(
    tmp_path: Path, sqlite_url: str
) -> None:
    (tmp_path / "monitor.yaml").write_text(
        "recipients:\n  team: ['console://']\ndefault_notify: [team]\nrules:\n"
        "  - name: zoom\n    query: Zoom\n    template: '{{ article.title '\n"
        "  - name: bans\n    query: ban*\n    mode: digest\n    digest: {cron: '0 8 * *'}\n")
    result = cli("check", "-c", "monitor.yaml", cwd=tmp_path, db_url=sqlite_url)
    assert result.returncode == 1
    assert "rules[0].template: template: line 1:" in result.stderr
    assert "(line 7, column 15)" in result.stderr
    assert "rules[1].digest: invalid cron expression '0 8 * *'" in result.stderr
