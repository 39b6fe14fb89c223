"""Adapter export to every consumer's format, import from other tools, and merge into base weights."""
