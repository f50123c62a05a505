"""ASGI factory for uvicorn: `uvicorn --factory lifechain.server.asgi:app` builds settings from the environment."""

from __future__ import annotations

from fastapi import FastAPI

from lifechain.app import create_app
from lifechain.settings import Settings


def app() -> FastAPI:
    """Build the app from environment settings (used by uvicorn workers)."""
    return create_app(Settings())
