"""The hospitals domain."""
