"""ModelHandle: what the model fixtures give a test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from .calls.response import Response, Samples
from .calls.verdicts import VerdictStore
from .comparable import effective_params
from .config import ModelSpec
from .errors import ModelprovError
from .reports.measurement import Measurement
from .session import ModelProvSession

if TYPE_CHECKING:
    from .calls.client import Prompt


class ModelHandle:
    """Sample one configured model from inside a test.

    Failures of the machinery (a replay miss, a call that failed after its retries, an
    unreadable cache entry) fail the test with the plugin's message and no traceback
    into the plugin: the message says what to do, the traceback would not.
    """

    def __init__(self, session: ModelProvSession, spec: ModelSpec, nodeid: str) -> None:
        self._session = session
        self.spec = spec
        self.nodeid = nodeid

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def model(self) -> str:
        return self.spec.model

    @property
    def verdicts(self) -> VerdictStore | None:
        """Where the detectors cache their verdicts in this run (None: not cached)."""
        return self._session.verdict_store()

    def __repr__(self) -> str:
        return f"<ModelHandle {self.spec.name}: {self.spec.model} at {self.spec.display_url}>"

    def sample(self, prompts: Prompt | Sequence[Prompt], n: int = 1, **params: Any) -> Samples:
        """Answers to every prompt, ``n`` samples each (each sample its own cache entry).

        ``prompts`` is a string, one conversation (a list of message dicts) or a list of
        either. ``params`` override the configured generation parameters for this call.
        """
        try:
            client = self._session.client(self.spec)
            calls = client.plan(prompts, n, params)
            responses = self._session.sample(self.spec, calls, self.nodeid)
        except ModelprovError as exc:
            failure = str(exc)
        else:
            return Samples(
                responses,
                prompts=len(calls) // n if calls else 0,
                n=n,
                params=effective_params(self.spec, params),
            )
        # outside the except block: inside it, the failure would print the error twice
        # ("During handling of the above exception, another exception occurred")
        pytest.fail(failure, pytrace=False)

    def sampling_params(self, **params: Any) -> dict[str, Any]:
        """The generation parameters ``sample(..., **params)`` sends: what a result records."""
        return effective_params(self.spec, params)

    def record(self, measurement: Measurement) -> None:
        """Report a measured figure of this model: summary table, JUnit XML, reports."""
        if not measurement.model:
            measurement = replace(measurement, model=self.spec.name)
        self._session.record(self.nodeid, measurement)

    def ask(self, prompt: Prompt, **params: Any) -> Response:
        """One answer to one prompt."""
        return self.sample([prompt] if not isinstance(prompt, str) else prompt, 1, **params)[0]
