"""`news-monitor stories list|show`: coverage of one event across outlets."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from monitor.cli.app import (
    DEFAULT_CONFIG,
    ConfigOpt,
    app,
    err,
    fail,
    iso,
    load_for_database,
    open_database,
    open_store,
    print_table,
    refuse_unknown_rule,
    since_cutoff,
    write_rows,
)

stories_app = typer.Typer(help="Stories: the articles that cover one event, grouped.",
                          no_args_is_help=True)
app.add_typer(stories_app, name="stories")


class StoryFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"


def story_row(s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "first_seen": iso(s.first_seen),
        "last_seen": iso(s.last_seen),
        "articles": len(s.articles),
        "feeds": s.feeds,
        "rules": s.rules,
        "urls": [a.url for a in s.articles if a.url],
    }


@stories_app.command("list")
def list_(
    config: ConfigOpt = DEFAULT_CONFIG,
    since: Annotated[str, typer.Option(
        help="Stories seen within this (2h, 7d; all: every one).")] = "7d",
    rule: Annotated[str | None, typer.Option("--rule", "-r",
                                             help="Only stories a rule matched.")] = None,
    format: Annotated[StoryFormat, typer.Option("--format", "-f")] = StoryFormat.table,
) -> None:
    """Stories, newest first. An unknown --rule exits 2 with the closest names."""
    settings, database = load_for_database(config)
    store = open_database(database)
    try:
        rows = [story_row(s) for s in store.list_stories(since=since_cutoff(since), rule=rule)]
        if rule is not None and not rows:
            refuse_unknown_rule(rule, settings, store)
    finally:
        store.close()
    if not rows and settings is not None and not settings.stories.enabled:
        err.print("no stories: grouping is off (stories: {enabled: true} in the config "
                  "turns it on)", markup=False)
    write_rows(rows, format.value, ["id", "title", "last_seen", "articles", "feeds", "rules"])


@stories_app.command("show")
def show(
    story_id: Annotated[int, typer.Argument(metavar="ID", help="A story id (stories list).")],
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """One story: its articles with feed, time, language and matching rules."""
    store = open_store(config)
    try:
        found = store.list_stories(story_id=story_id)
    finally:
        store.close()
    if not found:
        raise fail(f"no story {story_id}")
    s = found[0]
    print(f"story {s.id}: {s.title}\nfirst seen {iso(s.first_seen)}, last seen "
          f"{iso(s.last_seen)}, {len(s.articles)} article(s)")
    # Published is the feed's date (else its updated date); seen is when we fetched it.
    print_table([{"feed": a.feed, "published": iso(a.published), "seen": iso(a.fetched_at),
                  "lang": a.language, "title": a.title, "rules": list(a.rules), "url": a.url}
                 for a in s.articles],
                ["feed", "published", "seen", "lang", "title", "rules", "url"])


def by_story(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Match rows grouped by story (``matches --by story``), newest story first."""
    groups: dict[Any, dict[str, Any]] = {}
    for r in rows:
        key = r["story"] if r["story"] is not None else f"article:{r['url']}"
        g = groups.setdefault(key, {"story": r["story"], "title": r["title"], "matches": 0,
                                    "rules": [], "feeds": [], "urls": []})
        g["matches"] += 1
        for name, value in (("rules", r["rule"]), ("feeds", r["feed"]), ("urls", r["url"])):
            if value and value not in g[name]:
                g[name].append(value)
    return list(groups.values())


