"""HTTP routes of the timeline domain."""

from fastapi import APIRouter

router = APIRouter(tags=["timeline"])
