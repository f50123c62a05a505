"""The timeline domain."""
