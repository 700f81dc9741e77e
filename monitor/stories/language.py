"""An article's language (pure: the model ships inside the py3langid package).

py3langid was chosen by measurement (bench/language.py, bench/RESULTS.md): on 533
entries of 36 real feeds in 12 languages it was the most accurate candidate
(99.6%, lingua 98.5%, langdetect 98.3%, pycld2 97.0%) and the fastest but one
(pycld2, less accurate on titles). It reads at most ``SAMPLE_CHARS`` characters:
the same accuracy there, less time.

Most news text is in a handful of languages whose function words give them away:
a text with several of one language's function words and (almost) none of the
others' is taken as that language without the model (``function_word_language``),
at a fraction of its cost. Everything else (short, mixed, other scripts) goes to
py3langid. Measured in bench/language.py: same accuracy, a fraction of the time.

A text the model cannot place with confidence (a short headline such as
"M 2.5 - 10 km NE of Ridgecrest, CA", whose best guess is Latin or Luxembourgish
at 5%) gets the feed's declared language, or none (unknown): a confident wrong
language would make a ``languages:`` rule drop an article it should see.
"""

from __future__ import annotations

import re
import threading
from typing import Any

#: Characters of title + body read: enough for the same accuracy as the whole text.
SAMPLE_CHARS = 300
#: Below this many letters the text says too little; the feed's word is taken as is.
MIN_LETTERS = 12
#: A feed's declared language is kept when it is among the detector's top guesses
#: (it knows better on a short or mixed text); otherwise the text overrules it.
DECLARED_AGREES_TOP = 3
#: The model's probability for its best guess below which it does not know: the
#: feed's declared language is taken, or none. On the labelled entries of
#: bench/language.py every wrong guess of the model was below 0.2 and 3 right ones
#: of 533; USGS earthquake headlines score 0.05-0.1.
MIN_CONFIDENCE = 0.2


#: Frequent words of one language that are rare in the others (no shared "a", "de",
#: "la", "in", "die"...): a hit is strong evidence.
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the and of to is that for with was are this from have has been were "
              "will would which their said after over about than who its they",
        "de": "der und ist nicht mit auf sich dem den ein eine einer auch nach wird "
              "sind bei aus noch wie über oder vom zum zur werden hat nur",
        "fr": "le les et est une des du dans pour que qui sur pas au aux ce avec "
              "sont mais été ont cette leur selon être plus",
        "es": "el los las del y una por con para es se que su al como más pero sus "
              "fue está entre desde sobre también",
        "it": "il della di che è per una sono gli nel nella alla dei delle con anche "
              "più questo dopo stato",
        "pt": "os das dos uma não com para em ao pela pelo mais foi são também como "
              "seu sua está pelos",
        "nl": "het een van en zijn niet met voor ook bij naar maar wordt dat deze "
              "heeft werd uit nog",
    }.items()
}
#: A language wins without the model with this many hits ...
MIN_FUNCTION_WORDS = 3
#: ... and this many times the hits of the runner-up.
FUNCTION_WORD_LEAD = 4
_WORDS = re.compile(r"[^\W\d_]+")


_LANGS_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in FUNCTION_WORDS.items():
    for _w in _words:
        _LANGS_OF[_w] = (*_LANGS_OF.get(_w, ()), _lang)


def function_word_language(sample: str) -> str | None:
    """The language whose function words clearly dominate ``sample`` (None: unclear,
    or not mostly in Latin script: a quote in English inside Russian text is Russian)."""
    words = _WORDS.findall(sample.lower())
    latin = sum(w < "\u0250" for w in words)  # a word starting in Latin script
    if not words or latin * 5 < len(words) * 4:
        return None
    hits: dict[str, int] = {}
    for w in words:
        for lang in _LANGS_OF.get(w, ()):
            hits[lang] = hits.get(lang, 0) + 1
    ranked = sorted(hits.values(), reverse=True)
    if not ranked or ranked[0] < MIN_FUNCTION_WORDS:
        return None
    if len(ranked) > 1 and ranked[0] < FUNCTION_WORD_LEAD * ranked[1]:
        return None
    return max(hits, key=hits.__getitem__)


_LOAD_LOCK = threading.Lock()
_identifier: Any = None


def _detector() -> Any:
    """py3langid's identifier giving probabilities (``norm_probs``), loaded once per
    process.

    Loaded on first use: it loads numpy and the model, which `check`, `matches` and
    the other commands that never ingest should not pay for at start-up. Under a lock:
    the ingest threads that reached it at once would each decompress the model (~1 s
    of CPU apiece; six times in the first ingest of bench/ingest.py, with py3langid's
    own lazy global).
    """
    global _identifier
    if _identifier is not None:
        return _identifier
    with _LOAD_LOCK:
        if _identifier is None:
            from py3langid.langid import (  # type: ignore[import-untyped]
                MODEL_FILE,
                LanguageIdentifier,
            )

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def primary_tag(code: str | None) -> str | None:
    """'en-US' / 'EN_gb' / ' de ' -> 'en' / 'en' / 'de'; '' or None -> None."""
    if not code:
        return None
    tag = code.strip().replace("_", "-").split("-")[0].lower()
    return tag if tag.isalpha() and 2 <= len(tag) <= 3 else None


def detect_language(text: str, declared: str | None = None) -> str | None:
    """The ISO 639-1 code of ``text``'s language (None: unknown).

    ``declared`` (a feed's ``<language>``) is trusted only when the text agrees,
    i.e. the detector ranks it among its top guesses, or when the text cannot tell:
    too short, or the detector's best guess is below ``MIN_CONFIDENCE``. Then, with
    nothing declared, the language is unknown rather than a guess.
    """
    sample = text[:SAMPLE_CHARS]
    declared_tag = primary_tag(declared)
    if sum(c.isalpha() for c in sample) < MIN_LETTERS:
        return declared_tag
    quick = function_word_language(sample)
    if quick is not None and declared_tag in (None, quick):
        return quick
    ranked = _detector().rank(sample)
    if declared_tag and declared_tag in {lang for lang, _ in ranked[:DECLARED_AGREES_TOP]}:
        return declared_tag
    best, probability = ranked[0]
    return str(best) if probability >= MIN_CONFIDENCE else declared_tag
