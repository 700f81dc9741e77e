"""The `news-monitor` command line."""

from monitor.cli import alerts, core, feeds, rules, stories  # noqa: F401  (registers the commands)
from monitor.cli.app import app, main

__all__ = ["app", "main"]
