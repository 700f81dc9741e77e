"""Stories end to end through the CLI: five outlets rewrite one story, one alert goes out.

Feeds are served locally; alerts go to a real webhook receiver; state in SQLite
and in PostgreSQL (the ``db_url`` fixture runs both).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from clirun import cli
from feedserver import FeedServer
from receivers import WebhookReceiver

# One event, five outlets, five rewrites (own URLs, own wording).
COPIES = [
    ("US moves to ban TikTok over data security fears",
     "The Commerce Department said on Monday it would ban the TikTok app from US app "
     "stores, citing national security risks from its Chinese owner ByteDance."),
    ("US to ban TikTok over security fears",
     "The Commerce Department said Monday it would ban the TikTok app from app stores, "
     "citing national security risks from Chinese owner ByteDance."),
    ("TikTok ban: US Commerce Department cites national security",
     "The TikTok app will be removed from US app stores, the Commerce Department said on "
     "Monday, citing national security risks from its owner ByteDance."),
    ("Commerce Department moves to ban TikTok app",
     "Citing national security risks from Chinese owner ByteDance, the US Commerce "
     "Department said it would ban the TikTok app from app stores."),
    ("US bans TikTok from app stores over ByteDance security risks",
     "The US Commerce Department on Monday said the TikTok app would be banned from app "
     "stores over national security risks tied to ByteDance."),
]
OTHER = ("Floods in Valencia leave thousands without power",
         "Heavy rain caused rivers to overflow across the Valencia region, "
         "cutting electricity to thousands of homes; a TikTok video showed the damage.")


def rss(name: str, items: list[tuple[str, str, str]], date: str = "") -> str:
    """``date``: every item's pubDate (none when empty)."""
    when = f"<pubDate>{date}</pubDate>" if date else ""
    body = "".join(f"<item><title>{t}</title><link>https://{name}.test/{slug}</link>"
                   f"<guid>{name}-{slug}</guid><description>{d}</description>{when}</item>"
                   for slug, t, d in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{name}</title><link>https://{name}.test/</link>"
            f"<language>en-us</language>{body}</channel></rss>")


CONFIG = """
database: sqlite:///ignored.db
poll: {{interval: 15m, timeout: 5s}}
stories: {{enabled: true}}
feeds:
{feeds}
recipients:
  hook: ["{hook}"]
rules:
  - name: tiktok
    query: 'tiktok AND ban*'
    notify: [hook]
  - name: tiktok-every
    query: 'tiktok AND ban*'
    alert_per: article
    notify: [hook]
  - name: tiktok-german
    query: 'tiktok'
    languages: [de]
    notify: [hook]
  - name: english
    query: 'lang:en AND valencia'
    notify: [hook]
"""


#: Outlet1's item is dated (ten minutes ago: inside poll.backlog, so it alerts).
_WHEN = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
PUBLISHED = format_datetime(_WHEN, usegmt=True)


def test_five_rewritten_copies_send_one_alert_and_store_five_matches(
    tmp_path: Path, db_url: str
) -> None:
    with FeedServer() as server, WebhookReceiver() as hook:
        urls = []
        for i, (title, desc) in enumerate(COPIES):
            items = [("tiktok", title, desc)] + ([("floods", *OTHER)] if i == 0 else [])
            urls.append(server.add(f"/outlet{i}.xml", rss(f"outlet{i}", items,
                                                            PUBLISHED if i == 1 else ""),
                                   content_type="application/rss+xml"))
        feeds = "\n".join(f'  - {{url: "{u}", name: Outlet{i}}}' for i, u in enumerate(urls))
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(feeds=feeds, hook=hook.json_url("/hook")))

        run = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
        assert run.returncode == 0, run.stderr
        titles = sorted(r.json["title"].split("]")[0] + "]" for r in hook.delivered)
    # The four later copies of the `tiktok` story: matches without alerts, said so.
    assert ("4 new matches not alerted: a later article of a story the rule already "
            "alerted (alert_per: story)") in run.stderr

    # alert_per: story (default): one alert; alert_per: article: five; the German-only
    # rule nothing (the feeds are English); lang:en finds the English floods story.
    assert titles == ["[english]"] + ["[tiktok-every]"] * 5 + ["[tiktok]"]

    matches = cli("matches", "-c", str(config), "--rule", "tiktok", "--format", "jsonl",
                  cwd=tmp_path, db_url=db_url)
    assert matches.returncode == 0, matches.stderr
    rows = [json.loads(line) for line in matches.stdout.splitlines()]
    assert len(rows) == 5
    assert len({r["story"] for r in rows}) == 1 and rows[0]["story"] is not None
    assert {r["lang"] for r in rows} == {"en"}

    listed = cli("stories", "list", "-c", str(config), "--rule", "tiktok", "--format", "jsonl",
                 cwd=tmp_path, db_url=db_url)
    assert listed.returncode == 0, listed.stderr
    stories = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(stories) == 1
    story = stories[0]
    assert story["id"] == rows[0]["story"] and story["articles"] == 5
    assert sorted(story["feeds"]) == [f"Outlet{i}" for i in range(5)]
    assert sorted(story["rules"]) == ["tiktok", "tiktok-every"]
    assert sorted(story["urls"]) == sorted(f"https://outlet{i}.test/tiktok" for i in range(5))
    assert set(story) == {"id", "title", "first_seen", "last_seen", "articles", "feeds",
                          "rules", "urls"}

    every = cli("stories", "list", "-c", str(config), "--format", "jsonl",
                cwd=tmp_path, db_url=db_url)
    assert len(every.stdout.splitlines()) == 2  # the floods story is its own
    typo = cli("stories", "list", "-c", str(config), "--rule", "tiktk", cwd=tmp_path,
               db_url=db_url)  # a typo must not read as "no story matched"
    assert typo.returncode == 2 and "did you mean 'tiktok'" in typo.stderr, typo.stderr

    shown = cli("stories", "show", str(story["id"]), "-c", str(config),
                cwd=tmp_path, db_url=db_url)
    assert shown.returncode == 0, shown.stderr
    assert all(f"Outlet{i}" in shown.stdout for i in range(5))
    # The feed's date where it gave one, and the fetch time labelled as such (seen).
    lines = shown.stdout.splitlines()
    header = next(line for line in lines if "feed" in line)
    assert "published" in header and "seen" in header and "fetched" not in header
    shown_date = f"│ {_WHEN:%Y-%m-%d %H:%M} │"
    assert shown_date in next(line for line in lines if "Outlet1" in line)
    assert sum(shown_date in line for line in lines) == 1  # the undated four show none

    # --since all: no limit, as the API's since=all (a duration was the only form).
    everything = cli("stories", "list", "-c", str(config), "--since", "all", "--format",
                     "jsonl", cwd=tmp_path, db_url=db_url)
    assert everything.returncode == 0, everything.stderr
    assert len(everything.stdout.splitlines()) == 2
    all_matches = cli("matches", "-c", str(config), "--since", "all", "--format", "jsonl",
                      cwd=tmp_path, db_url=db_url)
    assert all_matches.returncode == 0 and len(all_matches.stdout.splitlines()) == 11
    missing = cli("stories", "show", "999999", "-c", str(config), cwd=tmp_path, db_url=db_url)
    assert missing.returncode == 1 and "no story 999999" in missing.stderr

    grouped = cli("matches", "-c", str(config), "--by", "story", "--format", "jsonl",
                  cwd=tmp_path, db_url=db_url)
    groups = [json.loads(line) for line in grouped.stdout.splitlines()]
    tiktok = [g for g in groups if g["story"] == story["id"]]
    assert len(tiktok) == 1 and tiktok[0]["matches"] == 10  # 5 per tiktok rule


# Distinct TikTok stories (no two are one story), one outlet each.
SURGE = [
    ("TikTok fined in Ireland over children's data", "Regulators fined the video app "
     "for exposing the accounts of minors by default."),
    ("TikTok opens European data centre in Dublin", "The company began moving European "
     "user data to servers in Ireland under its Project Clover plan."),
    ("Montana governor signs TikTok ban into law", "The state becomes the first to bar "
     "the app outright, starting next January."),
    ("TikTok creators sue Montana over new law", "Five creators filed a lawsuit arguing "
     "the statute violates their free speech rights."),
    ("TikTok chief executive testifies before Congress", "Shou Zi Chew faced five hours "
     "of questions from lawmakers about ties to Beijing."),
    ("TikTok launches paid subscriptions for creators", "Fans can now pay monthly for "
     "exclusive videos and live streams, the company announced."),
]

SPIKE_CONFIG = """
database: sqlite:///ignored.db
poll: {{interval: 15m, timeout: 5s}}
stories: {{enabled: true}}
feeds:
{feeds}
recipients:
  hook: ["{hook}"]
rules:
  - name: tiktok-surge
    spike: {{query: 'tiktok', window: 1h, baseline: 7d, factor: 3, min_stories: 5}}
    notify: [hook]
"""


def test_a_surge_of_stories_sends_one_spike_alert_listing_them(
    tmp_path: Path, db_url: str
) -> None:
    with FeedServer() as server, WebhookReceiver() as hook:
        urls = [server.add(f"/s{i}.xml", rss(f"site{i}", [("story", title, desc)]),
                           content_type="application/rss+xml")
                for i, (title, desc) in enumerate(SURGE)]
        feeds = "\n".join(f'  - {{url: "{u}", name: Site{i}}}' for i, u in enumerate(urls))
        config = tmp_path / "monitor.yaml"
        config.write_text(SPIKE_CONFIG.format(feeds=feeds, hook=hook.json_url("/hook")))

        run = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
        assert run.returncode == 0, run.stderr
        again = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
        assert again.returncode == 0, again.stderr

        # six stories, one episode: one alert (not one per article, not per story)
        assert len(hook.delivered) == 1
        message = hook.delivered[0].json
        assert message["title"].startswith("[tiktok-surge] spike: 5 stories in 1h")
        listed = [t for t, _ in SURGE if t in message["message"]]
        assert len(listed) == 5
        # each listed story with its link, to open from the message
        links = [f"https://site{i}.test/story" for i, (t, _) in enumerate(SURGE) if t in listed]
        assert all(link in message["message"] for link in links), message["message"]

    matches = cli("matches", "-c", str(config), "--rule", "tiktok-surge", "--format", "jsonl",
                  cwd=tmp_path, db_url=db_url)
    assert len(matches.stdout.splitlines()) == 6  # every match is stored
    # re-applying the rule with --alert queues nothing per match: spikes alert per episode
    applied = cli("rules", "apply", "-c", str(config), "--rule", "tiktok-surge", "--alert",
                  cwd=tmp_path, db_url=db_url)
    assert applied.returncode == 0, applied.stderr
    assert "0 alerts queued" in applied.stdout


def test_stories_list_says_grouping_is_off(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("database: sqlite:///state.db\nfeeds: []\n")
    done = cli("stories", "list", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "grouping is off" in done.stderr
