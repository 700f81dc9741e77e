"""The web commands: `serve` (dashboard and API without polling) and `health` (probe).

`health` uses urllib only: a Docker HEALTHCHECK starts it every few seconds.
"""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.app import DEFAULT_CONFIG, ConfigOpt, app, err, fail, load, open_database, out
from monitor.errors import MonitorError

#: serve's default --nice: dashboard readers yield to polling on a shared host.
NICE = 10


@app.command()
def serve(
    config: ConfigOpt = DEFAULT_CONFIG,
    workers: Annotated[int, typer.Option(
        "--workers", "-w", min=1, max=64,
        help="Processes serving the same port (SO_REUSEPORT); one Python process uses "
             "one core. Several pay off on PostgreSQL, or SQLite with spare cores.")] = 1,
    nice: Annotated[int, typer.Option(
        "--nice", min=0, max=19,
        help="Lower this process's CPU priority by this much (0: keep it), so a busy "
             "dashboard yields the CPU to a daemon polling on the same host. Idle CPU is "
             "used either way.")] = NICE,
) -> None:
    """Serve the dashboard, API, metrics and probes without polling or delivering
    (an extra read replica on PostgreSQL). Needs an `http:` block."""
    settings = load(config)
    if settings.http is None:
        raise fail(f"{config}: no `http:` block: add one to serve the dashboard")
    from monitor.redact import register_secrets
    from monitor.web.serve import serve_only, serve_processes

    register_secrets(settings.secrets)
    if nice:
        import os

        os.nice(nice)
    store = open_database(settings.database)  # migrates, once, before any worker starts
    err.print(f"news-monitor: serving http://{settings.http.listen}/ "
              f"{f'from {workers} processes ' if workers > 1 else ''}(Ctrl-C to stop)")
    if settings.websub is not None:  # a push must be parsed, matched and queued: `run` does
        err.print("news-monitor: no WebSub callbacks here (serve does not ingest); "
                  "websub.callback_base must lead to a `run` daemon")
    if workers > 1:
        store.close()
        from monitor.store.repo import Store

        url = settings.database
        status = serve_processes(settings, lambda: Store.open(url, migrate=False), workers)
        if status:
            raise fail("a web worker stopped unexpectedly (see above)")
        return
    try:
        import asyncio

        asyncio.run(serve_only(settings, store))
    except MonitorError as e:
        raise fail(str(e)) from None
    finally:
        store.close()


def probe_url(config_listen: str | None) -> str:
    """The readiness URL of a listener address (a wildcard address probes loopback)."""
    host, _, port = (config_listen or "127.0.0.1:8080").rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/readyz"


@app.command()
def health(
    config: ConfigOpt = DEFAULT_CONFIG,
    url: Annotated[str | None, typer.Option(
        "--url", help="The probe to ask (default: /readyz of the config's http.listen).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 5.0,
) -> None:
    """Ask a running daemon whether it is ready (exit 0) or not (exit 1): for HEALTHCHECK."""
    import urllib.error
    import urllib.request

    if url is None:
        settings = load(config)
        if settings.http is None:
            raise fail(f"{config}: no `http:` block, so no probe to ask (or give --url)")
        url = probe_url(settings.http.listen)
    if not url.startswith(("http://", "https://")):
        raise fail(f"--url: expected an http(s) URL, got {url!r}")
    sep = "&" if "?" in url else "?"
    try:
        with urllib.request.urlopen(f"{url}{sep}verbose", timeout=timeout) as response:
            out.print(response.read().decode("utf-8", "replace").rstrip(), markup=False)
            return
    except urllib.error.HTTPError as e:
        err.print(e.read().decode("utf-8", "replace").rstrip(), markup=False)
        raise fail(f"{url}: HTTP {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        raise fail(f"{url}: {getattr(e, 'reason', e)}") from None
