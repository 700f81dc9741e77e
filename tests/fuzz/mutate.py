"""Byte-level mutations of real documents, as hypothesis strategies.

A mutation is what breaks a document on the way to us: cut short, a byte flipped,
a span lost or repeated, a hostile snippet inserted, the encoding swapped under a
declaration that still names the old one. Each strategy draws a few of them, in
order, so hypothesis can shrink a failure to the one that matters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hypothesis import strategies as st

BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"]
CODECS = ["utf-8", "utf-16-le", "utf-16-be", "utf-16", "utf-32", "latin-1", "cp1252",
          "shift_jis", "euc-kr", "big5", "koi8-r", "cp037"]
#: Names a declaration or a Content-Type may claim (some unknown, some wrong).
CHARSET_NAMES = CODECS + ["us-ascii", "utf-7", "x-bogus", "", "utf-8'", "ISO-8859-16",
                          "gb18030", "utf8", "UTF-16LE", "csUnicode"]
_DECLARED = re.compile(rb"""encoding\s*=\s*["'][^"']*["']""")


def _span(draw: st.DrawFn, data: bytes) -> tuple[int, int]:
    start = draw(st.integers(0, len(data)))
    length = draw(st.integers(0, 64) | st.integers(0, len(data)))
    return start, min(len(data), start + length)


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes, snippets: Sequence[bytes]) -> bytes:
    """One mutation of ``data``."""
    kind = draw(st.sampled_from(["truncate", "flip", "delete", "repeat", "insert",
                                 "insert_random", "prolog", "bom", "reencode", "declare"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "flip":
        at = draw(st.integers(0, max(0, len(data) - 1)))
        new = draw(st.integers(0, 255))
        return data[:at] + bytes([new]) + data[at + 1 :]
    if kind == "delete":
        start, end = _span(draw, data)
        return data[:start] + data[end:]
    if kind == "repeat":
        start, end = _span(draw, data)
        times = draw(st.integers(2, 50))
        return data[:start] + data[start:end] * times + data[end:]
    if kind in ("insert", "insert_random"):
        at = draw(st.integers(0, len(data)))
        piece = (draw(st.sampled_from(list(snippets))) if kind == "insert"
                 else draw(st.binary(min_size=1, max_size=16)))
        return data[:at] + piece + data[at:]
    if kind == "prolog":  # right after the XML declaration, where a DOCTYPE goes
        at = data.find(b"?>") + 2 if b"?>" in data[:200] else 0
        return data[:at] + draw(st.sampled_from(list(snippets) or [b"<!x>"])) + data[at:]
    if kind == "bom":
        stripped = next((data[len(b):] for b in BOMS if data.startswith(b)), data)
        return draw(st.sampled_from(BOMS + [b""])) + stripped
    if kind == "reencode":
        source = draw(st.sampled_from(["utf-8", "latin-1"]))
        target = draw(st.sampled_from(CODECS))
        return data.decode(source, "replace").encode(target, "replace")
    # "declare": the declaration names another encoding than the bytes are in
    name = draw(st.sampled_from(CHARSET_NAMES)).encode()
    if _DECLARED.search(data):
        return _DECLARED.sub(b'encoding="' + name + b'"', data, count=1)
    return b'<?xml version="1.0" encoding="' + name + b'"?>\n' + data


@st.composite
def mutated(draw: st.DrawFn, data: bytes, snippets: Sequence[bytes] = (), most: int = 4) -> bytes:
    """``data`` after 1 to ``most`` mutations."""
    for _ in range(draw(st.integers(1, most))):
        data = draw(byte_mutation(data, snippets))
    return data
