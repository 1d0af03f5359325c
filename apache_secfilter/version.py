"""The package version, at the bottom of the layers: the compiled-policy cache keys on it."""

__version__ = "0.1.0"
