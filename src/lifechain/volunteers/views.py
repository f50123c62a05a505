"""HTTP routes of the volunteers domain."""

from fastapi import APIRouter

router = APIRouter(tags=["volunteers"])
