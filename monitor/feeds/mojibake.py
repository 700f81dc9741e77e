"""Repair UTF-8 text that was decoded as windows-1252 or latin-1 on its way into a feed.

A CMS that stores UTF-8 bytes as windows-1252 characters publishes "LehrstÃ¼ck" for
"Lehrstück" and "â€™" for "’". feedparser repairs a value only when the whole of it
re-encodes to latin-1, so one correct "–" in the same title keeps every "Ã¼" broken:
alerts show it, and a rule for "Lehrstück" never matches.

The repair is ftfy's ``fix_encoding``: decoding every run that spells UTF-8 in
windows-1252 also turns ordinary text into nonsense ("«CAFÉ»" holds "É»", which is
UTF-8 for "ɻ"; "Fuß…" holds "ß…"), and ftfy weighs each change against how
implausible the text was before (it also undoes text encoded twice over: "â€šÃ„Ã¬"
for "–"). It is called only for a text that has such a run at all: most text has
none, and ftfy costs ~0.1 s to import and ~0.4 ms per call.
"""

from __future__ import annotations

import functools
import re


@functools.cache
def _run() -> re.Pattern[str]:
    """A UTF-8 sequence written as windows-1252 characters: a lead and its continuations
    (built on first use: compiling it is ~5 ms of start-up a process that parses no
    non-ASCII text need not pay)."""
    byte: dict[str, int] = {}  # windows-1252 (latin-1 where it has a gap) -> byte
    for b in range(0x80, 0x100):
        byte[chr(b)] = b
        try:
            byte[bytes([b]).decode("cp1252")] = b
        except UnicodeDecodeError:
            pass

    def chars(low: int, high: int) -> str:
        return "".join(re.escape(c) for c, b in byte.items() if low <= b <= high)

    cont = chars(0x80, 0xBF)
    return re.compile(f"[{chars(0xC2, 0xDF)}][{cont}]|[{chars(0xE0, 0xEF)}][{cont}]{{2}}"
                      f"|[{chars(0xF0, 0xF4)}][{cont}]{{3}}")


def repair(text: str) -> str:
    """``text`` with double-encoded UTF-8 decoded (unchanged when it has none)."""
    if text.isascii() or not _run().search(text):
        return text
    from ftfy import fix_encoding  # only for the rare text that may need it

    return fix_encoding(text)
