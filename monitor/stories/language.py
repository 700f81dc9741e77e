"""An article's language (pure: the model ships inside the py3langid package).

py3langid was chosen by measurement (bench/language.py, bench/RESULTS.md): on 533
entries of 36 real feeds in 12 languages it was the most accurate candidate
(99.6%, lingua 98.5%, langdetect 98.3%, pycld2 97.0%) and the fastest but one
(pycld2, less accurate on titles). It reads at most ``SAMPLE_CHARS`` characters:
the same accuracy there, less time.
"""

from __future__ import annotations

from typing import Any

#: Characters of title + body read: enough for the same accuracy as the whole text.
SAMPLE_CHARS = 300
#: Below this many letters the text says too little; the feed's word is taken as is.
MIN_LETTERS = 12
#: A feed's declared language is kept when it is among the detector's top guesses
#: (it knows better on a short or mixed text); otherwise the text overrules it.
DECLARED_AGREES_TOP = 3


def _detector() -> Any:
    # Imported on first use: it loads numpy and the model, which `check`, `matches`
    # and the other commands that never ingest should not pay for at start-up.
    import py3langid  # type: ignore[import-untyped]

    return py3langid


def primary_tag(code: str | None) -> str | None:
    """'en-US' / 'EN_gb' / ' de ' -> 'en' / 'en' / 'de'; '' or None -> None."""
    if not code:
        return None
    tag = code.strip().replace("_", "-").split("-")[0].lower()
    return tag if tag.isalpha() and 2 <= len(tag) <= 3 else None


def detect_language(text: str, declared: str | None = None) -> str | None:
    """The ISO 639-1 code of ``text``'s language (None: unknown).

    ``declared`` (a feed's ``<language>``) is trusted only when the text agrees,
    i.e. the detector ranks it among its top guesses, or when the text is too short
    to tell.
    """
    sample = text[:SAMPLE_CHARS]
    declared_tag = primary_tag(declared)
    if sum(c.isalpha() for c in sample) < MIN_LETTERS:
        return declared_tag
    ranked = _detector().rank(sample)
    if declared_tag and declared_tag in {lang for lang, _ in ranked[:DECLARED_AGREES_TOP]}:
        return declared_tag
    return str(ranked[0][0])
