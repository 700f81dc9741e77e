"""The ``console://`` apprise notification: print alerts to standard output.

Importing this module registers the schema with apprise's custom-notification
decorator, so alerts to the console still go through apprise like any other
target (and ``config/example.yaml`` runs with no secrets). Importing it again,
or reloading it, is harmless.
"""

from __future__ import annotations

import sys
from typing import Any

from apprise.decorators import notify

SCHEMA = "console"
SEPARATOR = "=" * 72


def print_alert(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    """Write one notification to stdout: a separator, the title, a rule, the body."""
    # sys.stdout is looked up per call so pytest's capture and redirections see it.
    out = sys.stdout
    parts = [SEPARATOR]
    if title:
        parts += [title, "-" * min(len(title), 72)]
    parts += [body, ""]
    out.write("\n".join(parts) + "\n")
    out.flush()
    return True


def _registered() -> bool:
    try:
        from apprise.manager_plugins import NotificationManager
    except ImportError:  # older apprise: registering twice only logs a warning
        return False
    return SCHEMA in NotificationManager()


if not _registered():
    notify(on=SCHEMA, name="Console (news-monitor)")(print_alert)
