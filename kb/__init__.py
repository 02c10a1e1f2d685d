"""kb: a knowledge-graph note manager for Markdown vaults."""

from kb import lean_imports

__version__ = "0.1.0"

lean_imports.install()
