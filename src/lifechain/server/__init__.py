"""Running the server: `lifechain serve` and `lifechain db upgrade`."""
