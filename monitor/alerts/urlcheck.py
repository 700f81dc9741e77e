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

apprise's generic webhooks (``json://``, ``xml://``, ``form://`` and their TLS twins)
need no more than a host, a port and a path: such a URL, written plainly (no user,
query or fragment), is vouched for by a pattern stricter than apprise's parser,
without importing apprise at all (its core and ``requests``, 0.1-0.2 s of every
start of a command that checks recipients). tests/unit/test_urlcheck.py holds that
pattern to apprise's own verdicts.
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import Any

from monitor.cache import read_json, write_json

#: Our own plugin (monitor.alerts.console), registered with apprise when delivering.
CONSOLE_SCHEMA = "console"
#: apprise's own pattern for a URL's schema (apprise.utils.parse.GET_SCHEMA_RE).
_SCHEMA = re.compile(r"\s*(?P<schema>[a-z0-9]{1,32})://.*$", re.IGNORECASE)
_INDEX_FILE = "apprise-schemas.json"
#: apprise's generic webhook plugins (custom_json, custom_xml, custom_form).
_WEBHOOK_SCHEMAS = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: A host name label apprise accepts: 2-63 characters, or one letter (it refuses ``0.a``).
_LABEL = r"(?:[a-z0-9][a-z0-9-]{0,61}[a-z0-9]|[a-z])"
#: A webhook URL every part of which apprise accepts: an IPv4 address or a host name
#: whose last label starts with a letter (apprise refuses ``host.1``), a port from 1,
#: a path of unreserved characters and escapes. Anything else goes the long way.
_HOST = (rf"{_OCTET}(?:\.{_OCTET}){{3}}"  # IPv4
         rf"|(?:{_LABEL}\.)*[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?")  # name, last label a-z...
_PLAIN_WEBHOOK = re.compile(
    rf"(?P<schema>[a-z]+)://(?P<host>{_HOST})(?::(?P<port>[1-9][0-9]{{0,4}}))?"
    r"(?:/(?:[a-z0-9._~!$&'()*+,;=/-]|%[0-9a-f]{2})*)?",
    re.IGNORECASE)


def refusal(url: str) -> str | None:
    """Why apprise cannot use ``url``, in its own words, or None when it can."""
    if _usable_fast(url):
        return None
    return _refusal_by_apprise(url)


def _usable_fast(url: str) -> bool:
    found = _SCHEMA.match(url)
    if found is None:
        return False
    schema = found.group("schema").lower()
    if schema == CONSOLE_SCHEMA:
        return True  # ours: takes any console:// URL
    if _plain_webhook(url):
        return True
    module = _load_index().get(schema)
    if module is None:
        return False
    try:
        return _builds(importlib.import_module(module), schema, url)
    except Exception:  # noqa: BLE001  (anything odd: let apprise itself decide and say why)
        return False


def _plain_webhook(url: str) -> bool:
    """Whether ``url`` is a generic webhook written plainly (see _PLAIN_WEBHOOK)."""
    found = _PLAIN_WEBHOOK.fullmatch(url)
    if (found is None or found["schema"].lower() not in _WEBHOOK_SCHEMAS
            or len(found["host"]) > 253):
        return False
    return found["port"] is None or int(found["port"]) <= 65535


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
    data = read_json(_INDEX_FILE)
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
    except Exception:
        logging.getLogger(__name__).debug("apprise schema index not saved", exc_info=True)
        return
    write_json(_INDEX_FILE, {"apprise": _apprise_version(), "schemas": schemas})


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
