"""What news-monitor keeps between processes to start faster: $XDG_CACHE_HOME/news-monitor.

Only what it can rebuild, and nothing secret: apprise's schema map
(monitor.alerts.urlcheck) and digests of rule sets that compile
(monitor.config.rulecheck). A missing, corrupt or unwritable file only costs the
work it would have saved: reading gives None, writing fails quietly.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/news-monitor, else ~/.cache/news-monitor."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "news-monitor"


def read_json(name: str) -> Any:
    """The JSON value in the cache file ``name``, or None when it cannot be read."""
    try:
        return json.loads((cache_dir() / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(name: str, value: Any) -> None:
    """Replace the cache file ``name`` in one step (readers see the old or the new)."""
    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}"
        tmp.write_text(json.dumps(value), encoding="utf-8")
        tmp.replace(folder / name)
    except (OSError, TypeError, ValueError):
        log.debug("cache.not_written file=%s", name, exc_info=True)
