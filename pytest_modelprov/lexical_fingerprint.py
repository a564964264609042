"""Fingerprint: per-prompt counts of a text set's words, bigrams and trigrams (numpy)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .errors import ConfigError
from .lexical_text import function_words, is_cjk, tokenise

if TYPE_CHECKING:
    from .handle import ModelHandle

SCHEMA_ID = "pytest-modelprov/lexical-fingerprint"
FORMAT_VERSION = 1
KIND_NAMES = {1: "word", 2: "bigram", 3: "trigram"}

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Limits:
    """How many features a fingerprint keeps of each kind (most frequent first)."""

    words: int = 4000
    bigrams: int = 2000
    trigrams: int = 1000
    #: a feature seen in fewer distinct prompts is dropped: prompt-specific names would
    #: otherwise dominate (relaxed automatically for one-prompt fingerprints)
    min_prompts: int = 2


def _prompt_id(prompt: object) -> str:
    text = str(prompt)
    if len(text) <= 80:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _select(
    keys: IntArray, rows: IntArray, n_rows: int, limit: int, min_prompts: int
) -> tuple[IntArray, IntArray]:
    """Keep the ``limit`` most frequent keys seen in >= ``min_prompts`` rows.

    Returns the kept keys and their dense (rows x kept) count matrix.
    """
    if keys.size == 0 or limit <= 0:
        return np.zeros(0, np.int64), np.zeros((n_rows, 0), np.int64)
    uniq, inverse, totals = np.unique(keys, return_inverse=True, return_counts=True)
    pairs = np.unique(rows * uniq.size + inverse)
    spread = np.bincount(pairs % uniq.size, minlength=uniq.size)
    eligible = np.flatnonzero(spread >= min(min_prompts, n_rows))
    # most frequent first; ties broken by key so the selection is deterministic
    order = eligible[np.lexsort((uniq[eligible], -totals[eligible]))][:limit]
    column = np.full(uniq.size, -1, np.int64)
    column[order] = np.arange(order.size)
    col = column[inverse]
    mask = col >= 0
    flat = np.bincount(rows[mask] * order.size + col[mask], minlength=n_rows * order.size)
    return uniq[order], flat.reshape(n_rows, order.size).astype(np.int64)


@dataclass(eq=False)
class Fingerprint:
    """Which words, bigrams and trigrams a set of texts uses, counted per prompt.

    Build one with :meth:`from_texts`; compare with :meth:`distance`. Counts stay per prompt
    so that intervals can resample prompts and topic can be separated from style.
    """

    features: list[str]
    counts: IntArray  # prompts x features
    prompt_ids: list[str]
    tokens: IntArray  # word tokens per prompt
    texts: IntArray  # texts per prompt
    name: str = ""
    model: str = ""
    part: str = "answer"
    handle: ModelHandle | None = field(default=None, repr=False)
    #: (prompt id, text) pairs kept only in memory, to quote in failure messages
    examples: list[tuple[str, str]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.kinds = np.array([f.count(" ") + 1 for f in self.features], np.int8)
        self._index = {f: i for i, f in enumerate(self.features)}

    # -- building ------------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        prompts: Iterable[object] | None = None,
        *,
        name: str = "",
        model: str = "",
        part: str = "answer",
        limits: Limits | None = None,
    ) -> Fingerprint:
        """Fingerprint ``texts``; ``prompts`` gives each text's prompt (id or text).

        Without ``prompts`` every text counts as its own prompt. Raises ValueError when
        the texts hold no words at all (CJK is read character by character).
        """
        limits = limits or Limits()
        text_list = list(texts)
        if prompts is None:
            prompt_list = [str(i) for i in range(len(text_list))]
        else:
            prompt_list = [_prompt_id(p) for p in prompts]
            if len(prompt_list) != len(text_list):
                raise ValueError(
                    f"Fingerprint.from_texts: {len(text_list)} texts but "
                    f"{len(prompt_list)} prompt ids; give one prompt id per text"
                )
        for i, t in enumerate(text_list):
            if not isinstance(t, str):
                raise TypeError(f"Fingerprint.from_texts: text {i} is {type(t).__name__}")
        if not text_list:
            raise ValueError("Fingerprint.from_texts: no texts given")
        prompt_ids = list(dict.fromkeys(prompt_list))
        row_of = {p: i for i, p in enumerate(prompt_ids)}
        text_rows = np.fromiter((row_of[p] for p in prompt_list), np.int64, len(prompt_list))
        n_rows = len(prompt_ids)

        token_lists = [tokenise(t) for t in text_list]
        lengths = np.fromiter(map(len, token_lists), np.int64, len(token_lists))
        flat = [tok for toks in token_lists for tok in toks]
        if not any(w[0].isalpha() for w in dict.fromkeys(flat)):
            raise ValueError(
                f"Fingerprint.from_texts: the {len(text_list)} texts contain no words "
                "(letters of any script; CJK is counted by character): nothing to fingerprint"
            )
        vocab = list(dict.fromkeys(flat))
        index = {w: i for i, w in enumerate(vocab)}
        ids = np.fromiter(map(index.__getitem__, flat), np.int64, len(flat))
        doc = np.repeat(np.arange(len(text_list)), lengths)
        rows = text_rows[doc]
        tokens = np.bincount(rows, minlength=n_rows).astype(np.int64)
        n_texts = np.bincount(text_rows, minlength=n_rows).astype(np.int64)

        stop = function_words()
        # punctuation marks count as words (markdown and dashes are style) but never join phrases
        is_stop = np.fromiter((w in stop or not w[0].isalpha() for w in vocab), bool, len(vocab))
        keep = ~is_stop[ids]
        cids, cdoc = ids[keep], doc[keep]
        v = np.int64(len(vocab))

        words, word_counts = _select(ids, rows, n_rows, limits.words, limits.min_prompts)
        same = cdoc[1:] == cdoc[:-1]
        bi_keys = (cids[:-1] * v + cids[1:])[same]
        bi_rows = text_rows[cdoc[1:][same]]
        bigrams, bi_counts = _select(bi_keys, bi_rows, n_rows, limits.bigrams, limits.min_prompts)
        # trigram keys built from bigram ranks, so they never overflow int64 for any vocabulary
        same3 = same[1:] & same[:-1]
        pair_keys = cids[:-1] * v + cids[1:]
        pair_uniq, pair_rank = np.unique(pair_keys, return_inverse=True)
        tri_keys = (pair_rank[:-1] * v + cids[2:])[same3]
        tri_rows = text_rows[cdoc[2:][same3]]
        trigrams, tri_counts = _select(
            tri_keys, tri_rows, n_rows, limits.trigrams, limits.min_prompts
        )

        features = [vocab[i] for i in words.tolist()]
        features += [f"{vocab[k // v]} {vocab[k % v]}" for k in bigrams.tolist()]
        for k in trigrams.tolist():
            pair = int(pair_uniq[k // v])
            features.append(f"{vocab[pair // v]} {vocab[pair % v]} {vocab[k % v]}")
        counts = np.concatenate([word_counts, bi_counts, tri_counts], axis=1)
        examples = list(zip(prompt_list, text_list, strict=True))
        return cls(
            features=features,
            counts=counts,
            prompt_ids=prompt_ids,
            tokens=tokens,
            texts=n_texts,
            name=name,
            model=model,
            part=part,
            examples=examples,
        )

    # -- views ---------------------------------------------------------------------------

    @property
    def n_prompts(self) -> int:
        return len(self.prompt_ids)

    @property
    def n_texts(self) -> int:
        return int(self.texts.sum())

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.sum())

    @property
    def label(self) -> str:
        return self.name or self.model or "fingerprint"

    def __repr__(self) -> str:
        return (
            f"<Fingerprint {self.label} ({self.part}): {self.n_texts} texts, "
            f"{self.n_prompts} prompts, {self.n_tokens} words, {len(self.features)} features>"
        )

    def count(self, feature: str) -> int:
        """Total count of a word or phrase ("a b" for a bigram); 0 when not kept."""
        i = self._index.get(feature)
        return 0 if i is None else int(self.counts[:, i].sum())

    def subset(self, rows: Sequence[int] | IntArray) -> Fingerprint:
        """The fingerprint of some prompts only (rows may repeat: a bootstrap resample)."""
        idx = np.asarray(rows, np.int64)
        return Fingerprint(
            features=self.features,
            counts=self.counts[idx],
            prompt_ids=[self.prompt_ids[i] for i in idx.tolist()],
            tokens=self.tokens[idx],
            texts=self.texts[idx],
            name=self.name,
            model=self.model,
            part=self.part,
            handle=self.handle,
        )

    def halves(self) -> tuple[Fingerprint, Fingerprint]:
        """Even and odd prompts: the split-half the noise floor is measured on."""
        rows = np.arange(self.n_prompts)
        if self.n_prompts < 2:
            raise ValueError(f"{self.label}: a split-half needs at least 2 prompts")
        return self.subset(rows[0::2]), self.subset(rows[1::2])

    def top(
        self, kind: str = "word", k: int = 20, background: Fingerprint | None = None
    ) -> list[tuple[str, float, int]]:
        """The ``k`` most over-used features of a kind: ``(feature, score, count)``.

        See :func:`pytest_modelprov.lexical.scores` for what the score is.
        """
        from .lexical_distance import ranked

        return ranked(self, kind, k, background)

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for r, pid in enumerate(self.prompt_ids):
            nz = np.flatnonzero(self.counts[r])
            rows.append(
                {
                    "id": pid,
                    "texts": int(self.texts[r]),
                    "tokens": int(self.tokens[r]),
                    "features": nz.tolist(),
                    "counts": self.counts[r, nz].tolist(),
                }
            )
        return {
            "schema": SCHEMA_ID,
            "version": FORMAT_VERSION,
            "name": self.name,
            "model": self.model,
            "part": self.part,
            "features": list(self.features),
            "prompts": rows,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any, source: str = "fingerprint JSON") -> Fingerprint:
        """Validate against ``schemas/fingerprint.schema.json`` and rebuild."""
        import jsonschema

        try:
            jsonschema.validate(data, _schema())
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
            raise ConfigError(
                f"{source} is not a valid lexical fingerprint at {where}: {exc.message}. "
                "Re-create it with Fingerprint.save()"
            ) from None
        features = data["features"]
        counts = np.zeros((len(data["prompts"]), len(features)), np.int64)
        for r, row in enumerate(data["prompts"]):
            cols = np.asarray(row["features"], np.int64)
            if len(row["features"]) != len(row["counts"]) or (
                cols.size and (cols.min() < 0 or cols.max() >= len(features))
            ):
                raise ConfigError(
                    f"{source}: prompt {r} ({row['id']!r}) has feature indices that do not "
                    f"match its counts or the {len(features)} features. Re-create the file"
                )
            counts[r, cols] = row["counts"]
        return cls(
            features=list(features),
            counts=counts,
            prompt_ids=[row["id"] for row in data["prompts"]],
            tokens=np.array([row["tokens"] for row in data["prompts"]], np.int64),
            texts=np.array([row["texts"] for row in data["prompts"]], np.int64),
            name=data.get("name", ""),
            model=data.get("model", ""),
            part=data.get("part", "answer"),
        )

    @classmethod
    def from_json(cls, text: str, source: str = "fingerprint JSON") -> Fingerprint:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source} is not JSON ({exc}). Re-create it") from None
        return cls.from_dict(data, source)

    def save(self, path: str | Path) -> Path:
        """Write the fingerprint as JSON (commit it; compare later without re-sampling)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_json(), encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | Path) -> Fingerprint:
        target = Path(path)
        try:
            text = target.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read fingerprint file {target}: {exc.strerror}") from None
        return cls.from_json(text, source=f"fingerprint file {target}")


def pooled(fps: Sequence[Fingerprint], name: str = "pool") -> Fingerprint:
    """One fingerprint of all the texts of several (a background to score against)."""
    if not fps:
        raise ValueError("pooled: no fingerprints given")
    features = list(dict.fromkeys(f for fp in fps for f in fp.features))
    col = {f: i for i, f in enumerate(features)}
    counts = np.zeros((sum(fp.n_prompts for fp in fps), len(features)), np.int64)
    start = 0
    for fp in fps:
        cols = np.fromiter((col[f] for f in fp.features), np.int64, len(fp.features))
        counts[start : start + fp.n_prompts, cols] = fp.counts
        start += fp.n_prompts
    return Fingerprint(
        features=features,
        counts=counts,
        prompt_ids=[f"{fp.label}:{p}" for fp in fps for p in fp.prompt_ids],
        tokens=np.concatenate([fp.tokens for fp in fps]),
        texts=np.concatenate([fp.texts for fp in fps]),
        name=name,
    )


def content_word(feature: str) -> bool:
    """A word the anchor method may rank: 4+ letters (any CJK character), not a function word."""
    if is_cjk(feature):
        return True
    return len(feature) >= 4 and feature not in function_words()


@lru_cache(maxsize=1)
def _schema() -> Mapping[str, Any]:
    path = files("pytest_modelprov").joinpath("schemas/fingerprint.schema.json")
    data: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
