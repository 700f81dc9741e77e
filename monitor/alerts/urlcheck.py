"""Can apprise use this notification URL? Answered without loading every apprise plugin.

apprise finds the plugin of a URL's schema by importing all of its 100+ plugin modules
(about 0.4 s), which every command that checks a config's recipients paid at start-up.
Here the schema is looked up in an index of apprise's own schema map (schema -> the
module of its plugin class), saved the first time apprise was loaded in full. Then
only that module is imported, and its class parses and builds the URL the way
``apprise.Apprise.add`` does. Whatever this fast path cannot vouch for (a schema
missing from the index, a URL the class refuses, an index from another apprise
version) goes through apprise itself, which also words the refusal and refreshes
the index. The fast path only ever says "usable"; refusals always come from apprise.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

#: Our own plugin (monitor.alerts.console), registered with apprise when delivering.
CONSOLE_SCHEMA = "console"
#: apprise's own pattern for a URL's schema (apprise.utils.parse.GET_SCHEMA_RE).
_SCHEMA = re.compile(r"\s*(?P<schema>[a-z0-9]{1,32})://.*$", re.IGNORECASE)
_INDEX_FILE = "apprise-schemas.json"


def refusal(url: str) -> str | None:
    """Why apprise cannot use ``url``, in its own words, or None when it can."""
    if _usable_fast(url):
        return None
    return _refusal_by_apprise(url)


def cache_dir() -> Path:
    """Where the schema index is kept: $XDG_CACHE_HOME/news-monitor (~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "news-monitor"


def _usable_fast(url: str) -> bool:
    found = _SCHEMA.match(url)
    if found is None:
        return False
    schema = found.group("schema").lower()
    if schema == CONSOLE_SCHEMA:
        return True  # ours: takes any console:// URL
    module = _load_index().get(schema)
    if module is None:
        return False
    try:
        return _builds(importlib.import_module(module), schema, url)
    except Exception:  # noqa: BLE001  (anything odd: let apprise itself decide and say why)
        return False


def _builds(module: Any, schema: str, url: str) -> bool:
    """Whether the plugin class of ``schema`` in ``module`` parses and builds ``url``."""
    from apprise import AppriseAsset

    plugin = next((obj for obj in vars(module).values()
                   if isinstance(obj, type) and schema in _protocols(obj)), None)
    if plugin is None or not getattr(plugin, "enabled", False):
        return False
    results = plugin.parse_url(url.replace("/#", "/%23"))  # as apprise's url_to_dict
    if not results:
        return False
    results["tag"], results["asset"] = set(), AppriseAsset()
    apprise_log = logging.getLogger("apprise")
    level = apprise_log.level
    apprise_log.setLevel(logging.CRITICAL + 1)  # a refusal is apprise's to word, below
    try:
        instance = plugin(**results)
    finally:
        apprise_log.setLevel(level)  # (setLevel, not .level: it clears logging's cache)
    return bool(getattr(instance, "enabled", True))


def _protocols(cls: type) -> set[str]:
    names: set[str] = set()
    for attr in ("protocol", "secure_protocol"):
        value = getattr(cls, attr, None)
        if isinstance(value, str):
            names.add(value.lower())
        elif isinstance(value, (tuple, list, set)):
            names.update(v.lower() for v in value if isinstance(v, str))
    return names


def _apprise_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("apprise")
    except PackageNotFoundError:
        return "unknown"


def _load_index() -> dict[str, str]:
    try:
        data = json.loads((cache_dir() / _INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("apprise") != _apprise_version():
        return {}
    schemas = data.get("schemas")
    return schemas if isinstance(schemas, dict) else {}


def _save_index() -> None:
    """Write apprise's schema map (loaded in full by now) for the next process."""
    try:
        from apprise.manager_plugins import NotificationManager

        manager: Any = NotificationManager()
        schemas = {schema: manager[schema].__module__ for schema in manager.schemas()
                   if schema != CONSOLE_SCHEMA}
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{_INDEX_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps({"apprise": _apprise_version(), "schemas": schemas}),
                       encoding="utf-8")
        tmp.replace(folder / _INDEX_FILE)
    except Exception:
        logging.getLogger(__name__).debug("apprise schema index not saved", exc_info=True)


def _refusal_by_apprise(url: str) -> str | None:
    import apprise

    from monitor.alerts import console  # noqa: F401  (registers console://)

    apobj = apprise.Apprise()
    apprise_log = logging.getLogger("apprise")
    propagate, apprise_log.propagate = apprise_log.propagate, False  # captured, not printed
    try:
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            accepted = apobj.add(url)
            lines = captured.getvalue().splitlines()
    finally:
        apprise_log.propagate = propagate
    _save_index()
    if accepted:
        return None
    reasons = []
    for line in lines:
        line = line.strip().rstrip(":").strip()
        if not line or line.startswith("Could not load"):  # repeats the URL, says nothing more
            continue
        if line.startswith("Unparseable"):  # "Unparseable JSON URL json://...": the URL is shown
            line = line.split(" URL", 1)[0] + " URL"
        reasons.append(line)
    reason = "; ".join(dict.fromkeys(reasons)) or "no apprise service accepts this URL"
    if "~From~" in reason:
        reason += "; add from=sender@example.org to the URL"
    return reason
