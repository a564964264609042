"""Fingerprint: per-prompt counts of a text set's words, bigrams and trigrams (numpy).

A fingerprint of sampled answers (:meth:`Fingerprint.deferred`, what
``lexical.fingerprint`` returns) tokenises and counts only when something reads its counts:
a comparison whose result the run's result cache holds (:mod:`.replay`) never does.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..util import schema
from ..util.safejson import loads as json_loads
from ..util.strictschema import Validator
from . import replay

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .record import Handle

    IntArray = npt.NDArray[np.int64]

SCHEMA_ID = "pytest-modelprov/lexical-fingerprint"
FORMAT_VERSION = 1
KIND_NAMES = {1: "word", 2: "bigram", 3: "trigram"}
#: what a deferred fingerprint computes on first use (the rest it knows from the start)
DEFERRED = ("features", "counts", "tokens", "texts")


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
    handle: Handle | None = field(default=None, repr=False)
    #: (prompt id, text) pairs kept only in memory, to quote in failure messages
    examples: list[tuple[str, str]] = field(default_factory=list, repr=False)
    #: the generation parameters the texts were sampled with (None: not recorded)
    params: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # derived from ``features`` on first use and shared by subsets (bootstrap resamples)
        self._kinds: npt.NDArray[np.int8] | None = None
        self._lookup: dict[str, int] | None = None
        self._content: npt.NDArray[np.bool_] | None = None
        self._human: npt.NDArray[np.float64] | None = None
        # a deferred fingerprint: (texts, prompt of each) not yet counted, with its limits
        self._pending: tuple[list[str], list[str]] | None = None
        self._limits: Limits | None = None
        # the answers it was made of, ``(cache key, text)``, and the objects it held then:
        # what the result cache keys its comparisons on (see :meth:`replay_side`)
        self._answers: list[tuple[str, str]] | None = None
        self._origin: tuple[Any, ...] = ()
        # and what those objects held then (lists and arrays can change in place)
        self._snapshot: tuple[Any, ...] = ()

    if not TYPE_CHECKING:  # at run time only: mypy keeps checking every other attribute

        def __getattr__(self, name: str) -> Any:
            # called only for attributes not set: a deferred fingerprint's counts
            if name in DEFERRED and self.__dict__.get("_pending") is not None:
                self._build()
                return self.__dict__[name]
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def deferred(
        cls,
        texts: Iterable[str],
        prompts: Iterable[object],
        *,
        name: str = "",
        model: str = "",
        part: str = "answer",
        limits: Limits | None = None,
        answers: Sequence[str] | None = None,
    ) -> Fingerprint:
        """:meth:`from_texts`, counted on first use: until something reads the counts (a
        distance computed, ``to_dict``, ``repr``) it holds the texts only.

        ``answers``: the cache key of each text, which lets a comparison of this
        fingerprint be replayed from the run's result cache (:meth:`replay_side`). Texts
        with no words at all are refused when the counts are first needed, with
        :meth:`from_texts`'s error.
        """
        text_list = list(texts)
        prompt_list = [_prompt_id(p) for p in prompts]
        if len(prompt_list) != len(text_list):
            raise ValueError(
                f"Fingerprint.deferred: {len(text_list)} texts but "
                f"{len(prompt_list)} prompt ids; give one prompt id per text"
            )
        for i, t in enumerate(text_list):
            if not isinstance(t, str):
                raise TypeError(f"Fingerprint.deferred: text {i} is {type(t).__name__}")
        if not text_list:
            raise ValueError("Fingerprint.deferred: no texts given")
        if answers is not None and len(answers) != len(text_list):
            raise ValueError("Fingerprint.deferred: give one answer cache key per text")
        fp = cls.__new__(cls)
        # every field but the DEFERRED ones, which __getattr__ builds when first read
        fp.prompt_ids = list(dict.fromkeys(prompt_list))
        fp.name, fp.model, fp.part = name, model, part
        fp.handle = None
        fp.examples = list(zip(prompt_list, text_list, strict=True))
        fp.params = None
        fp.__post_init__()
        fp._pending, fp._limits = (text_list, prompt_list), limits
        if answers is not None:
            fp._answers = list(zip(answers, text_list, strict=True))
            fp._origin, fp._snapshot = fp._held(), fp._contents()
        return fp

    def _build(self) -> None:
        """Count a deferred fingerprint's texts (what :meth:`from_texts` does at once)."""
        pending = self._pending
        if pending is None:
            return
        built = Fingerprint.from_texts(
            *pending, name=self.name, model=self.model, part=self.part, limits=self._limits
        )
        untouched = self._unchanged()
        for name in DEFERRED:
            # a field the caller assigned before the first read is kept (the fingerprint is
            # then no longer the one its answers describe: replay_side says None)
            self.__dict__.setdefault(name, built.__dict__[name])
        if all(self.__dict__[name] is built.__dict__[name] for name in DEFERRED):
            self._kinds, self._content = built._kinds, built._content
        self._pending = None
        if untouched:
            self._origin, self._snapshot = self._held(), self._contents()

    def _held(self) -> tuple[Any, ...]:
        return tuple(self.__dict__.get(name) for name in (*DEFERRED, "prompt_ids", "examples"))

    def _contents(self) -> tuple[Any, ...]:
        """What the fields hold: copies of the lists, a checksum of each array's bytes
        (an accidental edit is what it guards against; counted arrays only, so a
        fingerprint not yet counted costs no numpy)."""
        lists = tuple(
            None if self.__dict__.get(name) is None else list(self.__dict__[name])
            for name in ("features", "prompt_ids", "examples")
        )
        arrays: list[Any] = []
        for name in ("counts", "tokens", "texts"):
            value: Any = self.__dict__.get(name)
            if hasattr(value, "tobytes"):  # ~1 ms for 36 prompts x 7000 features
                flat = value if value.flags.c_contiguous else value.tobytes()
                value = (value.shape, str(value.dtype), zlib.crc32(flat))
            arrays.append(value)
        return lists + tuple(arrays)

    def _unchanged(self) -> bool:
        """Every field holds the object it held when the fingerprint was made (or built),
        and that object what it held then."""
        held = self._held()
        return (
            len(held) == len(self._origin)
            and all(a is b for a, b in zip(held, self._origin, strict=True))
            and self._contents() == self._snapshot
        )

    def replay_side(self) -> tuple[dict[str, Any], list[tuple[str, str]]] | None:
        """What the result cache keys a comparison of this fingerprint on: its description
        (names, part, limits, the prompt of every text, how many texts, generation
        parameters) and its answers ``(cache key, text)``; None when it cannot be replayed
        (made from texts or a file, a subset, or a field reassigned or edited in place
        since it was sampled)."""
        if self._answers is None or not self._unchanged():
            return None
        # as JSON, not joined: a prompt id may hold any character, and ["a\0b"] must not
        # read as ["a", "b"] (the answers of two fingerprints, split between them otherwise)
        ids = json.dumps([prompt for prompt, _ in self.examples], ensure_ascii=False)
        side = {
            "name": self.name,
            "model": self.model,
            "part": self.part,
            "limits": dataclasses.asdict(self._limits or Limits()),
            "prompts": hashlib.sha256(ids.encode("utf-8", "surrogatepass")).hexdigest(),
            "answers": len(self._answers),
            "params": self.params,
        }
        return side, self._answers

    @property
    def kinds(self) -> npt.NDArray[np.int8]:
        """1, 2 or 3 for each feature: word, bigram or trigram."""
        import numpy as np

        if self._pending is not None:
            self._build()
        if self._kinds is None:
            self._kinds = np.array([f.count(" ") + 1 for f in self.features], np.int8)
        return self._kinds

    @property
    def _index(self) -> dict[str, int]:
        if self._lookup is None:
            self._lookup = {f: i for i, f in enumerate(self.features)}
        return self._lookup

    def content_mask(self) -> npt.NDArray[np.bool_]:
        """Which features are content words (:func:`content_word`); phrases are not."""
        import numpy as np

        if self._pending is not None:
            self._build()
        if self._content is None:
            pairs = zip(self.kinds.tolist(), self.features, strict=True)
            self._content = np.fromiter(
                (k == 1 and content_word(f) for k, f in pairs),
                np.bool_,
                len(self.features),
            )
        return self._content

    def _derive(self, other: Fingerprint) -> Fingerprint:
        """Share the caches derived from the (same) feature list with ``other``."""
        other._kinds, other._lookup, other._content = self._kinds, self._lookup, self._content
        other._human = self._human
        return other

    def human_baseline(self) -> npt.NDArray[np.float64]:
        """wordfreq's expected frequency of every feature (needs the ``wordfreq`` extra)."""
        if self._human is None:
            from .anchor import human_baseline

            self._human = human_baseline(self.features)
        return self._human

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
        import numpy as np

        # the counting code, here and not at the top: a comparison replayed from the result
        # cache never counts (nor loads it)
        from .counting import group as _group
        from .counting import select as _select
        from .text import function_word_hashes, function_words, is_cjk_points, tokenise_many

        limits = limits or Limits()
        text_list = list(texts)
        if prompts is None:
            # each text its own prompt, named by its text: numbering them 0..n-1 would make
            # any two such fingerprints look as if they answered the same prompts
            prompt_list = [
                "text:" + hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest()[:16]
                for t in text_list
            ]
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

        # the whole corpus is tokenised in one vectorised pass; tokens are 64-bit hashes
        toks = tokenise_many(text_list)
        if not toks.alpha.any():
            raise ValueError(
                f"Fingerprint.from_texts: the {len(text_list)} texts contain no words "
                "(letters of any script; CJK is counted by character): nothing to fingerprint"
            )
        hashed, vocab_h, _ = _group(toks.hashes)
        first = np.full(vocab_h.size, len(toks), np.int64)
        np.minimum.at(first, hashed, np.arange(len(toks)))
        # ids numbered in order of first occurrence, so ties in the selection are broken
        # the same way whatever the hashes are
        by_first = np.argsort(first)
        rank = np.empty(by_first.size, np.int64)
        rank[by_first] = np.arange(by_first.size)
        ids = rank[hashed]
        first, vocab_h = first[by_first], vocab_h[by_first]
        v = np.int64(vocab_h.size)
        doc = toks.docs
        rows = text_rows[doc]
        tokens = np.bincount(rows, minlength=n_rows).astype(np.int64)
        n_texts = np.bincount(text_rows, minlength=n_rows).astype(np.int64)

        # punctuation marks count as words (markdown and dashes are style) but never join phrases
        func = np.isin(vocab_h, function_word_hashes())
        is_stop = ~toks.alpha[first] | func
        keep = ~is_stop[ids]
        cids, cdoc = ids[keep], doc[keep]

        words, word_counts = _select(
            ids, rows, n_rows, limits.words, limits.min_prompts, dense=int(v)
        )
        same = cdoc[1:] == cdoc[:-1]
        bi_keys = (cids[:-1] * v + cids[1:])[same]
        bi_rows = text_rows[cdoc[1:][same]]
        bigrams, bi_counts = _select(bi_keys, bi_rows, n_rows, limits.bigrams, limits.min_prompts)
        same3 = same[1:] & same[:-1]
        if v < 2_000_000:  # v**3 fits in int64
            tri_keys = ((cids[:-2] * v + cids[1:-1]) * v + cids[2:])[same3]
        else:  # keys from bigram ranks, so they never overflow for any vocabulary
            pair_uniq, pair_rank = np.unique(cids[:-1] * v + cids[1:], return_inverse=True)
            tri_keys = (pair_rank[:-1] * v + cids[2:])[same3]
        tri_rows = text_rows[cdoc[2:][same3]]
        trigrams, tri_counts = _select(
            tri_keys, tri_rows, n_rows, limits.trigrams, limits.min_prompts
        )

        n = int(v)
        kept = np.unique(
            np.concatenate(
                [words, bigrams // n, bigrams % n]
                + ([trigrams // (n * n), trigrams // n % n, trigrams % n] if n < 2_000_000 else [])
            )
        )
        if n >= 2_000_000:
            pairs = pair_uniq[trigrams // n]
            kept = np.unique(np.concatenate([kept, pairs // n, pairs % n, trigrams % n]))
        spelled = dict(zip(kept.tolist(), toks.strings(first[kept]), strict=True))
        spell = spelled.__getitem__
        features = [spell(i) for i in words.tolist()]
        features += [f"{spell(k // n)} {spell(k % n)}" for k in bigrams.tolist()]
        for k in trigrams.tolist():
            if n < 2_000_000:
                a, b, c = k // (n * n), k // n % n, k % n
            else:
                pair = int(pair_uniq[k // n])
                a, b, c = pair // n, pair % n, k % n
            features.append(f"{spell(a)} {spell(b)} {spell(c)}")
        counts = np.concatenate([word_counts, bi_counts, tri_counts], axis=1)
        examples = list(zip(prompt_list, text_list, strict=True))
        fp = cls(
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
        fp._kinds = np.repeat(
            np.array([1, 2, 3], np.int8), [words.size, bigrams.size, trigrams.size]
        )
        # content_word() of every word, from what the tokeniser knows (a per-feature string
        # test was a tenth of the anchor set's cost); hash matches are confirmed by string
        at = toks.starts[first[words]]
        content = is_cjk_points(toks.folded[at]) | (toks.ends[first[words]] - at >= 4)
        stop = np.flatnonzero(func[words] & content)
        content[stop] = [spell(i) not in function_words() for i in words[stop].tolist()]
        fp._content = np.concatenate([content, np.zeros(bigrams.size + trigrams.size, bool)])
        return fp

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
        import numpy as np

        idx = np.asarray(rows, np.int64)
        sub = Fingerprint(
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
        return self._derive(sub)

    def halves(self) -> tuple[Fingerprint, Fingerprint]:
        """Even and odd prompts: the split-half the noise floor is measured on."""
        import numpy as np

        rows = np.arange(self.n_prompts)
        if self.n_prompts < 2:
            raise ValueError(f"{self.label}: a split-half needs at least 2 prompts")
        return self.subset(rows[0::2]), self.subset(rows[1::2])

    def distance(self, other: Fingerprint, method: str = "delta", unit: str = "spread") -> float:
        """Distance to ``other`` in [0, 1]: ``delta`` (default; ``unit="frequency"`` for the
        scale that means the same in every genre, not capped at 1), ``profile`` or ``jaccard``.

        The same as :func:`pytest_modelprov.lexical.distance`: a single number, recorded as
        an ``info`` measurement of the running test (the assertions in
        :mod:`pytest_modelprov.lexical` add intervals and verdicts).
        """
        return replay.distance(self, other, method, unit, stacklevel=3)

    def top(
        self, kind: str = "word", k: int = 20, background: Fingerprint | None = None
    ) -> list[tuple[str, float, int]]:
        """The ``k`` most over-used features of a kind: ``(feature, score, count)``.

        See :func:`pytest_modelprov.lexical.scores` for what the score is.
        """
        from . import distances

        return distances.ranked(self, kind, k, background)

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        import numpy as np

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
        data = {
            "schema": SCHEMA_ID,
            "version": FORMAT_VERSION,
            "name": self.name,
            "model": self.model,
            "part": self.part,
            "features": list(self.features),
            "prompts": rows,
        }
        if self.params is not None:
            data["params"] = self.params
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any, source: str = "fingerprint JSON") -> Fingerprint:
        """Validate against ``schemas/fingerprint.schema.json`` and rebuild.

        The schema checks the structure; the large arrays (feature strings, per-prompt
        indices and counts) are checked with numpy against the same rules, because a schema
        validator took ~2 s per MB on them (jsonschema did).
        """
        import numpy as np

        def bad(where: str, message: str) -> ConfigError:
            return ConfigError(
                f"{source} is not a valid lexical fingerprint at {where}: {message}. "
                "Re-create it with Fingerprint.save()"
            )

        found = schema.problems_of(_light_validator(), data)
        if found:
            raise bad(*found[0])
        features = data["features"]
        _check_features(features, bad)
        prompts = data["prompts"]
        cols = _int_array(prompts, "features", bad)
        counts_flat = _int_array(prompts, "counts", bad)
        sizes = np.fromiter((len(row["features"]) for row in prompts), np.int64, len(prompts))
        for r, row in enumerate(prompts):
            if len(row["features"]) != len(row["counts"]):
                raise ConfigError(
                    f"{source}: prompt {r} ({row['id']!r}) has feature indices that do not "
                    f"match its counts or the {len(features)} features. Re-create the file"
                )
        for name, values, low in (("counts", counts_flat, 1), ("features", cols, 0)):
            wrong = np.flatnonzero(values < low)
            if wrong.size:
                r, i = _locate(sizes, int(wrong[0]))
                raise bad(f"prompts/{r}/{name}/{i}", f"{values[wrong[0]]} is less than {low}")
        beyond = np.flatnonzero(cols >= len(features))
        if beyond.size:
            r, _ = _locate(sizes, int(beyond[0]))
            raise ConfigError(
                f"{source}: prompt {r} ({prompts[r]['id']!r}) has feature indices that do not "
                f"match its counts or the {len(features)} features. Re-create the file"
            )
        counts = np.zeros((len(prompts), len(features)), np.int64)
        counts[np.repeat(np.arange(len(prompts)), sizes), cols] = counts_flat
        return cls(
            features=list(features),
            counts=counts,
            prompt_ids=[row["id"] for row in prompts],
            tokens=np.array([row["tokens"] for row in prompts], np.int64),
            texts=np.array([row["texts"] for row in prompts], np.int64),
            name=data.get("name", ""),
            model=data.get("model", ""),
            part=data.get("part", "answer"),
            params=dict(data["params"]) if data.get("params") is not None else None,
        )

    @classmethod
    def from_json(cls, text: str, source: str = "fingerprint JSON") -> Fingerprint:
        try:
            data = json_loads(text)
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
        except UnicodeDecodeError:
            raise ConfigError(
                f"fingerprint file {target} is not UTF-8 text; re-create it with Fingerprint.save()"
            ) from None
        return cls.from_json(text, source=f"fingerprint file {target}")


def pooled(fps: Sequence[Fingerprint], name: str = "pool") -> Fingerprint:
    """One fingerprint of all the texts of several (a background to score against)."""
    import numpy as np

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
    text = _text()
    if text.is_cjk(feature):
        return True
    return len(feature) >= 4 and feature not in text.function_words()


@lru_cache(maxsize=1)
def _text() -> ModuleType:
    # the tokeniser's module on first use, not at import: a replayed comparison never needs
    # it, and an import statement per call made content_word 3x slower (it runs per word)
    from . import text

    return text


@lru_cache(maxsize=1)
def _schema() -> Mapping[str, Any]:
    path = files("pytest_modelprov").joinpath("schemas/fingerprint.schema.json")
    data: Mapping[str, Any] = json_loads(path.read_text(encoding="utf-8"))
    return data


#: the arrays the schema marks ``"x-checked-by": "numpy"``: validated in from_dict instead
_FEATURE = re.compile(r"[^ ]+(?: [^ ]+){0,2}")


@lru_cache(maxsize=1)
def _light_validator() -> Validator:
    return Validator(_light_schema(), "schemas/fingerprint.schema.json (light)")


@lru_cache(maxsize=1)
def _light_schema() -> Mapping[str, Any]:
    """The schema with the items of its large arrays left to numpy (see from_dict)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("x-checked-by") == "numpy":
                return {"type": node["type"]}
            return {k: strip(v) for k, v in node.items()}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    light: Mapping[str, Any] = strip(copy.deepcopy(dict(_schema())))
    return light


def _check_features(features: list[Any], bad: Callable[[str, str], ConfigError]) -> None:
    # the rules of the schema's feature items: a non-empty string of 1-3 space-joined parts
    for i, f in enumerate(features):
        if not isinstance(f, str):
            raise bad(f"features/{i}", f"{f!r} is not of type 'string'")
        if _FEATURE.fullmatch(f) is None:
            raise bad(f"features/{i}", f"{f!r} is not 1-3 words joined by single spaces")


def _int_array(
    prompts: list[dict[str, Any]], key: str, bad: Callable[[str, str], ConfigError]
) -> IntArray:
    """All prompts' ``key`` lists as one int64 array, or a ConfigError naming the first
    element that is not an integer."""
    import numpy as np

    flat = [x for row in prompts for x in row[key]]
    # JSON true/false would pass as 1/0 in numpy: check the Python types first
    plain = set(map(type, flat)) <= {int}
    values = np.array(flat) if flat and plain else np.zeros(0, np.int64)
    if not plain or values.dtype.kind not in "iu":
        for r, row in enumerate(prompts):
            for i, x in enumerate(row[key]):
                if type(x) is not int:
                    raise bad(f"prompts/{r}/{key}/{i}", f"{x!r} is not of type 'integer'")
        raise bad(f"prompts/*/{key}", "integers out of range")
    return values.astype(np.int64)


def _locate(sizes: IntArray, flat_index: int) -> tuple[int, int]:
    """(row, index within the row) of an index into the rows' concatenated lists."""
    import numpy as np

    ends = np.cumsum(sizes)
    r = int(np.searchsorted(ends, flat_index, side="right"))
    return r, flat_index - int(ends[r] - sizes[r])
