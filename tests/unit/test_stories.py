"""Story assignment (pure core): duplicates, same-event coverage, windows, determinism."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from monitor.stories import prior
from monitor.stories.assign import StoryIndex, StorySettings
from monitor.stories.text import StoryText, tokens

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)

TIKTOK = ("US moves to ban TikTok over data security fears",
          "The Commerce Department said on Monday it would ban the TikTok app from US app "
          "stores, citing national security risks from its Chinese owner ByteDance.")
TIKTOK_COPY = ("US moves to ban TikTok over security fears",
               "The Commerce Department said Monday it would ban the TikTok app from app "
               "stores, citing national security risks from Chinese owner ByteDance.")
TIKTOK_OTHER_OUTLET = ("TikTok ban: ByteDance app faces removal from US stores",
                       "ByteDance's TikTok will be removed from US app stores after the "
                       "Commerce Department cited national security risks.")
FLOODS = ("Floods in Valencia leave thousands without power",
          "Heavy rain caused rivers to burst their banks across the Valencia region, "
          "cutting electricity to thousands of homes.")


def place_all(index: StoryIndex, items: list[tuple[str, str]], now: datetime = T0,
              language: str | None = None) -> list[int]:
    out, next_id = [], 1
    for title, body in items:
        placement = index.place(StoryText.of(title, body, language), now)
        story = placement.story
        if story is None:
            story, next_id = next_id, next_id + 1
        index.add(story, placement, now)
        out.append(story)
    return out


def test_tokens_fold_case_accents_stop_words_and_plural_s() -> None:
    assert tokens("The Bans in Zürich, and ÉTÉ!") == ["ban", "zurich", "ete"]


def test_rewritten_copy_joins_as_duplicate() -> None:
    index = StoryIndex()
    place_all(index, [TIKTOK, FLOODS])
    placement = index.place(StoryText.of(*TIKTOK_COPY), T0)
    assert (placement.story, placement.reason) == (1, "duplicate")


def test_other_outlet_joins_by_similarity_and_other_event_starts_a_story() -> None:
    index = StoryIndex()
    place_all(index, [TIKTOK, FLOODS])
    other = index.place(StoryText.of(*TIKTOK_OTHER_OUTLET), T0)
    assert (other.story, other.reason) == (1, "similar")
    assert other.score >= index.settings.threshold
    quake = index.place(StoryText.of("Earthquake shakes Tokyo", "A magnitude 6 quake hit."), T0)
    assert quake.story is None and quake.reason == "new"


def test_same_stream_same_stories() -> None:
    items = [TIKTOK, FLOODS, TIKTOK_COPY, TIKTOK_OTHER_OUTLET, FLOODS]
    assert place_all(StoryIndex(), items) == place_all(StoryIndex(), items) == [1, 2, 1, 1, 2]


def test_story_closes_after_its_window_and_later_coverage_starts_a_new_one() -> None:
    index = StoryIndex(StorySettings(window_s=3600))
    place_all(index, [TIKTOK])
    inside = index.place(StoryText.of(*TIKTOK_COPY), T0 + timedelta(minutes=59))
    assert inside.story == 1
    after = index.place(StoryText.of(*TIKTOK_COPY), T0 + timedelta(minutes=60))
    assert after.story is None and len(index) == 0


def _placed(index: StoryIndex, text: tuple[str, str], published: datetime | None,
            story_id: int) -> int | None:
    """Place one article arriving at T0 with that date; add it (to ``story_id`` if new)."""
    placement = index.place(StoryText.of(*text), T0, published)
    index.add(placement.story or story_id, placement, T0)
    return placement.story


def test_articles_dated_more_than_the_window_apart_are_not_one_story() -> None:
    """A first poll brings items years old, all arriving at once: a 2009 article and a
    copy of it dated 2016 are other news, by the duplicate signal or the cosine."""
    index = StoryIndex(StorySettings(window_s=48 * 3600))
    old = datetime(2009, 6, 30, 14, tzinfo=UTC)
    assert _placed(index, TIKTOK, old, 1) is None
    assert _placed(index, TIKTOK_COPY, old + timedelta(days=7 * 365), 2) is None
    assert _placed(index, TIKTOK_OTHER_OUTLET, old + timedelta(days=400), 3) is None
    # within the window of either, before or after: the same story
    assert _placed(index, TIKTOK_COPY, old - timedelta(hours=47), 4) == 1
    assert _placed(index, TIKTOK_OTHER_OUTLET, old + timedelta(days=7 * 365, hours=3), 5) == 2
    # an undated article, or a story whose articles are undated, is not held apart
    assert _placed(index, TIKTOK_COPY, None, 6) in (1, 2)
    undated = StoryIndex()
    assert _placed(undated, TIKTOK, None, 1) is None
    assert _placed(undated, TIKTOK_COPY, old, 2) == 1
    assert undated.stories[1].published == old  # the first date it gets is the story's


def test_one_shared_word_does_not_make_a_story() -> None:
    """Short headlines from real feeds: one common word reached the cosine threshold."""
    index = StoryIndex()
    assert _placed(index, ("Reading and Writing Files in Python", ""), None, 1) is None
    assert _placed(index, ("Zip Files All The Way Down", ""), None, 2) is None
    assert _placed(index, ("Dictionaries in Python", ""), None, 3) is None
    # two shared terms still do
    assert _placed(index, ("Writing Files in Python, again", ""), None, 4) == 1


def test_window_counts_from_the_first_article_not_the_last() -> None:
    index = StoryIndex(StorySettings(window_s=3600))
    place_all(index, [TIKTOK])
    place_all(index, [TIKTOK_COPY], now=T0 + timedelta(minutes=50))
    assert index.place(StoryText.of(*TIKTOK_OTHER_OUTLET), T0 + timedelta(minutes=61)).story is None


def test_centroid_is_bounded_by_max_terms() -> None:
    index = StoryIndex(StorySettings(max_terms=10))
    words = " ".join(f"word{i}" for i in range(300))
    place_all(index, [("TikTok ban", words)] + [("TikTok ban", words)] * 3)
    assert len(index.stories[1].centroid) <= 10 + 32


KARDASHIAN = ("Kardashian wedding plans revealed",
              "Kim Kardashian and Kanye West set a date for the ceremony.")
EVERYDAY = ("People say this year was a good time to find work",
            "Many people found work this year, a good time for jobs.")
KARDASHIAN_EVERYDAY = ("Kardashian wedding: people say year good time",
                       "Kardashian told people this year was a good time.")


@pytest.mark.parametrize(("language", "joins"), [(None, 2), ("en", 1)])
def test_word_frequency_idf_weighs_a_rare_name_over_everyday_words(
        language: str | None, joins: int) -> None:
    # Two articles seen: the online IDF cannot tell "kardashian" from "people", so the
    # article shares more words with the everyday story; the language's word
    # frequencies know that the name is what it is about.
    index = StoryIndex()
    for story, item in enumerate((KARDASHIAN, EVERYDAY), 1):
        index.add(story, index.place(StoryText.of(*item, language), T0), T0)
    assert index.place(StoryText.of(*KARDASHIAN_EVERYDAY, language), T0).story == joins


def test_idf_table_folds_words_like_the_articles_and_knows_its_languages() -> None:
    table = prior.idf_table("en")
    assert table is not None
    assert table["kardashian"] > table["wedding"] > table["people"] >= 1.0
    assert "ban" in table and "bans" not in table  # plural "s" trimmed, as in tokens()
    assert prior.idf_table(None) is None and prior.idf_table("xx") is None


def test_word_list_read_directly_equals_wordfreqs_own_reading() -> None:
    import wordfreq  # a dependency: its reading is the reference (imported here: 1.2 s)

    path = prior._list_path("en")
    assert path is not None
    assert prior._frequencies(path) == wordfreq.get_frequency_dict("en", wordlist="small")


@pytest.mark.parametrize("language", [None, "en"])  # online IDF, word-frequency IDF
def test_a_restored_index_decides_like_the_live_one(language: str | None) -> None:
    live = StoryIndex()
    place_all(live, [TIKTOK, FLOODS], language=language)
    restored = StoryIndex()
    for s in live.stories.values():
        restored.open(s.id, s.first_seen, s.centroid, s.articles, dict(s.terms))
        for sig in s.signatures:
            restored.add_signature(s.id, sig)
    for item in (TIKTOK_COPY, TIKTOK_OTHER_OUTLET, FLOODS):
        text = StoryText.of(*item, language)
        a, b = live.place(text, T0), restored.place(text, T0)
        assert (a.story, a.reason, round(a.score, 9)) == (b.story, b.reason, round(b.score, 9))


def test_every_candidate_is_reranked_on_its_whole_cosine() -> None:
    """Candidates come from the article's rarer terms; the common ones are added for
    the best few only. Each of those must get its whole cosine: here the candidate that
    leads on the rare term alone is not the most similar one."""
    index = StoryIndex(StorySettings(probe_stories=2))
    index.open(1, T0, {"rare": 1.0})                   # leads on "rare": 0.6
    index.open(2, T0, {"rare": 0.5, "common": 1.0})     # 0.3 on "rare", 1.1 in all
    index.open(3, T0, {"common": 1.0})                  # share no rare term
    index.open(4, T0, {"common": 1.0})
    story, cosine = index._most_similar({"common": 0.8, "rare": 0.6})
    assert story == 2 and cosine == pytest.approx(1.1 / math.sqrt(1.25), abs=1e-12)


def test_only_articles_without_a_word_list_count_in_the_online_idf() -> None:
    """An English article is weighed by its word list: counting its words in the
    online IDF would skew the other languages' weights (and cost a fifth of a place)."""
    index = StoryIndex()
    for story_id, (item, language) in enumerate([(TIKTOK, "en"), (FLOODS, None)], 1):
        index.add(story_id, index.place(StoryText.of(*item, language), T0), T0)
    assert index.stories[1].terms == {}
    floods = index.stories[2]
    assert floods.terms[""] == 1 and floods.terms["valencia"] == 1
    assert (index._articles, index._df.get("valencia"), index._df.get("tiktok")) == (1, 1, None)
    assert [s.articles for s in index.stories.values()] == [1, 1]
    # Closing the unknown-language story takes its counts back out.
    index.close(floods.id)
    assert (index._articles, index._df) == (0, {})


def test_a_story_stored_before_the_online_count_was_kept_counts_every_article() -> None:
    index = StoryIndex()
    index.open(3, T0, {"flood": 1.0}, articles=2, terms={"flood": 2, "valencia": 1})
    assert (index._articles, index._df) == (2, {"flood": 2, "valencia": 1})
    assert index.stories[3].terms == {"flood": 2, "valencia": 1, "": 2}
    index.open(4, T0, {"ban": 1.0}, articles=5, terms={})  # English only, new format
    assert index._articles == 2 and index.stories[4].articles == 5


# -- language ------------------------------------------------------------------

from monitor.stories.language import detect_language, primary_tag  # noqa: E402


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        # plain detection, no declaration
        ("Die Bundesregierung hat am Montag neue Regeln für Plattformen beschlossen", None, "de"),
        ("Le gouvernement a présenté mercredi un projet de loi sur les plateformes", None, "fr"),
        ("The government unveiled new rules for social media platforms on Monday", None, "en"),
        # a declaration the text contradicts is overruled
        ("The government unveiled new rules for social media platforms on Monday", "de-DE", "en"),
        # a declaration the text agrees with is kept (region dropped)
        ("Die Bundesregierung hat am Montag neue Regeln beschlossen", "DE_at", "de"),
        # too short to tell: the feed's word stands, or unknown
        ("OK 42", "fr", "fr"),
        ("OK 42", None, None),
        # a headline the model cannot place (best guess: Luxembourgish, 9%): the feed's
        # word stands, or unknown; never a confident wrong language
        ("M 1.9 - 79km WSW of Cantwell, Alaska", None, None),
        ("M 1.9 - 79km WSW of Cantwell, Alaska", "en-US", "en"),
        ("M 2.1 - 27km SE of Campo, CA", "en", "en"),
    ],
)
def test_detect_language(text: str, declared: str | None, expected: str | None) -> None:
    assert detect_language(text, declared) == expected


def test_primary_tag_rejects_junk() -> None:
    assert [primary_tag(x) for x in ("en-US", "", None, "12", "english")] == [
        "en", None, None, None, None]


from monitor.stories.language import function_word_language  # noqa: E402


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # several function words of one language and none of the others: no model needed
        ("The minister said that the rules will apply to all of the platforms from May", "en"),
        ("Der Minister sagte, dass die Regeln auch für alle Plattformen gelten werden, "
         "und zwar nach dem Sommer", "de"),
        # too few function words (a title): left to the model
        ("TikTok ban upheld", None),
        # two languages mixed evenly: left to the model
        ("the and of der und ist", None),
        # an English quote inside Russian text is not English
        ("Цитата дня: нуу... with the power of the people comes the responsibility "
         "сказал он вчера вечером на встрече с избирателями в городе", None),
    ],
)
def test_function_word_language(text: str, expected: str | None) -> None:
    assert function_word_language(text) == expected


def test_language_model_loads_once_for_concurrent_first_calls(monkeypatch) -> None:
    """Ingest threads reaching the model together must not each load it (~1 s apiece)."""
    import threading
    import time

    import py3langid.langid as langid  # type: ignore[import-untyped]

    from monitor.stories import language

    loads: list[int] = []
    real = langid.LanguageIdentifier.from_model_file

    def slow_load(*args: object, **kwargs: object) -> object:
        loads.append(1)
        time.sleep(0.05)
        return real(*args, **kwargs)

    monkeypatch.setattr(language, "_identifier", None)
    monkeypatch.setattr(langid.LanguageIdentifier, "from_model_file", slow_load)
    threads = [threading.Thread(target=language._detector) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1


# -- feed boilerplate: a templated feed's items are not one story by their template ----

from pathlib import Path  # noqa: E402

from monitor.article import Article, FeedSpec  # noqa: E402
from monitor.stories.ingest import prepare_articles  # noqa: E402
from monitor.stories.text import feed_boilerplate  # noqa: E402

QUAKES = [("M 2.1 - 27km SE of Campo, CA", "32.413°N 116.292°W", "-0.47 km (-0.29 mi)"),
          ("M 1.4 - 81km W of Healy, Alaska", "63.895°N 150.624°W", "19.30 km (11.99 mi)"),
          ("M 2.0 - 62km NE of Eielson Air Force Base, Alaska", "65.117°N 146.290°W",
           "8.50 km (5.28 mi)"),
          ("M 2.6 - 10km WNW of Alberto Oviedo Mota, B.C., MX", "32.233°N 115.257°W",
           "10.00 km (6.21 mi)"),
          ("M 0.6 - 16km WSW of Toms Place, CA", "37.505°N 118.847°W", "4.93 km (3.06 mi)")]
TUTORIALS = [("Python args and kwargs: Demystified", "use args and kwargs to add flexibility "
              "to your functions and unpack any iterable with the asterisk operators"),
             ("Natural Language Processing With spaCy in Python", "use spaCy, a free "
              "open-source library for processing and analyzing text data"),
             ("How to Make a Discord Bot in Python", "make a Discord bot that interacts "
              "with several APIs and responds to messages on your server"),
             ("Your Guide to the Python Print Function", "use the print function, and "
              "discover lesser-known features such as separators and buffering"),
             ("Inheritance and Composition: A Python OOP Guide", "use inheritance and "
              "composition to improve your object-oriented designs")]


def feed_item(feed: str, n: int, title: str, body: str) -> Article:
    return Article(feed_url=f"https://{feed}.test/feed", feed_name=feed, feed_tags=(),
                   key=f"{feed}-{n}", guid=None, link=f"https://{feed}.test/{n}",
                   canonical_url=f"https://{feed}.test/{n}", title=title, summary=body)


def usgs_feed(name: str = "usgs") -> list[Article]:
    return [feed_item(name, n, title, f"Time\n2018-11-19 21:{n:02d}:38 UTC\n2018-11-19 "
                      f"13:{n:02d}:38 -08:00 at epicenter\nLocation\n{where}\nDepth\n{depth}")
            for n, (title, where, depth) in enumerate(QUAKES)]


def tutorial_feed() -> list[Article]:
    return [feed_item("realpython", n, title, f"In this step-by-step tutorial, you'll learn "
                      f"how to {body}. The post {title} appeared first on Real Python.")
            for n, (title, body) in enumerate(TUTORIALS)]


def stories_of(*documents: list[Article], seen: int = 0) -> list[int]:
    """Story per article, placed as the daemon does: each feed document's items
    prepared together (``prepare_articles``), then ``StoryIndex.place/add`` in order.
    ``seen``: of each document, the first items were stored by an earlier poll."""
    index, out, next_id = StoryIndex(), [], 1
    for doc in documents:
        for batch, earlier in ((doc[:seen], []), (doc[seen:], doc[:seen])):
            _, ready = prepare_articles(batch, "en", True, earlier)
            for prepared in ready:
                placement = index.place(prepared, T0)
                story = placement.story
                if story is None:
                    story, next_id = next_id, next_id + 1
                index.add(story, placement, T0)
                out.append(story)
    return out


@pytest.mark.parametrize("seen", [0, 3], ids=["first-poll", "later-poll"])
def test_a_templated_feeds_distinct_items_are_distinct_stories(seen: int) -> None:
    quakes, tutorials = stories_of(usgs_feed(), seen=seen), stories_of(tutorial_feed(),
                                                                          seen=seen)
    assert len(set(quakes)) == len(QUAKES)
    assert len(set(tutorials)) == len(TUTORIALS)


def test_a_syndicated_copy_still_joins_its_story_across_templated_feeds() -> None:
    # The same quake in a second USGS feed (another URL, the same template), and a
    # news outlet's copy of a news item: each joins its original's story.
    other = usgs_feed("usgs-day")[1:3]
    news = [feed_item("wire", 0, *TIKTOK), feed_item("wire", 1, *FLOODS)]
    copy = [feed_item("paper", 0, *TIKTOK_COPY)]
    got = stories_of(usgs_feed(), other, news, copy)
    assert got[5:7] == got[1:3]
    assert got[9] == got[7] != got[8]
    assert len(set(got[:5])) == 5


def test_feed_boilerplate_is_what_most_of_a_documents_items_carry() -> None:
    texts = [StoryText.of(a.title, a.summary) for a in tutorial_feed()]
    words = feed_boilerplate(texts)
    assert {"step", "tutorial", "learn", "python", "real", "appeared"} <= words
    assert not words & {"discord", "spacy", "inheritance"}
    assert feed_boilerplate(texts[:2]) == frozenset()  # too few items to tell


REAL_TEMPLATED = ("rometools_rome/usgs-gov-earthquakes-all-hour-atom.xml",
                  "KDE_syndication/atom__bug411626.xml")


@pytest.mark.parametrize("path", REAL_TEMPLATED)
def test_a_real_templated_feeds_items_are_not_one_story(shared_data: Path, path: str) -> None:
    from monitor.feeds.parse import parse_feed

    body = (shared_data / "feeds" / "realworld" / path).read_bytes()
    parsed = parse_feed(body, {}, FeedSpec(url="https://f.test/feed", name="F"))
    got = stories_of(list(parsed.articles))
    # At most one pair of one feed's items in a story (two Real Python courses on
    # Python's built-in types), not the whole feed as before.
    assert len(got) - len(set(got)) <= 1, got
