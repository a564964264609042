"""Cache exports: one JSON line per entry, written and read back as untrusted input.

``modelprov cache export`` writes every entry as a line (escaped so each stays on one line
for any reader), ``modelprov cache import`` reads them back, checking each one; temporary
files an interrupted export left behind are removed once their writer is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExportFormatError
from ..util.safejson import loads as json_loads
from .entries import (
    CacheEntry,
    check_entry,
)

EXPORT_FORMAT = "pytest-modelprov-cache"


EXPORT_VERSION = 1


_EXPORT_TEMP = ".modelprov-export-"


def remove_stale_temporaries(directory: Path, prefix: str) -> int:
    """Remove ``prefix<pid>-*`` files in ``directory`` whose process is gone.

    A SIGKILLed export cannot clean up after itself; its temporary file (as large as the
    export) is removed by the next export into the same directory.
    """
    removed = 0
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix)]
    except OSError:
        return 0
    for name in names:
        pid_text = name[len(prefix) :].partition("-")[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(directory / name)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process: leave its file alone
    return True


# Line breaks to str.splitlines() and to editors, yet left raw by json.dumps (which escapes
# the C0 controls itself); escaped, each entry stays on one line for any reader.
_LINE_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\u2028\u2029\x85"})


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_line(data: Any) -> str:
    """One JSON Lines record: U+2028, U+2029 and U+0085 escaped, so str.splitlines agrees,
    and lone surrogates (valid in JSON, not encodable as UTF-8) as \\uXXXX escapes."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False).translate(_LINE_BREAKS)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text + "\n"


_UNREADABLE = CacheEntry(key="", request={}, response={}, recorded_at="")


@dataclass
class ImportResult:
    added: int = 0
    identical: int = 0
    kept: int = 0  # differing entries left as they were
    replaced: int = 0


def read_export(path: Path) -> list[CacheEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportFormatError(
            f"modelprov: cannot read cache export {path}: {exc}; nothing was imported"
        ) from exc
    # "\n" only: str.splitlines() also splits inside answers holding U+2028, U+0085, \x1c...
    lines = text.split("\n")
    if not text.strip():
        raise ExportFormatError(
            f"modelprov: {path} is empty, not a cache export; nothing was imported"
        )
    try:
        header = json_loads(lines[0])
    except ValueError:
        header = None
    if not (
        isinstance(header, dict)
        and header.get("format") == EXPORT_FORMAT
        and header.get("version") == EXPORT_VERSION
    ):
        raise ExportFormatError(
            f"modelprov: {path} line 1 is not a {EXPORT_FORMAT} version {EXPORT_VERSION} "
            "header (export files are written by `modelprov cache export`); nothing was imported"
        )
    entries: list[CacheEntry] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        where = f"modelprov: {path} line {number}"
        try:
            data = json_loads(line, constants="null")
        except ValueError as exc:
            raise ExportFormatError(
                f"{where}: not valid JSON ({exc}); nothing was imported"
            ) from exc
        try:
            entries.append(check_entry(data, where))
        except ExportFormatError as exc:
            raise ExportFormatError(f"{exc}; nothing was imported") from exc
    declared = header.get("entries")
    if isinstance(declared, int) and declared != len(entries):
        raise ExportFormatError(
            f"modelprov: {path} declares {declared} entries but holds {len(entries)}; the file "
            "is truncated or was edited; nothing was imported."
        )
    return entries
