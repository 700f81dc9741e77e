"""What a SIGHUP reload cannot apply (monitor.config.restart, pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import Settings, load_settings
from monitor.config.restart import keep_fixed, needs_restart
from monitor.errors import ConfigError

BASE = ("database: sqlite:///a.db\n"
        "http: {listen: '127.0.0.1:8080', tokens: {ops: {token: 'first-token-0123456789', "
        "role: admin}}}\n")


def settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / f"c{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, {}, queries=False)


@pytest.mark.parametrize(("new", "keys"), [
    # nothing that needs a restart changed
    (BASE, []),
    # rules, feeds, poll policy, tokens: applied by the reload
    (BASE.replace("first-token", "other-token") + "poll: {interval: 5m, tick: 2s}\n", []),
    # the web server's address, and /metrics' access (a route built at start)
    (BASE.replace("8080", "9090"), ["http.listen"]),
    (BASE.replace("role: admin}}", "role: admin}}, public_metrics: true"),
     ["http.public_metrics"]),
    # the http block removed: one change, not one per key under it
    ("database: sqlite:///a.db\n", ["http"]),
    # the database, SQLite's busy timeout, the parse processes, WebSub
    (BASE.replace("a.db", "b.db"), ["database"]),
    (BASE + "storage: {busy_timeout: 5s, retry_base: 2s}\n", ["storage.busy_timeout"]),
    (BASE + "poll: {parse_workers: 2}\n", ["poll.parse_workers"]),
    (BASE + "websub: {callback_base: 'https://m.example.org'}\n", ["websub"]),
])
def test_needs_restart_lists_what_the_reload_keeps(tmp_path: Path, new: str,
                                                   keys: list[str]) -> None:
    running, loaded = settings(tmp_path, BASE), settings(tmp_path, new)
    assert [c.key for c in needs_restart(running, loaded)] == keys
    kept = keep_fixed(running, loaded)
    assert needs_restart(running, kept) == []  # the daemon goes on as it started
    assert kept.poll.interval_s == loaded.poll.interval_s  # and applies the rest
    assert kept.http is not None and running.http is not None
    if loaded.http is not None:
        assert kept.http.tokens == loaded.http.tokens


def test_a_change_shows_both_values_and_no_secret(tmp_path: Path) -> None:
    running = settings(tmp_path, BASE)
    moved = needs_restart(running, settings(tmp_path, BASE.replace("8080", "9090")))
    assert [(c.running, c.configured) for c in moved] == [("127.0.0.1:8080", "127.0.0.1:9090")]


def test_tokens_dropped_while_listening_off_loopback_refuse_the_reload(tmp_path: Path) -> None:
    public = BASE.replace("127.0.0.1", "0.0.0.0")
    running = settings(tmp_path, public)
    # The file moves back to loopback without tokens: valid there, not where it listens.
    loopback = settings(tmp_path, "database: sqlite:///a.db\nhttp: {listen: '127.0.0.1:8080'}\n")
    with pytest.raises(ConfigError, match="still listens on 0.0.0.0:8080"):
        keep_fixed(running, loopback)
