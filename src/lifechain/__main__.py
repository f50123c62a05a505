import gc

# As in `main()`: importing the command line (typer, pydantic) allocates many long-lived objects, and the cyclic GC
# would scan them again and again; `main()` switches it back on once every command is registered.
gc.disable()

from lifechain.cli import main  # noqa: E402

main()
