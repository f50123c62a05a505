"""HTTP routes of the hospitals domain."""

from fastapi import APIRouter

router = APIRouter(tags=["hospitals"])
