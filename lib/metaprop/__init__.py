"""metaprop: meta-analysis of single proportions that agrees with R's metafor."""

from metaprop._version import __version__

__all__ = ["__version__"]
