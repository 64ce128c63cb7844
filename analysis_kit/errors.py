"""The kit's exceptions: one base class, a few subclasses that also subclass a built-in."""

from __future__ import annotations

__all__ = ["AnalysisKitError", "ParameterError", "ReadError", "SchemaError"]


class AnalysisKitError(Exception):
    """Base class of every error the kit raises on purpose."""


class ReadError(AnalysisKitError, ValueError):
    """A file could not be read: the message names the file and, where known, the row and column."""


class SchemaError(AnalysisKitError, ValueError):
    """A table lacks required columns, or a parameter names a table or column that does not exist."""


class ParameterError(AnalysisKitError, ValueError):
    """A parameter has a value the kit cannot use: the message names the parameter and the value."""
