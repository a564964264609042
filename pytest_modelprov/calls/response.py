"""What a test gets back from a model: answers with their provenance."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload

from .reasoning import split_message

# finish reasons whose answers are never cached: a filtered stop says nothing stable about
# the model, and a later run should get a fresh sample instead of the filter's blank
UNCACHEABLE_FINISH = frozenset({"content_filter"})


class InvalidResponse(ValueError):
    """The server answered 200 with something that is not a usable chat completion."""


def check_completion(body: Any) -> None:
    """Raise InvalidResponse unless body looks like a chat.completion with a message."""
    if not isinstance(body, dict):
        raise InvalidResponse(f"body is {type(body).__name__}, not a JSON object")
    if "error" in body and "choices" not in body:
        err = body["error"]
        message = err.get("message") if isinstance(err, dict) else err
        raise InvalidResponse(f"error in a 200 response: {message}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise InvalidResponse("no choices in the response")
    first = choices[0]
    if not isinstance(first, dict) or not isinstance(first.get("message"), dict):
        raise InvalidResponse("the first choice has no message")


def unusable_answer(body: Mapping[str, Any]) -> str | None:
    """Why the first choice of a checked completion holds no usable answer, or None.

    Empty text, a message of reasoning only, and content that is not text (a number, an
    object) say nothing about the model and would dilute every rate they are counted in;
    they are retried like a broken response. A tool call is an answer, and so is a stop
    by the content filter (refusal measurements count it).
    """
    choice = body["choices"][0]
    message = choice["message"]
    if message.get("tool_calls") or choice.get("finish_reason") in UNCACHEABLE_FINISH:
        return None
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal.strip():
        return None  # the API's structured refusal: an answer in its own field
    content = message.get("content")
    if content is not None and not isinstance(content, (str, list)):
        return f"the answer is {type(content).__name__}, not text"
    answer, reasoning = split_message(message)
    if not answer.strip():
        return "the answer is empty" + (" (reasoning only)" if reasoning else "")
    return None


class Usage(NamedTuple):
    """Token counts of one answer (a NamedTuple: replays build one per cached answer)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_body(cls, usage: Any) -> Usage:
        if not isinstance(usage, Mapping):
            return cls()
        details = usage.get("completion_tokens_details")
        reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
        return cls(
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")),
            reasoning_tokens=_int(reasoning),
        )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class Response:
    """One sampled answer.

    ``answer`` is the final answer with any reasoning removed; ``reasoning`` is the trace
    (from ``reasoning_content``/``reasoning`` or a ``<think>`` block), or None.
    """

    answer: str
    reasoning: str | None
    messages: tuple[Mapping[str, Any], ...]
    prompt_index: int
    replicate: int
    finish_reason: str | None
    model: str | None
    requested_model: str
    system_fingerprint: str | None
    usage: Usage
    cached: bool
    key: str
    # a replayed body is decoded from the cache only when ``raw`` is read
    body: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def raw(self) -> dict[str, Any]:
        """The response body as the server sent it (a plain dict: JSON-serialisable)."""
        body = self.body
        return body if isinstance(body, dict) else dict(body)

    @property
    def prompt(self) -> str:
        """Text of the last user message (what a failure message should quote)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, str):
                    return content
                if isinstance(content, list):
                    return "".join(
                        str(p.get("text", "")) for p in content if isinstance(p, Mapping)
                    )
        return ""

    @property
    def tool_calls(self) -> list[Any]:
        calls = self.body["choices"][0]["message"].get("tool_calls")
        return calls if isinstance(calls, list) else []

    @property
    def cacheable(self) -> bool:
        """An answer worth replaying: text or tool calls, and not stopped by a filter."""
        has_answer = bool(self.answer.strip()) or bool(self.tool_calls)
        return has_answer and self.finish_reason not in UNCACHEABLE_FINISH

    @classmethod
    def from_body(
        cls,
        body: Mapping[str, Any],
        *,
        messages: Sequence[Mapping[str, Any]],
        prompt_index: int,
        replicate: int,
        requested_model: str,
        cached: bool,
        key: str,
    ) -> Response:
        choice = body["choices"][0]
        answer, reasoning = split_message(choice["message"])
        return cls(
            answer=answer,
            reasoning=reasoning,
            messages=tuple(messages),
            prompt_index=prompt_index,
            replicate=replicate,
            finish_reason=choice.get("finish_reason"),
            model=body.get("model") if isinstance(body.get("model"), str) else None,
            requested_model=requested_model,
            system_fingerprint=body.get("system_fingerprint")
            if isinstance(body.get("system_fingerprint"), str)
            else None,
            usage=Usage.from_body(body.get("usage")),
            cached=cached,
            key=key,
            body=body,
        )

    @classmethod
    def replayed(
        cls,
        *,
        answer: str,
        reasoning: str | None,
        messages: tuple[Mapping[str, Any], ...],
        prompt_index: int,
        replicate: int,
        finish_reason: str | None,
        model: str | None,
        requested_model: str,
        system_fingerprint: str | None,
        usage: Usage,
        key: str,
        body: Mapping[str, Any],
    ) -> Response:
        """A cached answer, built without the frozen-dataclass ``__init__``.

        That ``__init__`` sets each field through ``object.__setattr__`` (~2 µs for these
        thirteen); a warm run builds one Response per cached answer, and this is a quarter
        of that. The instance is the same frozen dataclass afterwards.
        """
        self = object.__new__(cls)
        self.__dict__.update(
            answer=answer,
            reasoning=reasoning,
            messages=messages,
            prompt_index=prompt_index,
            replicate=replicate,
            finish_reason=finish_reason,
            model=model,
            requested_model=requested_model,
            system_fingerprint=system_fingerprint,
            usage=usage,
            cached=True,
            key=key,
            body=body,
        )
        return self


class Samples(Sequence[Response]):
    """Answers to a list of prompts, ordered by prompt, then replicate."""

    def __init__(
        self,
        responses: Sequence[Response],
        prompts: int,
        n: int,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self._responses = list(responses)
        self.prompts = prompts
        self.n = n
        #: the generation parameters the answers were sampled with (configured, then the
        #: call's own; ``seed`` is replicate 0's, replicate i was sent seed + i)
        self.params: dict[str, Any] = dict(params or {})

    @overload
    def __getitem__(self, index: int) -> Response: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Response]: ...
    def __getitem__(self, index: int | slice) -> Response | Sequence[Response]:
        return self._responses[index]

    def __len__(self) -> int:
        return len(self._responses)

    def __iter__(self) -> Iterator[Response]:
        return iter(self._responses)

    def __repr__(self) -> str:
        return f"<Samples {self.prompts} prompts x {self.n} = {len(self)} answers>"

    @property
    def answers(self) -> list[str]:
        return [r.answer for r in self._responses]

    @property
    def reasoning(self) -> list[str | None]:
        return [r.reasoning for r in self._responses]

    def for_prompt(self, index: int) -> list[Response]:
        return [r for r in self._responses if r.prompt_index == index]

    @property
    def cached_fraction(self) -> float:
        return sum(r.cached for r in self._responses) / len(self) if self._responses else 0.0
