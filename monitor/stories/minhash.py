"""A small MinHash with LSH banding (pure): finds near-identical texts.

Hand-rolled rather than ``datasketch``: the signatures are short (32 values)
and the banded lookup is a dict (measured in bench/RESULTS.md). The 32
permutations of all shingles are one numpy expression (numpy is already loaded
by the language model): in pure Python they were the largest cost of placing an
article. Hashes are fixed (CRC-32, a seeded permutation table), so signatures
agree across processes and restarts; uint64 arithmetic is exact here.
"""

from __future__ import annotations

import functools
import operator
import random
import struct
import zlib
from collections.abc import Iterable
from typing import Any

_PRIME = (1 << 61) - 1
_MAX = (1 << 32) - 1
#: Signature length and banding: 8 bands x 4 rows puts the 50% chance of being
#: a candidate near Jaccard 0.59; candidates are then checked on the estimate.
PERMUTATIONS = 32
BANDS = 8
_ROWS = PERMUTATIONS // BANDS
_rng = random.Random(0x5709)
# 32-bit shingle hashes and coefficients keep every product below 2**64 (fast ints).
_PERMS = [(_rng.randrange(1, 1 << 32), _rng.randrange(0, 1 << 32)) for _ in range(PERMUTATIONS)]


@functools.cache
def _numpy() -> tuple[Any, Any, Any]:
    """numpy and the permutation coefficients, on first use: a command that never
    places an article (``status``, ``once`` with nothing new) does not import numpy."""
    import numpy as np

    a = np.array([a for a, _ in _PERMS], dtype=np.uint64)[:, None]
    b = np.array([b for _, b in _PERMS], dtype=np.uint64)[:, None]
    return np, a, b

#: 32 little-endian uint32 minima packed in 128 bytes (small enough to keep per article).
Signature = bytes
_PACK = struct.Struct(f"<{PERMUTATIONS}I")
_BAND_BYTES = 4 * _ROWS


def _hash(shingle: str) -> int:
    # CRC-32: deterministic across processes (unlike hash()) and 5x cheaper than
    # blake2b; the random permutations that follow do the mixing.
    return zlib.crc32(shingle.encode())


def signature(shingles: Iterable[str]) -> Signature | None:
    """The MinHash signature of a set of shingles (None for an empty set)."""
    np, coef_a, coef_b = _numpy()
    hashes = np.fromiter((_hash(s) for s in shingles), dtype=np.uint64)
    if not hashes.size:
        return None
    # a, h < 2**32 and b < 2**32: a * h + b < 2**64, exact in uint64.
    minima = ((coef_a * hashes + coef_b) % np.uint64(_PRIME)).min(axis=1) & np.uint64(_MAX)
    return bytes(minima.astype("<u4").tobytes())


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    same: int = sum(map(operator.eq, _PACK.unpack(a), _PACK.unpack(b)))
    return same / PERMUTATIONS


def bands(sig: Signature) -> list[bytes]:
    """The LSH keys of a signature: texts sharing any key are candidates."""
    return [bytes([i]) + sig[i * _BAND_BYTES : (i + 1) * _BAND_BYTES] for i in range(BANDS)]
