"""Exceptions that genepeak raises for bad input, with messages a user can act on."""

from __future__ import annotations


class GenepeakError(Exception):
    """Base class of every error genepeak raises on purpose."""


class InputError(GenepeakError, ValueError):
    """A file or data object is missing, malformed or inconsistent.

    The message names the file (or object), the field, and what was expected.
    """


class ConfigError(GenepeakError, ValueError):
    """A configuration key is unknown or a value has the wrong type or range."""


class TrainingError(GenepeakError, RuntimeError):
    """Training cannot go on (for example the loss became NaN)."""


class DivergedError(TrainingError):
    """The training loss became NaN or infinite: the learning rate was too high for the data."""


class AbsentGeneError(InputError):
    """A gene asked for is not among the model's genes (absent, filtered out or misspelt)."""
