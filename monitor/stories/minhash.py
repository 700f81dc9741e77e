"""A small MinHash with LSH banding (pure): finds near-identical texts.

Hand-rolled rather than ``datasketch``: the signatures are short (32 values)
and the banded lookup is a dict, so pulling in numpy/scipy buys nothing
here (measured in bench/RESULTS.md). Hashes are fixed (blake2b, a seeded
permutation table), so signatures agree across processes and restarts.
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Iterable

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

#: 32 little-endian uint32 minima packed in 128 bytes (small enough to keep per article).
Signature = bytes
_PACK = struct.Struct(f"<{PERMUTATIONS}I")
_BAND_BYTES = 4 * _ROWS


def _hash(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=4).digest(), "little")


def signature(shingles: Iterable[str]) -> Signature | None:
    """The MinHash signature of a set of shingles (None for an empty set)."""
    hashes = [_hash(s) for s in shingles]
    if not hashes:
        return None
    return _PACK.pack(*[min([(a * h + b) % _PRIME for h in hashes]) & _MAX for a, b in _PERMS])


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    pairs = zip(_PACK.unpack(a), _PACK.unpack(b), strict=True)
    same: int = sum(x == y for x, y in pairs)
    return same / PERMUTATIONS


def bands(sig: Signature) -> list[bytes]:
    """The LSH keys of a signature: texts sharing any key are candidates."""
    return [bytes([i]) + sig[i * _BAND_BYTES : (i + 1) * _BAND_BYTES] for i in range(BANDS)]
