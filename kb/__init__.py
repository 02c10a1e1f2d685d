"""kb: a knowledge-graph note manager for Markdown vaults."""

__version__ = "0.1.0"
