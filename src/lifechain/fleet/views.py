"""HTTP routes of the fleet domain."""

from fastapi import APIRouter

router = APIRouter(tags=["fleet"])
