"""`run` with `http:`, `serve` and `health`, as a user runs them (real processes, sockets)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from clirun import cli
from feedserver import FeedServer, unused_port

ADMIN = "admin-token-0123456789abcdef"
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>
<item><title>Zoom grows</title><link>https://news.example/1</link><guid>1</guid></item>
<item><title>Zoom again</title><link>https://news.example/2</link><guid>2</guid></item>
</channel></rss>"""

CONFIG = """
feeds:
  - {{url: "{feed}", name: World}}
entities:
  Zoom: {{aliases: ["Zoom"]}}
rules:
  - {{name: zoom, query: "@Zoom", notify: []}}
poll: {{tick: 1s}}
http:
  listen: 127.0.0.1:{port}
  tokens:
    ops: {{token: "${{ADMIN_TOKEN}}", role: admin}}
"""


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                     if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def _wait_for(url: str, want: int = 200, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    status, body = 0, ""
    while time.monotonic() < deadline:
        status, body = _get(url)
        if status == want:
            return body
        time.sleep(0.3)
    raise AssertionError(f"{url}: {status} {body}")


def _start(args: list[str], cwd: Path, db_url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_DATABASE_URL=db_url, ADMIN_TOKEN=ADMIN)
    return subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=cwd, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_run_serves_probes_metrics_and_api_beside_the_daemon(db_url: str, tmp_path: Path) -> None:
    port = unused_port()
    with FeedServer() as feeds:
        feeds.add("/f.xml", RSS.encode(), headers={"Content-Type": "application/rss+xml"})
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(feed=feeds.url("/f.xml"), port=port))
        proc = _start(["run", "-c", str(config)], tmp_path, db_url)
        try:
            body = _wait_for(f"http://127.0.0.1:{port}/readyz?verbose")
            assert "[+]poll ok" in body
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the first poll lands in the API
                status, body = _get(f"http://127.0.0.1:{port}/api/v1/matches", ADMIN)
                if status == 200 and json.loads(body)["items"]:
                    break
                time.sleep(0.3)
            assert {m["rule"] for m in json.loads(body)["items"]} == {"zoom"}
            # The poll is counted once its feed is stored: a moment after its matches show.
            status, metrics = _get(f"http://127.0.0.1:{port}/metrics", ADMIN)
            while ('newsmonitor_feed_polls_total{result="ok"} 0.0' in metrics
                   and time.monotonic() < deadline):
                time.sleep(0.1)
                status, metrics = _get(f"http://127.0.0.1:{port}/metrics", ADMIN)
            assert status == 200
            assert 'newsmonitor_feed_polls_total{result="ok"} 1.0' in metrics
            assert 'newsmonitor_rule_matches_total{rule="zoom"} 2.0' in metrics
            health = cli("health", "-c", str(config), cwd=tmp_path, env={"ADMIN_TOKEN": ADMIN})
            assert health.returncode == 0, health.stderr
            assert "readyz check passed" in health.stdout
        finally:
            code, err = _stop(proc)
    assert code == 0, err
    assert ADMIN not in err
    assert f"dashboard and API on http://127.0.0.1:{port}/" in err


def test_serve_serves_without_polling(db_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from monitor.article import FeedSpec
    from monitor.store.repo import Store

    port = unused_port()
    with FeedServer() as feeds:
        feeds.add("/f.xml", RSS.encode(), headers={"Content-Type": "application/rss+xml"})
        with Store.open(db_url) as store:  # a feed due now, as a polling replica left it
            store.sync_feeds([FeedSpec(url=feeds.url("/f.xml"), name="World")],
                             datetime.now(UTC))
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(feed=feeds.url("/f.xml"), port=port))
        proc = _start(["serve", "-c", str(config)], tmp_path, db_url)
        try:
            body = _wait_for(f"http://127.0.0.1:{port}/readyz?verbose")
            assert "[+]poll ok: not polling in this process (serve)" in body
            time.sleep(2)  # a daemon would have polled the due feed by now (tick 1 s)
            status, listed = _get(f"http://127.0.0.1:{port}/api/v1/feeds", ADMIN)
            assert status == 200
            assert [f["last_polled_at"] for f in json.loads(listed)["items"]] == [None]
            assert feeds.requests == []
        finally:
            code, err = _stop(proc)
    assert code == 0, err


def test_run_answers_hubs_on_the_api_listener(db_url: str, tmp_path: Path) -> None:
    from websubhub import LocalHub, wait_for

    port = unused_port()
    with FeedServer() as feeds, LocalHub() as hub:
        topic = feeds.url("/f.xml")
        feeds.add("/f.xml", RSS.replace("<channel>", f'<channel><link rel="hub" href="{hub.url}"'
                                        ' xmlns="http://www.w3.org/2005/Atom"/>').encode(),
                  headers={"Content-Type": "application/rss+xml"})
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(feed=topic, port=port)
                          + f"websub: {{callback_base: 'http://127.0.0.1:{port}'}}\n")
        proc = _start(["run", "-c", str(config)], tmp_path, db_url)
        try:
            wait_for(lambda: hub.verified(topic), timeout_s=60)
            (sub,) = hub.verified(topic)
            assert sub.callback.startswith(f"http://127.0.0.1:{port}/websub/")
            assert _get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        finally:
            code, err = _stop(proc)
    assert code == 0, err
    assert f"websub.mounted listen=127.0.0.1:{port} path=/websub/" in err
    assert "websub.listening" not in err  # no second listener


def test_serve_answers_no_websub_callback(db_url: str, tmp_path: Path) -> None:
    # serve does not poll, match or queue alerts, so it cannot ingest a push: it mounts
    # no callback, even for a subscription a `run` daemon is waiting to have verified.
    from datetime import UTC, datetime
    from urllib.parse import urlencode

    from monitor.article import FeedSpec
    from monitor.store.repo import Store
    from monitor.websub.signature import sign

    port, topic = unused_port(), "https://feeds.example/f.xml"
    with Store.open(db_url) as store:
        store.sync_feeds([FeedSpec(url=topic, name="World")], datetime.now(UTC))
        store.note_hub(1, "https://hub.example/", topic, secret="s" * 40, token="t" * 22)
        store.update_subscription(1, state="subscribing")
    config = tmp_path / "monitor.yaml"
    config.write_text(CONFIG.format(feed=topic, port=port)
                      + f"websub: {{callback_base: 'http://127.0.0.1:{port}'}}\n")
    proc = _start(["serve", "-c", str(config), "--nice", "0"], tmp_path, db_url)
    callback = f"http://127.0.0.1:{port}/websub/1/{'t' * 22}"
    try:
        _wait_for(f"http://127.0.0.1:{port}/readyz")
        query = urlencode({"hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "c"})
        assert _get(f"{callback}?{query}")[0] == 404
        body = b"<rss><channel><item><title>Zoom pushed</title></item></channel></rss>"
        push = urllib.request.Request(callback, data=body, method="POST",
                                      headers={"X-Hub-Signature": sign("s" * 40, body)})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(push, timeout=5)
        assert refused.value.code == 404
    finally:
        code, err = _stop(proc)
    assert code == 0, err
    assert "no WebSub callbacks here (serve does not ingest)" in err
    with Store.open(db_url) as store:
        sub = store.subscription(1)
        assert sub is not None and sub.state == "subscribing"  # left for the daemon
        assert list(store.stored_articles()) == []


def test_health_fails_when_nothing_answers_or_not_ready(tmp_path: Path) -> None:
    port = unused_port()
    result = cli("health", "--url", f"http://127.0.0.1:{port}/readyz", cwd=tmp_path)
    assert result.returncode == 1 and "error" in result.stderr
    (tmp_path / "plain.yaml").write_text("feeds: []\n")
    result = cli("health", "-c", "plain.yaml", cwd=tmp_path)
    assert result.returncode == 1 and "no `http:` block" in result.stderr


def test_a_busy_port_is_a_clear_error(db_url: str, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(feed="http://127.0.0.1:9/x.xml",
                                        port=taken.getsockname()[1]))
        result = cli("serve", "-c", str(config), cwd=tmp_path, db_url=db_url,
                     env={"ADMIN_TOKEN": ADMIN}, timeout=60)
    assert result.returncode == 1
    assert "http.listen: cannot listen on 127.0.0.1:" in result.stderr


@pytest.mark.parametrize("module", ["monitor.cli"])
def test_the_cli_does_not_import_the_web_stack(module: str) -> None:
    code = ("import sys, " + module + "; print(sorted({m.split('.')[0] for m in sys.modules"
            " if m.split('.')[0] in ('aiohttp', 'jinja2', 'prometheus_client')}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_serve_workers_share_the_port_and_stop_together(db_url: str, tmp_path: Path) -> None:
    port = unused_port()
    config = tmp_path / "monitor.yaml"
    config.write_text(CONFIG.format(feed="https://feeds.example/f.xml", port=port))
    proc = _start(["serve", "-c", str(config), "--workers", "2", "--nice", "0"], tmp_path,
                  db_url)
    try:
        _wait_for(f"http://127.0.0.1:{port}/readyz")
        workers = _children(proc.pid)
        assert len(workers) == 2  # both listening on the one port (SO_REUSEPORT)
        for _ in range(8):  # connections spread over them; every one answers
            status, body = _get(f"http://127.0.0.1:{port}/api/v1/matches", ADMIN)
            assert status == 200 and json.loads(body) == {"items": [], "next_cursor": None}
    finally:
        code, err = _stop(proc)
    assert code == 0, err
    assert "from 2 processes" in err
    assert not [w for w in workers if Path(f"/proc/{w}").exists()]
