"""The `news-monitor` command line."""

from monitor.cli import (  # noqa: F401  (registers the commands)
    alerts,
    core,
    feeds,
    rules,
    stories,
    web,
)
from monitor.cli.app import app, main

__all__ = ["app", "main"]
