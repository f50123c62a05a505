"""The geo domain."""
