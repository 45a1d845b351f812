"""Tidings: self-hostable business messaging with data protection in its engine."""

__version__ = "0.1.0"
