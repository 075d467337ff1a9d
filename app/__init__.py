"""Reelsmith: a desktop studio for composing and rendering videos scene by scene."""

__version__ = "0.1.0"
