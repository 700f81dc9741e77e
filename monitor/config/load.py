"""Load a YAML file into Settings, reporting every problem with its path and position.

Four passes, all of whose problems are reported together: the YAML itself (syntax,
duplicate keys, ``${VAR}``), the pydantic models (shape and types), the references
between sections (recipients, feeds, tags, names, rule queries), which run on whatever
parts validated so that a typo in one feed does not hide an unknown recipient elsewhere,
and, when the caller passes a ``url_check`` (``check`` does: it knows apprise), every
recipient URL. Warnings (valid, but probably not what was meant) come with them.

A relative SQLite path in the file is relative to the file's folder, as in docker
compose; MONITOR_DATABASE_URL is taken as given (relative to the working directory).
"""

from __future__ import annotations

import difflib
import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from monitor.config.advice import config_warnings
from monitor.config.checks import Parts, check_references
from monitor.config.models import (
    EntitySettings,
    FeedSettings,
    RuleSettings,
    Settings,
    StoriesSettings,
)
from monitor.config.opml_feeds import expand_opml
from monitor.config.source import Document, KeyPath, Problem, read_yaml
from monitor.errors import ConfigError
from monitor.redact import mask_url, redact, register_secrets, url_secrets

log = logging.getLogger(__name__)

#: Overrides the ``database`` key (handy for containers and for replicas).
DATABASE_ENV = "MONITOR_DATABASE_URL"

_MESSAGES = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
    "string_type": "expected a string, got {input}",
    "int_type": "expected a whole number, got {input}",
    "int_parsing": "expected a whole number, got {input}",
    "int_from_float": "expected a whole number, got {input}",
    "list_type": "expected a list, got {input}",
    "dict_type": "expected a mapping (key: value), got {input}",
    "model_type": "expected a mapping (key: value), got {input}",
    "string_too_short": "must not be empty",
    "too_short": "needs at least one entry",
}


#: A recipient URL -> why it cannot be used, or None when it can.
UrlCheck = Callable[[str], str | None]


@dataclass(frozen=True)
class ConfigReport:
    """Everything ``check`` says about a config file."""

    #: The settings, or None when there is any problem.
    settings: Settings | None
    problems: list[str]
    #: Valid but probably not meant (``interval: 15`` is 15 seconds); never fatal.
    warnings: list[str]


def load_settings(path: str | Path, env: Mapping[str, str] | None = None, *,
                  url_check: UrlCheck | None = None, queries: bool = True) -> Settings:
    """Read, interpolate and validate the YAML config at ``path``.

    ``env`` (default ``os.environ``) feeds ``${VAR}`` interpolation and the
    MONITOR_DATABASE_URL override. Raises ConfigError whose ``problems`` lists every
    problem found, each naming the key path and the line and column in the file.
    ``queries=False``: the rules' queries are not compiled (commands that only read
    the database: the rule compiler is a sixteenth of their start-up).
    """
    report = inspect_config(path, env, url_check=url_check, queries=queries)
    if report.settings is None:
        raise ConfigError(problems=report.problems)
    log.info("config.loaded path=%s feeds=%d rules=%d recipients=%d entities=%d database=%s",
             path, len(report.settings.feeds), len(report.settings.rules),
             len(report.settings.recipients), len(report.settings.entities),
             redact(report.settings.database))
    return report.settings


def inspect_config(path: str | Path, env: Mapping[str, str] | None = None, *,
                   url_check: UrlCheck | None = None, queries: bool = True) -> ConfigReport:
    """Every problem and warning of the config at ``path``, and the settings if none.

    Its secrets (``${VAR}`` values, passwords and tokens of recipient URLs) are
    registered for redaction before any message is written.
    """
    env = os.environ if env is None else env
    try:
        doc = read_yaml(_read_text(Path(path)), env)
    except ConfigError as e:
        return ConfigReport(None, list(e.problems), [])
    if not isinstance(doc.data, dict):
        what = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        return ConfigReport(None, [(f"the configuration must be a mapping of sections "
                                    f"(database, poll, feeds, recipients, rules, entities), "
                                    f"but the file is {what}")], [])
    override = env.get(DATABASE_ENV, "").strip()
    if override:
        doc.data["database"] = override
        doc.values.pop(("database",), None)
    secrets = _secrets(doc)
    register_secrets(secrets)
    settings, found, noted = _validate(doc, Path(path).parent, url_check, queries)
    # A value whose ${VAR} failed is already reported; its other errors only repeat that.
    problems = doc.problems + [p for p in found if p.path not in doc.tainted]
    warnings = [str(w) for w in sorted(config_warnings(doc) + noted, key=_file_order)]
    if problems:
        problems.sort(key=_file_order)
        return ConfigReport(None, [str(p) for p in problems], warnings)
    assert settings is not None
    update: dict[str, Any] = {"feeds": _safe_names(_shown_urls(settings.feeds, doc), doc)}
    if not override:
        update["database"] = resolve_sqlite_path(settings.database, Path(path).parent)
    settings = settings.model_copy(update=update)
    settings._secrets = frozenset(secrets)
    settings._warnings = tuple(warnings)
    return ConfigReport(settings, [], warnings)


def _validate(doc: Document, base: Path, url_check: UrlCheck | None, queries: bool = True,
              ) -> tuple[Settings | None, list[Problem], list[Problem]]:
    """The settings (None when the models refuse them), every problem found, and the
    warnings that need more than the document (an OPML file's outlines left out)."""
    settings: Settings | None = None
    found: list[Problem] = []
    warnings: list[Problem] = []
    feed_origins = None
    try:
        settings = Settings.model_validate(doc.data, by_alias=True, by_name=False)
    except ValidationError as e:
        found += [_problem(err, doc) for err in e.errors()]
    if settings is not None:  # feeds: [{opml: file}] -> one entry per feed in the file
        settings, feed_origins, opml_problems, warnings = expand_opml(settings, base, doc)
        found += opml_problems
    found += check_references(_parts(settings, doc.data, feed_origins), doc, queries=queries)
    if url_check is not None:
        found += _recipient_url_problems(doc, url_check)
    return settings, found, warnings


def _secrets(doc: Document) -> set[str]:
    """Values from the environment, the database password, recipients' credentials."""
    found = set(doc.secrets) | _database_secret(str(doc.data.get("database") or ""))
    for _, url in _recipient_urls(doc):
        found.update(url_secrets(url))
    return found


def _recipient_urls(doc: Document) -> list[tuple[KeyPath, str]]:
    """(path, URL) for every recipient URL written as a string."""
    out = []
    for name, urls in _as_dict(doc.data.get("recipients")).items():
        listed = isinstance(urls, list)
        for k, url in enumerate(_as_list(urls)):
            if isinstance(url, str) and url.strip():
                path: KeyPath = ("recipients", name, k) if listed else ("recipients", name)
                out.append((path, url.strip()))
    return out


def _recipient_url_problems(doc: Document, url_check: UrlCheck) -> list[Problem]:
    problems = []
    for path, url in _recipient_urls(doc):
        reason = None if path in doc.tainted else url_check(url)
        if reason is not None:
            problems.append(Problem(path, f"apprise cannot use '{redact(url)}': {redact(reason)}",
                                    doc.position(path)))
    return problems


def _shown_urls(feeds: list[FeedSettings], doc: Document) -> list[FeedSettings]:
    """Each feed with its URL as shown: the parts written as ``${VAR}`` masked, nothing
    else (a ``${SMTP_USER}`` of ``news`` does not mask ``/news/`` in another feed's URL)."""
    shown = {str(doc.data["feeds"][path[1]]["url"]).strip(): text
             for path, text in doc.shown.items()
             if len(path) == 3 and path[0] == "feeds" and path[2] == "url"}
    for f in feeds:
        f._shown_url = shown.get(f.url)
    return feeds


def _safe_names(feeds: list[FeedSettings], doc: Document) -> list[FeedSettings]:
    """A feed named by its URL is named by the URL as shown: its secrets masked. Two
    unnamed feeds whose URLs differ only in their ``${VAR}`` parts would then share a
    name (and nothing could tell them apart in `status` or `feeds enable`): each is
    named by its shown URL and its place in the config, ``... (feeds[3])``."""
    entries = doc.data.get("feeds") if isinstance(doc.data, dict) else None
    place = {str(entry.get("url", "")).strip(): i
             for i, entry in enumerate(entries if isinstance(entries, list) else [])
             if isinstance(entry, dict)}
    out: list[FeedSettings] = []
    masked: list[int] = []
    for feed in feeds:
        shown = mask_url(feed.shown_url)
        if not feed.name and shown != feed.url:
            masked.append(len(out))
            feed = feed.model_copy(update={"name": shown})
        out.append(feed)
    taken = Counter(f.name for f in out)
    for i in masked:
        f = out[i]
        if taken[f.name] > 1:
            out[i] = f.model_copy(update={"name": f"{f.name} (feeds[{place.get(f.url, i)}])"})
    return out


def resolve_sqlite_path(url: str, base: Path) -> str:
    """``sqlite:///data/x.db`` -> ``sqlite:////abs/base/data/x.db``; other URLs unchanged.

    String work only (no SQLAlchemy import): ``sqlite[+driver]:///PATH[?query]``.
    """
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme.split("+", 1)[0].lower() != "sqlite":
        return url
    path, q, query = rest.partition("?")
    if not path or path == ":memory:" or path.startswith(("/", "file:")):  # absolute, or no file
        return url
    given = Path(path).expanduser()
    full = given if given.is_absolute() else (base / given).resolve()
    return f"{scheme}:///{full}{q}{query}"


def _file_order(p: Problem) -> tuple[int, int]:
    return (p.position.line, p.position.column) if p.position else (1 << 30, 0)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(problems=[f"{path}: file not found"]) from None
    except UnicodeDecodeError as e:
        raise ConfigError(problems=[f"{path}: not UTF-8 text (byte {e.start})"]) from None
    except OSError as e:
        raise ConfigError(problems=[f"{path}: cannot read: {e.strerror or e}"]) from None


def _database_secret(url: str) -> set[str]:
    """A password inside the database URL is a secret too."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return set()
    return {password} if password else set()


def _problem(err: ErrorDetails, doc: Document) -> Problem:
    """A pydantic error as a Problem at the position of the value (or key) it names."""
    loc: KeyPath = tuple(p for p in err["loc"] if p != "[key]")
    kind = err["type"]
    template = _MESSAGES.get(kind)
    message = template.format(input=_show(err["input"])) if template else _pydantic_msg(err)
    extra = ""
    if kind == "extra_forbidden":
        extra = _suggest(str(loc[-1]), _allowed_keys(loc[:-1]))
    if loc[:1] == ("database",) and ("database",) not in doc.values:
        # The value came from MONITOR_DATABASE_URL, not from the file.
        return Problem(loc, f"{message} (from {DATABASE_ENV})")
    key = kind == "extra_forbidden" or "[key]" in err["loc"]
    return Problem(loc, message, doc.position(loc, key=key), extra)


def _pydantic_msg(err: ErrorDetails) -> str:
    msg = err["msg"]
    # Our own validators raise plain messages; pydantic prefixes ValueErrors.
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:] if msg[:2] != msg[:2].upper() else msg


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; expected one of: {', '.join(choices)}" if choices else ""


def _allowed_keys(loc: KeyPath) -> list[str]:
    """The YAML keys the model at ``loc`` accepts (for "did you mean")."""
    kind: Any = Settings
    for part in loc:
        kind = _unwrap(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            fields = {(f.alias or n): f.annotation for n, f in kind.model_fields.items()}
            kind = fields.get(str(part))
        elif get_origin(kind) in (list, dict):
            kind = get_args(kind)[-1]
        else:
            return []
    return _allowed_keys_of(_unwrap(kind))


def _allowed_keys_of(kind: Any) -> list[str]:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [f.alias or n for n, f in kind.model_fields.items()]
    return []


def _unwrap(kind: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the type that holds the keys."""
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin in (Union, UnionType):
            kind = next(a for a in get_args(kind) if a is not type(None))
        else:
            return kind


def _parts(settings: Settings | None, data: dict[str, Any],
           feed_origins: list[tuple[int, FeedSettings]] | None = None) -> Parts:
    """The sections to cross-check: all of them, or the items that validated alone."""
    if settings is not None:
        feeds = settings.feeds
        return Parts(feed_origins if feed_origins is not None else list(enumerate(feeds)), list(enumerate(settings.rules)),
                     set(settings.recipients), settings.entity_aliases(),
                     {f.url for f in feeds} | {f.name for f in feeds if f.name},
                     {t for f in feeds for t in f.tags}, list(settings.default_notify),
                     settings.stories.enabled)
    raw_feeds = [f for f in _as_list(data.get("feeds")) if isinstance(f, dict)]
    recipients = data.get("recipients")
    aliases: dict[str, list[str]] = {}
    for name, raw in _as_dict(data.get("entities")).items():
        valid = _valid(EntitySettings, raw)
        # A broken entity still exists: queries naming it are not "unknown entity".
        aliases[name] = list(valid.aliases) if valid else [name]
    return Parts(
        [(i, f) for i, f in _valid_items(FeedSettings, data.get("feeds")) if f.url],
        _valid_items(RuleSettings, data.get("rules")),
        set(recipients) if isinstance(recipients, dict) else set(),
        aliases,
        {str(f[k]).strip() for f in raw_feeds for k in ("url", "name") if f.get(k)},
        {str(t) for f in raw_feeds for t in _as_list(f.get("tags"))},
        [str(n).strip() for n in _as_list(data.get("default_notify"))],
        _stories_on(data.get("stories")),
    )


def _stories_on(raw: Any) -> bool:
    valid = _valid(StoriesSettings, raw) if isinstance(raw, dict) else None
    return bool(valid and valid.enabled)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if isinstance(value, str) else []


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _valid(model: type[BaseModel], raw: Any) -> Any:
    """The item validated, ignoring unknown keys (already reported), or None."""
    if isinstance(raw, dict):
        keys = set(_allowed_keys_of(model))
        raw = {k: v for k, v in raw.items() if k in keys}
    try:
        return model.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError:
        return None


def _valid_items(model: type[BaseModel], raw: Any) -> list[tuple[int, Any]]:
    items = [(i, _valid(model, item)) for i, item in enumerate(_as_list(raw))]
    return [(i, item) for i, item in items if item is not None]
