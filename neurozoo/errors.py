"""Exceptions raised by neurozoo. Every message names the problem and the fix."""

from __future__ import annotations


class NeurozooError(Exception):
    """Base class of every error neurozoo raises on purpose."""


class UnknownNameError(NeurozooError, LookupError):
    """A model, architecture, method, dataset or metric name that nothing registered."""

    def __str__(self) -> str:  # LookupError would quote the message like a dict key
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(NeurozooError):
    """Two plugins registered the same name."""


class ConfigError(NeurozooError, ValueError):
    """A config.json (or argument set) that does not follow the schema."""


class CheckpointError(NeurozooError):
    """A checkpoint folder that cannot be loaded: missing, pickled, truncated or mismatched files."""


class IntegrityError(CheckpointError):
    """A downloaded or mirrored file whose sha256 differs from its checkpoint record."""


class OfflineError(NeurozooError):
    """A file that is needed, not cached, and cannot be fetched."""
