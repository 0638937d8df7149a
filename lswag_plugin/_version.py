"""The package version (one place; cache keys include it)."""

__version__ = "0.2.0"
