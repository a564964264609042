"""Exceptions raised by pytest-modelprov.

Every message names the setting, file or command that fixes the problem, because a
provenance suite usually fails in CI where nobody can poke at it interactively.
"""

from __future__ import annotations


class ModelprovError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(ModelprovError):
    """A setting has an invalid value (the plugin turns it into a pytest.UsageError)."""


class CacheError(ModelprovError):
    """The response cache cannot be opened, read or written."""


class CacheCorruptError(CacheError):
    """A stored entry cannot be decoded; it is left in place for inspection."""


class ExportFormatError(CacheError):
    """A cache export file does not match its schema; nothing was imported."""


class ReplayMissError(ModelprovError):
    """Replay mode was asked for an answer that was never recorded."""


class ModelCallError(ModelprovError):
    """A model call failed after its retries; nothing of it was cached."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class ModelNotConfiguredError(ModelprovError):
    """A test asked for a model that the configuration does not define."""


class EnvelopeError(AssertionError):
    """Answers outside what a detector was validated on (a language its rules or weights do
    not know), with no judge to vouch for them: the figure would be one nobody can stand
    behind. An AssertionError, so the test fails rather than errors."""


class UnusedSettingWarning(UserWarning):
    """A CLI/env/ini setting has no effect: a conftest.py fixture supplies that model."""
