"""Which models a run calls: the model under test and the references, resolved from the
settings, and what a ``conftest.py`` fixture override shadows (named, never ignored).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .checks import (
    _split_assignment,
    check_number,
    parse_json_value,
    parse_price,
    validate_params,
)
from .options import (
    OPTIONS_BY_NAME,
    Sources,
    _get,
)
from .settings import (
    _REF_NAME,
    DEFAULT_API_KEY_ENV,
    DEFAULT_BASE_URL,
    REFERENCE_FIELDS,
    Given,
    ModelSpec,
    Price,
    Settings,
    redact_url,
)


def _param_lines(raw: str | list[str] | None) -> list[str]:
    """Lines of KEY=VALUE; the environment variable separates them with newlines or ';'."""
    if raw is None:
        return []
    lines = raw if isinstance(raw, list) else re.split(r"[\n;]", raw)
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _params_from(sources: Sources) -> dict[str, Any]:
    return {key: given.value for key, given in _params_given(sources).items()}


def _params_given(sources: Sources) -> dict[str, Given]:
    option = OPTIONS_BY_NAME["param"]
    merged: dict[str, Given] = {}
    for raw, source in (
        (sources.ini(option), "ini modelprov_params"),
        (sources.env(option), "MODELPROV_PARAMS"),
        (sources.cli(option), "--modelprov-param"),
    ):
        for line in _param_lines(raw):
            key, value = _split_assignment(line, source, "KEY=VALUE")
            merged[key] = Given("params." + key, parse_json_value(value), source, line)
    return merged


def _model_given(sources: Sources) -> tuple[Given, ...]:
    """Every model-under-test setting given, parsed, whether or not a model id is."""
    out = []
    parse: dict[str, Callable[[str, str], Any]] = {
        "model": lambda raw, _: raw.strip(),
        "base_url": lambda raw, _: raw.strip(),
        "api_key_env": lambda raw, _: raw.strip(),
        "endpoint_id": lambda raw, _: raw.strip(),
        "price": parse_price,
        "rpm": lambda raw, source: check_number("rpm", raw, source),
        "tpm": lambda raw, source: check_number("tpm", raw, source),
    }
    for name, convert in parse.items():
        found = _get(sources, name)
        if found:
            raw, source = found
            out.append(Given(name, convert(raw, source), source, f"{name}={raw.strip()}"))
    params = _params_given(sources)
    validate_params({k: g.value for k, g in params.items()}, "modelprov params (model under test)")
    out.extend(params.values())
    return tuple(out)


def _differs(expected: Any, actual: Any, field: str) -> bool:
    if field == "base_url" and isinstance(expected, str) and isinstance(actual, str):
        return expected.rstrip("/") != actual.rstrip("/")
    return bool(expected != actual)


def _field_of(spec: ModelSpec, field: str) -> Any:
    if field.startswith("params."):
        return spec.params.get(field[len("params.") :])
    if field == "price" and isinstance(spec.price, Price):
        return spec.price
    return getattr(spec, field)


def shadowed(
    spec: ModelSpec | None,
    references: Mapping[str, ModelSpec],
    settings: Settings,
    environ: Mapping[str, str],
) -> list[str]:
    """The CLI/env/ini settings a fixture-supplied model spec (or reference dict) leaves unused.

    A setting counts as used when the spec in use has the value it gives, so a fixture
    that starts from the configured spec (or sets the same values) shadows nothing.
    """
    out = []
    for given in settings.model_given:
        if spec is None:
            why = (
                "no model under test is configured (--modelprov-model, MODELPROV_MODEL or "
                "modelprov_model)"
                if settings.model is None
                else "the modelprov_model_spec fixture supplies no model under test"
            )
            out.append(f"{given.describe()} is not used: {why}")
            continue
        actual = _field_of(spec, given.field)
        if _differs(given.value, actual, given.field):
            shown = "not set" if actual is None else repr(_plain(actual))
            out.append(
                f"{given.describe()} is not used: the modelprov_model_spec fixture supplies the "
                f"model under test with {given.field} {shown}"
            )
    configured = resolve_references(settings.reference_fields, spec, environ)
    for given in settings.reference_given:
        name, _, field_name = given.field.partition(".")
        ref = references.get(name)
        if ref is None:
            out.append(
                f"{given.describe()} is not used: the modelprov_references fixture has no "
                f"reference {name!r}"
            )
            continue
        if field_name == "inherit_params":
            # not a field of the spec: it is used when the parameters are what it makes them
            if dict(configured[name].params) != dict(ref.params):
                out.append(
                    f"{given.describe()} is not used: the modelprov_references fixture gives "
                    f"{name!r} params {json.dumps(dict(ref.params), sort_keys=True)}"
                )
            continue
        actual = _field_of(ref, field_name)
        if _differs(_field_of(configured[name], field_name), actual, field_name):
            shown = "not set" if actual is None else repr(_plain(actual))
            out.append(
                f"{given.describe()} is not used: the modelprov_references fixture gives "
                f"{name!r} {field_name} {shown}"
            )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Price):
        return f"{value.input_per_mtok:g}/{value.output_per_mtok:g}"
    return value


def _model_under_test(sources: Sources) -> ModelSpec | None:
    found = _get(sources, "model")
    if not found:
        return None
    model = found[0].strip()
    base = _get(sources, "base_url")
    base_url = (
        base[0].strip() if base else sources.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    )
    _check_url(base_url, base[1] if base else "OPENAI_BASE_URL")
    key_env = _get(sources, "api_key_env")
    # OPENAI_API_KEY goes only where the openai SDK would send it: never to another vendor
    # just because nobody named that vendor's key variable
    openai_endpoint = not base or base_url.rstrip("/") == DEFAULT_BASE_URL
    default_key_env = DEFAULT_API_KEY_ENV if openai_endpoint else ""
    api_key_env = key_env[0].strip() if key_env else default_key_env
    price = _get(sources, "price")
    endpoint = _get(sources, "endpoint_id")
    params = validate_params(_params_from(sources), "modelprov params (model under test)")
    rpm, tpm = _get(sources, "rpm"), _get(sources, "tpm")
    return ModelSpec(
        name="model under test",
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        params=params,
        price=parse_price(*price) if price else None,
        endpoint_id=endpoint[0].strip() if endpoint else None,
        rpm=check_number("rpm", *rpm) if rpm else None,
        tpm=check_number("tpm", *tpm) if tpm else None,
    )


def _check_url(url: str, source: str) -> None:
    """A base URL the HTTP client can use: checked at startup, not at the first call."""
    problem = ""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problem = "it must start with http:// or https://"
        elif not parts.hostname:
            problem = "it names no host"
        else:
            parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        problem = f"it cannot be parsed ({exc})"
    if problem:
        raise ConfigError(
            f"modelprov: base URL {redact_url(url)!r} from {source} is not valid: {problem}; "
            "write it like https://api.deepseek.com/v1 or http://127.0.0.1:8000/v1"
        )


def _check_output_file(path: Path | None, name: str, sources: Sources) -> Path | None:
    """An output file setting must not name a directory (found at startup, not at the end)."""
    if path is not None and path.is_dir():
        found = _get(sources, name)
        source = found[1] if found else name
        raise ConfigError(
            f"modelprov: {name} {str(path)!r} from {source} is a directory; it must name a "
            "file to write, e.g. modelprov-transcript.jsonl"
        )
    return path


def _reference_fields(
    sources: Sources,
) -> tuple[dict[str, dict[str, Any]], tuple[Given, ...]]:
    """Reference fields as given, merged across sources; checked, not yet resolved."""
    option = OPTIONS_BY_NAME["reference"]
    fields: dict[str, dict[str, Any]] = {}
    given: dict[str, Given] = {}
    for raw, source in (
        (sources.ini(option), "ini modelprov_references"),
        (sources.env(option), "MODELPROV_REFERENCES"),
        (sources.cli(option), "--modelprov-reference"),
    ):
        for line in _param_lines(raw):
            target, value = _split_assignment(line, source, "NAME.FIELD=VALUE")
            name, dot, fieldname = target.partition(".")
            if not dot or not _REF_NAME.match(name):
                raise ConfigError(
                    f"modelprov: {line!r} from {source} is not NAME.FIELD=VALUE, e.g. "
                    "gemini.model=gemini-2.5-pro"
                )
            entry = fields.setdefault(name, {"params": {}, "_source": source})
            if fieldname.startswith("params."):
                parsed: Any = parse_json_value(value)
                entry["params"][fieldname[len("params.") :]] = parsed
            elif fieldname in REFERENCE_FIELDS:
                entry[fieldname] = value
                parsed = value
            else:
                raise ConfigError(
                    f"modelprov: unknown reference field {fieldname!r} in {line!r} from "
                    f"{source}; valid fields: {', '.join(REFERENCE_FIELDS)}, params.KEY"
                )
            given[target] = Given(target, parsed, source, line)
    for name, entry in fields.items():
        if not entry.get("model"):
            raise ConfigError(
                f"modelprov: reference model {name!r} has no model id; add "
                f"'{name}.model=<model id>' to modelprov_references"
            )
    # parsed once here, so a bad value is a usage error even if no test uses the reference
    resolve_references(fields, None, {})
    return fields, tuple(given.values())


def resolve_references(
    fields: Mapping[str, Mapping[str, Any]],
    under_test: ModelSpec | None,
    environ: Mapping[str, str],
) -> dict[str, ModelSpec]:
    """Reference specs from their given fields, against the model under test in use.

    A reference without ``base_url`` gets the model under test's endpoint, key variable and
    endpoint id; every reference gets its generation parameters under its own.
    """
    specs: dict[str, ModelSpec] = {}
    for name, entry in fields.items():
        source = entry["_source"]
        if entry.get("base_url"):
            base_url = entry["base_url"]
            _check_url(base_url, f"{name}.base_url in {source}")
            default_key_env = (
                DEFAULT_API_KEY_ENV if base_url.rstrip("/") == DEFAULT_BASE_URL else ""
            )
            default_endpoint_id = None
        elif under_test is not None:
            # most references are other releases on the model under test's own endpoint;
            # its key goes to the same place, so sharing it sends it nowhere new
            base_url = under_test.base_url
            default_key_env = under_test.api_key_env
            default_endpoint_id = under_test.endpoint_id
        else:
            base_url = environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
            _check_url(base_url, "OPENAI_BASE_URL")
            default_key_env = DEFAULT_API_KEY_ENV
            default_endpoint_id = None
        # sampled alike by default: the model under test's parameters, key by key under
        # the reference's own (NAME.params.KEY=null removes an inherited one); a judge is
        # not a sampled model, and a vendor's extra_body can break another vendor's API
        inherits = _inherit_params(
            entry.get("inherit_params"), f"{name}.inherit_params in {source}"
        )
        inherited = dict(under_test.params) if under_test is not None and inherits else {}
        specs[name] = ModelSpec(
            name=name,
            model=entry["model"],
            base_url=base_url,
            api_key_env=entry.get("api_key_env") or default_key_env,
            params=validate_params({**inherited, **entry["params"]}, f"reference {name!r}"),
            price=parse_price(entry["price"], f"{name}.price") if entry.get("price") else None,
            endpoint_id=entry.get("endpoint_id") or default_endpoint_id,
            rpm=check_number("rpm", entry["rpm"], f"{name}.rpm in {source}")
            if entry.get("rpm")
            else None,
            tpm=check_number("tpm", entry["tpm"], f"{name}.tpm in {source}")
            if entry.get("tpm")
            else None,
        )
    return specs


def _inherit_params(raw: str | None, where: str) -> bool:
    if raw is None:
        return True
    value = raw.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise ConfigError(
        f"modelprov: {where} is {raw!r}; use true (the default: sampled like the model under "
        "test) or false (only the reference's own params.KEY, e.g. for a judge)"
    )
