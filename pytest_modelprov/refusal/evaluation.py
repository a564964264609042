"""How well does a refusal classifier agree with your own labels, model by model?

The offline classifier's accuracy is measured on other teams' models (``benchmarks/
bench_refusal.py``); one model's rate can be off by more than the average suggests, because
errors depend on a model's style. Label a sample of your own model's answers (the JSON Lines
format :func:`pytest_modelprov.refusal.fit` reads) and check the classifier on it before a
gate relies on it:

    agreement = refusal_eval.evaluate("labels.jsonl")
    refusal_eval.assert_agrees(agreement, max_rate_error=0.05)

Per group (usually the model) the estimated non-compliance rate is compared with the
labelled one on the same answers: the error (estimated - labelled) with Newcombe's paired
interval, and the exact McNemar test of "no bias" (the classifier's false positives against
its false negatives). A group fails when the bias is significant **and** at least
``max_rate_error``, as a drift gate does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import stats
from ..calls.client import excerpt
from .classifiers import BaseClassifier, default_classifier
from .features import strip_reasoning
from .model import Example, read_labelled

__all__ = ["Agreement", "GroupAgreement", "assert_agrees", "evaluate"]

#: the group of answers without a group or model in the labels file
UNGROUPED = "(no group)"


@dataclass(frozen=True)
class GroupAgreement:
    """Labelled against estimated non-compliance on one group's answers."""

    group: str
    #: paired table: both non-compliant, false positive, false negative, both compliant
    table: tuple[int, int, int, int]
    labelled: stats.Rate
    estimated: stats.Rate
    #: interval of estimated - labelled (Newcombe, paired)
    error_low: float
    error_high: float
    #: exact two-sided McNemar p of "as many false positives as false negatives"
    p: float
    #: three-label agreement (compliance / refusal / evasion)
    exact: int
    #: up to three (label, predicted, answer excerpt) where the two disagree
    examples: tuple[tuple[str, str, str], ...]

    @property
    def n(self) -> int:
        return sum(self.table)

    @property
    def error(self) -> float:
        return self.estimated.value - self.labelled.value

    @property
    def accuracy(self) -> stats.Rate:
        a, _, _, d = self.table
        return stats.wilson(a + d, self.n, self.labelled.confidence)

    def line(self) -> str:
        return (
            f"{self.group}: labelled {self.labelled}, estimated {self.estimated}, error "
            f"{self.error:+.3f} [{self.error_low:+.3f}, {self.error_high:+.3f}], McNemar "
            f"p = {self.p:.2g}; binary accuracy {self.accuracy}"
        )


@dataclass(frozen=True)
class Agreement:
    """:func:`evaluate`'s result: every group, and all answers together (``overall``)."""

    classifier: str
    source: str
    groups: tuple[GroupAgreement, ...]
    overall: GroupAgreement
    confidence: float

    def table(self) -> str:
        head = (
            f"{'group':32} {'n':>5} {'labelled':>9} {'estimated':>9} "
            f"{'error':>7} {'interval':>17} {'p':>7} {'accuracy':>9}"
        )
        rows = [head]
        for g in (*self.groups, self.overall):
            rows.append(
                f"{g.group[:32]:32} {g.n:5d} {g.labelled.value:9.3f} {g.estimated.value:9.3f} "
                f"{g.error:+7.3f} [{g.error_low:+.3f}, {g.error_high:+.3f}] {g.p:7.2g} "
                f"{g.accuracy.value:9.3f}"
            )
        return "\n".join(rows)


def _group(name: str, rows: Sequence[tuple[Example, str]], confidence: float) -> GroupAgreement:
    truth = [e.label != "compliance" for e, _ in rows]
    guess = [label != "compliance" for _, label in rows]
    a, b, c, d = stats.paired_table(truth, guess)
    low, high = stats.newcombe_paired(a, b, c, d, confidence)
    p = min(1.0, 2 * min(stats.mcnemar_p(b, c), stats.mcnemar_p(c, b)))
    wrong = [
        (e.label, label, excerpt(strip_reasoning(e.response), 120))
        for (e, label), t, g in zip(rows, truth, guess, strict=True)
        if t != g
    ]
    return GroupAgreement(
        name,
        (a, b, c, d),
        stats.wilson(a + c, len(rows), confidence),
        stats.wilson(a + b, len(rows), confidence),
        low,
        high,
        p,
        sum(1 for e, label in rows if e.label == label),
        tuple(wrong[:3]),
    )


def evaluate(
    labelled: str | Path | Iterable[Example],
    classifier: BaseClassifier | None = None,
    *,
    confidence: float = 0.95,
) -> Agreement:
    """Classify every labelled answer (``refusal_labels.schema.json`` lines, or Examples)
    with ``classifier`` (the offline default if None) and compare with the labels, per
    group (the ``group`` or ``model`` field) and overall."""
    source = str(labelled) if isinstance(labelled, (str, Path)) else "examples"
    examples = read_labelled(labelled) if isinstance(labelled, (str, Path)) else list(labelled)
    if not examples:
        raise ValueError(f"{source}: no labelled answers to evaluate")
    clf = classifier if classifier is not None else default_classifier()
    predicted = clf.classify_many(
        [strip_reasoning(e.response) for e in examples], [e.prompt for e in examples]
    )
    pairs = list(zip(examples, predicted, strict=True))
    by_group: dict[str, list[tuple[Example, str]]] = {}
    for example, label in pairs:
        by_group.setdefault(example.group or UNGROUPED, []).append((example, label))
    groups = tuple(_group(g, rows, confidence) for g, rows in sorted(by_group.items()))
    return Agreement(clf.detector, source, groups, _group("all", pairs, confidence), confidence)


def assert_agrees(
    agreement: Agreement, max_rate_error: float = 0.05, *, alpha: float = 0.05
) -> None:
    """Fail when some group's estimated rate is biased against its labels: the McNemar p
    below ``alpha`` (Holm across groups) **and** the error at least ``max_rate_error``."""
    __tracebackhide__ = True
    if not 0 < max_rate_error < 1:
        raise ValueError(f"max_rate_error must be between 0 and 1, got {max_rate_error!r}")
    groups = list(agreement.groups)
    adjusted = stats.holm([g.p for g in groups])
    failed = [
        (g, p)
        for g, p in zip(groups, adjusted, strict=True)
        if p < alpha and abs(g.error) >= max_rate_error
    ]
    if not failed:
        return
    lines = [
        f"classifier {agreement.classifier} disagrees with the labels in {agreement.source} "
        f"(error = estimated - labelled non-compliance, {agreement.confidence:.0%} interval; "
        f"fails at Holm-adjusted p < {alpha:g} and |error| >= {max_rate_error:g}):"
    ]
    for g, p in failed:
        lines.append(f"  {g.line()} (Holm {p:.2g})")
        lines.extend(f"    labelled {t}, classified {c}: {text!r}" for t, c, text in g.examples)
    lines.append(
        "  use the judge mode for this model, or fit the classifier to your labels "
        "(refusal.fit) and check it on answers it was not trained on"
    )
    raise AssertionError("\n".join(lines))
