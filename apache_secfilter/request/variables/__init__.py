"""The 1.x variables, registered by name: ``resolve("ARG_x")`` -> VariableRef."""

from . import collections as _collections  # noqa: F401  (registers its families)
from . import standard as _standard  # noqa: F401  (registers its families)
from .registry import (
    NO_EXCLUSIONS,
    Exclusions,
    Target,
    UnknownVariable,
    VariableRef,
    known_names,
    resolve,
)

__all__ = ["NO_EXCLUSIONS", "Exclusions", "Target", "UnknownVariable", "VariableRef",
           "known_names", "resolve"]
