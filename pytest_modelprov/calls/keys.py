"""Cache keys: the sha256 of canonical JSON over everything that can change an answer.

A key covers a schema version, the endpoint, the model id, the messages, every generation
parameter and the replicate index; nothing else (not the API key, headers, timeouts, retry
or concurrency settings), so changing those never invalidates a recording.
:class:`KeyBuilder` computes the keys of many replicates of one request at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

KEY_SCHEMA_VERSION = 1


Message = Mapping[str, Any]


def _normalise(value: Any) -> Any:
    # exact-type fast paths first: planning a warm run normalises every message
    kind = type(value)
    if kind is str:
        return value
    if kind is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        return dict(value)  # a plain text message
    if kind is list:
        return [_normalise(v) for v in value]
    # 1 and 1.0 must give the same key: a temperature typed either way is the same request.
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be part of a cache key")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    raise TypeError(f"{type(value).__name__} cannot be part of a cache key: {value!r}")


# one encoder for every key: json.dumps with options builds a new encoder per call
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@functools.lru_cache(maxsize=256)
def _dumps_str(text: str) -> str:
    return _dumps(text)


_encode_string = json.encoder.encode_basestring  # the C escaper json.dumps uses here


def _messages_json(messages: list[Any]) -> str:
    """``_dumps(messages)``, without the encoder for the usual one-user-message prompt."""
    if len(messages) == 1:
        only = messages[0]
        if (
            type(only) is dict
            and len(only) == 2
            and type(only.get("content")) is str
            and type(only.get("role")) is str
        ):
            return (
                f'[{{"content":{_encode_string(only["content"])},'
                f'"role":{_encode_string(only["role"])}}}]'
            )
    return str(_dumps(messages))


def canonical_json(value: Any) -> str:
    return str(_dumps(_normalise(value)))


class CacheKey:
    """A key and the components it was computed from (for `modelprov cache key`).

    The components are assembled only when asked for (storing an entry, `cache key`): a
    replay needs just the digest.
    """

    __slots__ = ("_components", "_parts", "digest")

    def __init__(
        self,
        digest: str,
        components: dict[str, Any] | None = None,
        *,
        parts: tuple[KeyBuilder, Any, int] | None = None,
    ) -> None:
        self.digest = digest
        self._components = components
        self._parts = parts

    @property
    def components(self) -> dict[str, Any]:
        if self._components is None:
            assert self._parts is not None
            builder, norm, replicate = self._parts
            self._components = {
                "v": KEY_SCHEMA_VERSION,
                "endpoint": builder.endpoint,
                "model": builder.model,
                "messages": builder.messages,
                "params": norm,
                "replicate": replicate,
            }
        return self._components

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CacheKey) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"CacheKey({self.digest[:16]}…)"


class KeyBuilder:
    """Keys for the replicates of one prompt; the messages are serialised once.

    The text hashed is exactly ``canonical_json(components)``, assembled from pieces
    because warm runs spend most of their time here.
    """

    def __init__(self, endpoint: str, model: str, messages: Sequence[Message]) -> None:
        self.endpoint = endpoint
        self.model = model
        if (
            len(messages) == 1
            and type(messages[0]) is dict
            and all(type(k) is str and type(v) is str for k, v in messages[0].items())
        ):
            self.messages = [dict(messages[0])]  # one plain message: nothing to normalise
        else:
            self.messages = _normalise(list(messages))
        # the keys of the components, in sorted order: endpoint, messages, model, params, ...
        self._head = (
            f'{{"endpoint":{_dumps_str(endpoint)},"messages":{_messages_json(self.messages)},'
            f'"model":{_dumps_str(model)},"params":'
        )

    @staticmethod
    def params_part(params: Mapping[str, Any]) -> tuple[Any, str]:
        """The normalised parameters and their canonical JSON, reusable across prompts."""
        norm = _normalise(dict(params))
        return norm, str(_dumps(norm))

    def key(self, params: Mapping[str, Any], replicate: int) -> CacheKey:
        return self.key_of(self.params_part(params), replicate)

    def key_of(self, part: tuple[Any, str], replicate: int) -> CacheKey:
        norm, text_params = part
        replicate = int(replicate)
        text = f'{self._head}{text_params},"replicate":{replicate},"v":{KEY_SCHEMA_VERSION}}}'
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        key: CacheKey = _new_object(CacheKey)  # without __init__: one per planned call
        key.digest, key._components, key._parts = digest, None, (self, norm, replicate)
        return key


def make_key(
    *,
    endpoint: str,
    model: str,
    messages: Sequence[Message],
    params: Mapping[str, Any],
    replicate: int,
) -> CacheKey:
    return KeyBuilder(endpoint, model, messages).key(params, replicate)


def key_of_components(components: Mapping[str, Any]) -> str:
    # surrogatepass as in KeyBuilder: a prompt with a lone surrogate has a key there too
    text = canonical_json(components)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_new_tuple: Any = tuple.__new__


_new_object: Any = object.__new__
