"""HTTP routes of the geo domain."""

from fastapi import APIRouter

router = APIRouter(tags=["geo"])
