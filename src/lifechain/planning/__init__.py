"""The planning domain."""
