"""bot-bottle: run Claude Code in an isolated bottle behind an egress allowlist."""

__all__ = ["__version__"]

__version__ = "0.1.0"
