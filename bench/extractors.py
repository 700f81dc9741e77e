"""Main-text extractors compared on the article pages under tests/data/pages.

Each page lists phrases only its body carries (recall: should be kept) and
phrases only its boilerplate carries: navigation, related stories, cookie banner,
comments, footer, scripts (precision: should be dropped). For each extractor:
body phrases kept, boilerplate phrases leaked, and the time per page (CPU, one
core, best of ``--repeat``). The baseline is the whole page as text
(``html_to_text``), measured in the same run.

readability-lxml is measured when importable (it is not a dependency: it pulls in
chardet, which changes feedparser's encoding guesses). Run it in a separate venv:
  pip install trafilatura lxml_html_clean readability-lxml && python bench/extractors.py

Run:  python bench/extractors.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from monitor.feeds.parse import html_to_text
from monitor.fulltext.extract import decode_html

PAGES = Path(__file__).resolve().parent.parent / "tests" / "data" / "pages"

#: page -> (body-only phrases, boilerplate-only phrases)
CASES = {
    "zoom-partner.html": (
        ["partner-only model", "data-localisation rules", "reseller route",
         "only model regulators", "$180m last quarter", "Shanghai and Shenzhen"],
        ["843 partners", "More on this story", "Senate votes on TikTok ban", "reader42",
         "Popular now", "Copyright 2026", "Cloud prices rise", "premium plan"]),
    "court-tiktok.html": (
        ["divestiture deadline of January 19", "regulates ownership", "recommendation algorithm",
         "lost advertising revenue", "emergency stay", "narrow reading of the First Amendment"],
        ["Zoom goes partner-only", "Chip export curbs", "WeChat", "morning briefing",
         "Record heat grips", "All rights reserved", "Accept all", "dataLayer"]),
    "wire-divs.html": (
        ["rare-earth magnets", "patchwork of national permits", "This is about predictability",
         "review clause", "fixed by a committee"],
        ["Solar tariff row", "Central bank signals", "Battery makers lobby", "Copper hits record",
         "This site uses cookies", "All rights reserved", "_sf_async_config"]),
}


def _trafilatura(**options: bool) -> Callable[[str], str]:
    import trafilatura

    def run(html: str) -> str:
        return trafilatura.extract(html, include_comments=False, include_tables=True,
                                   **options) or ""
    return run


def _justext(html: str) -> str:
    import justext

    paragraphs = justext.justext(html.encode(), justext.get_stoplist("English"))
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def _readability() -> Callable[[str], str] | None:
    try:
        from readability import Document  # type: ignore[import-not-found]
    except ImportError:
        return None
    return lambda html: html_to_text(Document(html).summary())


def extractors() -> dict[str, Callable[[str], str]]:
    found: dict[str, Callable[[str], str] | None] = {
        "whole page (baseline)": html_to_text,
        "trafilatura (chosen)": _trafilatura(),
        "trafilatura favor_precision": _trafilatura(favor_precision=True),
        "trafilatura favor_recall": _trafilatura(favor_recall=True),
        "jusText": _justext,
        "readability-lxml": _readability(),
    }
    return {name: fn for name, fn in found.items() if fn is not None}


def measure(fn: Callable[[str], str], repeat: int) -> tuple[int, int, float]:
    kept = leaked = 0
    seconds = 0.0
    for name, (body, boilerplate) in CASES.items():
        raw = (PAGES / name).read_bytes()
        html = decode_html(raw, {})
        best = float("inf")
        for _ in range(repeat):
            started = time.process_time()
            text = fn(html)
            best = min(best, time.process_time() - started)
        seconds += best
        kept += sum(p in text for p in body)
        leaked += sum(p in text for p in boilerplate)
    return kept, leaked, seconds / len(CASES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    body_total = sum(len(b) for b, _ in CASES.values())
    noise_total = sum(len(n) for _, n in CASES.values())
    print(f"pages: {len(CASES)}   body phrases: {body_total}   boilerplate phrases: {noise_total}")
    print("| extractor | body phrases kept | boilerplate leaked | ms/page (CPU) |")
    print("|---|---|---|---|")
    for name, fn in extractors().items():
        kept, leaked, per_page = measure(fn, args.repeat)
        print(f"| {name} | {kept}/{body_total} | {leaked}/{noise_total} | {per_page * 1000:.1f} |")


if __name__ == "__main__":
    main()
