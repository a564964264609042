"""The batch hashing of refusal tokens (refusal/tokenhash.py) gives, for every answer, exactly
the buckets ``zlib.crc32`` gives the token strings of ``features.sparse_tokens``."""

from __future__ import annotations

import zlib
from collections import Counter

import numpy as np
import pytest

from pytest_modelprov.refusal import features, tokenhash
from pytest_modelprov.refusal.model import _counted

# words of every UTF-8 length, combining marks (letters before them, a mark itself is no
# word character), non-BMP letters, apostrophes, digits glued to letters, words at and past
# the length where the batch hands a word to zlib, CJK runs of one, two and many characters
# in and out of the opening, and nothing at all
TRICKY = [
    "",
    "   ",
    "a",
    "一",
    "一二",
    "一二三",
    "word 一 word 二三 word",
    "e\u0301te\u0301 cafe\u0301s re\u0301sume\u0301 na\u0308ive naïve",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢𝔰 𝐛𝐨𝐥𝐝 letters and 𝒮𝒸𝓇𝒾𝓅𝓉 ones",
    "ääkkösiä sisältävät suomalaiset sanat, ja lyhyet",
    "don't can't rock'n'roll o'clock 'quoted' it’s a'b'c'd'e x''y ' z' 'w 1'2 é'ü",
    "under_score snake_case_words __dunder__ x_1",
    "abc123def 42 ٣٤ ²³ x²",
    "привет мир, здравствуйте товарищи",
    "x" * 39 + " " + "y" * 40 + " " + "z" * 41 + " " + "é" * 21 + " short",
    "long " + "w" * 3000 + " pair " + "ü" * 500 + " end",
    "English first, then 中文的句子很长很长很长" * 3,
    "日本語のテキストとカタカナ、한국어 텍스트도",
    "a" * 230 + " opening cut mid-word here",
    "一" * 238 + "二三四五",
    "\U00020000\U00020001 outside the BMP ideographs 𠀀",
    "\ud800 lone surrogate beside words",
]


def _expected(answer: str) -> Counter[int]:
    return Counter(
        zlib.crc32(t.encode("utf-8")) & features._MASK for t in features.sparse_tokens(answer)
    )


def _got(answers: list[str]) -> list[Counter[int]]:
    rows, buckets = tokenhash.token_buckets([features.prepare(a) for a in answers])
    return [Counter(buckets[rows == i].tolist()) for i in range(len(answers))]


def test_batch_buckets_equal_the_crc_of_every_token_string():
    texts = [*TRICKY, " ".join(TRICKY), "\n".join(reversed(TRICKY))]
    got = _got(texts)
    for text, found in zip(texts, got, strict=True):
        assert found == _expected(text), text[:60]
    # the texts do reach every path: long words, stems, pairs, CJK n-grams and single chars
    kinds = Counter(t.split(":")[0] for text in texts for t in features.sparse_tokens(text))
    assert {"w", "b", "s", "c", "t", "ow", "ob", "os", "oc", "ot"} <= set(kinds)


def test_each_answer_alone_and_in_a_batch_hash_alike(monkeypatch):
    alone = [_got([t])[0] for t in TRICKY]
    assert _got(TRICKY) == alone
    monkeypatch.setattr(tokenhash, "_CHUNK", 3)  # a large batch goes through in chunks
    assert _got(TRICKY) == alone
    assert _got([]) == []
    rows, buckets = tokenhash.token_buckets([features.prepare("")])
    assert len(rows) == len(buckets) == 0


def test_register_shifts_equal_hashing_zero_bytes():
    rng = np.random.default_rng(7)
    registers = rng.integers(0, 1 << 32, size=64, dtype=np.uint64).astype(np.uint32)
    for n in (0, 1, 3, 17, tokenhash._SHIFTS - 1):
        moved = tokenhash._shifted(registers, n)
        for r, m in zip(registers.tolist(), moved.tolist(), strict=True):
            # zlib's value is the complement of the register
            assert zlib.crc32(bytes(n), ~r & 0xFFFFFFFF) == ~m & 0xFFFFFFFF


@pytest.mark.parametrize("top", [1 << 17, 1 << 32, 1 << 40])
def test_feature_keys_are_counted_as_np_unique_counts_them(top):
    """The radix path (keys below 2^32) and the fallback give np.unique's keys and counts."""
    rng = np.random.default_rng(top)
    for size in (0, 1, 2, 1000, 70_000):
        keys = rng.integers(0, top, size=size, dtype=np.int64)
        keys = np.concatenate([keys, keys[: size // 3]])  # repeats to count
        found, counts = _counted(keys)
        want, want_counts = np.unique(keys, return_counts=True)
        assert found.tolist() == want.tolist()
        assert counts.tolist() == want_counts.tolist()
