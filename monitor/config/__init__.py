"""Configuration: YAML -> validated Settings, with ``${VAR}`` interpolation.

    load_settings(path, env=None) -> Settings     raises ConfigError listing every problem

Each problem names the key path and the YAML line and column:
``rules[2].notify[0]: unknown recipient 'polcy-chat' (line 31, column 15)``.
"""

from __future__ import annotations

from monitor.config.load import DATABASE_ENV, load_settings
from monitor.config.models import (
    DEFAULT_DATABASE,
    EntitySettings,
    FeedSettings,
    PollSettings,
    RuleSettings,
    Settings,
    parse_duration,
    parse_size,
)

__all__ = [
    "DATABASE_ENV",
    "DEFAULT_DATABASE",
    "EntitySettings",
    "FeedSettings",
    "PollSettings",
    "RuleSettings",
    "Settings",
    "load_settings",
    "parse_duration",
    "parse_size",
]
