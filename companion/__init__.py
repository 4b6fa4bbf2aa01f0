"""Companion: a private journal for peer support, with end-to-end encrypted sharing in small circles."""

__version__ = "0.1.0"
