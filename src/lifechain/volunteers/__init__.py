"""The volunteers domain."""
