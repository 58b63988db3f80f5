"""Parsers from each monitoring source's payload to signals (pure: no database, no I/O)."""
