"""Lifechain: a city's chain of survival as one system."""

__version__ = "0.1.0"
