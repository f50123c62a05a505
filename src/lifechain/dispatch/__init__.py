"""The dispatch domain."""
