"""Language detection benchmark: candidate libraries on real multilingual feeds.

Articles: the entries of the feeds listed in LABELS (from ``feeds/realworld`` of the
shared data, read in place), parsed by the daemon's own ``parse_feed``; each is
labelled with its feed's language (the channel title and ``<language>`` say which;
a handful of English entries inside a German feed count as errors for every
candidate alike). The detector reads what the daemon passes it: title + summary, and
for "monitor, feed's <language>" the feed's declared language too, as the daemon does
(the row above it reads the text alone).

Prints per candidate: accuracy over all entries, accuracy on the non-English ones,
accuracy on short texts (title only), the answers "unknown" (None; monitor only) and
wrong (a language, not the right one) over all entries and over titles, and
microseconds per detection (one core). Accuracy counts an unknown as not right; a
wrong answer is the costly one (a ``languages:`` rule drops the article, while an
unknown passes it). Candidates that are not installed are skipped (only the chosen
one is a dependency).

Run:  python bench/language.py
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable
from pathlib import Path

from monitor.article import FeedSpec
from monitor.feeds.parse import parse_feed

#: feed file (under feeds/realworld) -> the language its entries are written in.
LABELS = {
    "arminreiter_FeedReader/Rss091Stadtfeuerwehr.xml": "de",
    "arminreiter_FeedReader/Rss10Minutos20.xml": "es",
    "arminreiter_FeedReader/Rss20CityDog.xml": "ru",
    "arminreiter_FeedReader/Rss20FazNet.xml": "de",
    "arminreiter_FeedReader/Rss20LeFigaro.xml": "fr",
    "arminreiter_FeedReader/Rss20LeFil.xml": "fr",
    "arminreiter_FeedReader/Rss20LeParisien.xml": "fr",
    "arminreiter_FeedReader/Rss20MassaNews.xml": "pt",
    "arminreiter_FeedReader/Rss20Spiegel.xml": "de",
    "arminreiter_FeedReader/Rss20Reuters.xml": "en",
    "arminreiter_FeedReader/Rss20DailyMail.xml": "en",
    "arminreiter_FeedReader/Rss20TheMirror.xml": "en",
    "arminreiter_FeedReader/Rss20CTVNews.xml": "en",
    "rbren_rss-parser/uolNoticias.rss": "pt",
    "rbren_rss-parser/heise.atom": "de",
    "feed-rs/rss_2.0_spiegel.xml": "de",
    "feed-rs/rss_2.0_ilgiornale.xml": "it",
    "feed-rs/rss_2.0_ilmessaggero.xml": "it",
    "feed-rs/rss_2.0_nbcny.xml": "en",
    "feed-rs/rss_2.0_example_2.xml": "en",
    "feed-rs/rss_2.0_encoding_1.xml": "pt",
    "feed-rs/rss_0.91_encoding_1.xml": "pt",
    "miniflux_v2/encoding_ISO-8859-1.xml": "de",
    "miniflux_v2/encoding_WINDOWS-1251.xml": "ru",
    "miniflux_v2/urdu_UTF8.xml": "ur",
    "danmactough_node-feedparser/iconv.xml": "ru",
    "KDE_syndication/rss2__sueddeutsche.rss2.xml": "de",
    "KDE_syndication/rss2__zeit.de.xml": "de",
    "KDE_syndication/atom__heise-atom.xml": "de",
    "KDE_syndication/rss2__linuxfr_forums.xml": "fr",
    "KDE_syndication/rdf__slashdot.xml": "en",
    "KDE_syndication/rss2__arstechnica.xml": "en",
    "miyagawa_plagger/top10news.xml": "ja",
    "prof18_RSS-Parser/feed-test-greek.xml": "el",
    "prof18_RSS-Parser/feed-test-hindi-channel-image.xml": "hi",
    "Ranchero-Software_NetNewsWire/phpxml.rss": "nl",
}


def load() -> list[tuple[str, str, str, str | None]]:
    """(language, title, title + summary, the feed's declared language) of every entry
    of the labelled feeds."""
    root = Path(os.environ.get("MONITOR_SHARED_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data"))
    out = []
    for name, lang in LABELS.items():
        body = (root / "feeds" / "realworld" / name).read_bytes()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        parsed = parse_feed(body, {}, FeedSpec(url=name, name=name))
        for a in parsed.articles:
            text = f"{a.title}\n{a.summary or a.content[:500]}".strip()
            if len(text) >= 20:
                out.append((lang, a.title, text, parsed.language))
    return out


Detect = Callable[[str, str | None], str | None]


def candidates() -> dict[str, Detect]:
    """Name -> detect(text, the feed's declared language)."""
    found: dict[str, Detect] = {}
    try:
        import py3langid  # type: ignore[import-untyped]

        found["py3langid"] = lambda t, _: py3langid.classify(t)[0]
        found["py3langid, first 300 chars"] = lambda t, _: py3langid.classify(t[:300])[0]
        from monitor.stories.language import detect_language

        # What the daemon runs: function words first, py3langid when they are unclear.
        found["monitor (function words + py3langid)"] = lambda t, _: detect_language(t)
        found["monitor, feed's <language>"] = detect_language
    except ImportError:
        pass
    try:
        from lingua import LanguageDetectorBuilder  # type: ignore[import-not-found]

        det = LanguageDetectorBuilder.from_all_languages().build()

        def lingua_detect(t: str, _: str | None) -> str:
            lang = det.detect_language_of(t)
            return lang.iso_code_639_1.name.lower() if lang else "und"

        found["lingua (all, high accuracy)"] = lingua_detect
        fast = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()
        found["lingua (all, low accuracy)"] = lambda t, _: (
            (lg.iso_code_639_1.name.lower() if (lg := fast.detect_language_of(t)) else "und"))
    except ImportError:
        pass
    try:
        import pycld2  # type: ignore[import-untyped]

        def cld2(t: str, _: str | None) -> str:
            clean = t.encode("utf-8", "ignore").decode("utf-8", "ignore")
            clean = "".join(c for c in clean if c.isprintable() or c.isspace())
            return str(pycld2.detect(clean)[2][0][1])

        found["pycld2"] = cld2
    except ImportError:
        pass
    try:
        import langdetect  # type: ignore[import-untyped]

        langdetect.DetectorFactory.seed = 0
        found["langdetect"] = lambda t, _: langdetect.detect(t).split("-")[0]
    except ImportError:
        pass
    return found


def main() -> None:
    items = load()
    langs = sorted({lang for lang, _, _, _ in items})
    print(f"entries: {len(items)} in {len(LABELS)} feeds; languages: {', '.join(langs)}")
    print(f"{'candidate':<38} {'all':>6} {'non-en':>7} {'title':>6} {'unk':>4} {'wrong':>5} "
          f"{'t.unk':>5} {'t.wrong':>7} {'us/text':>8}")
    for name, detect in candidates().items():
        detect("warm up the model", None)
        start = time.process_time()
        full = [detect(text, declared) for _, _, text, declared in items]
        spent = time.process_time() - start
        right = [got == lang for got, (lang, _, _, _) in zip(full, items, strict=True)]
        titles = [(lang, detect(title, declared)) for lang, title, _, declared in items
                  if len(title) >= 10]
        non_en = [ok for ok, (lang, _, _, _) in zip(right, items, strict=True) if lang != "en"]
        unknown, t_unknown = full.count(None), sum(got is None for _, got in titles)
        wrong = len(full) - sum(right) - unknown
        t_wrong = sum(got not in (None, lang) for lang, got in titles)
        t_right = sum(got == lang for lang, got in titles)
        print(f"{name:<38} {sum(right) / len(right):6.3f} {sum(non_en) / len(non_en):7.3f} "
              f"{t_right / len(titles):6.3f} {unknown:4} {wrong:5} {t_unknown:5} {t_wrong:7} "
              f"{1e6 * spent / len(items):8.0f}")


if __name__ == "__main__":
    main()
