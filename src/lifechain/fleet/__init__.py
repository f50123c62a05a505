"""The fleet domain."""
