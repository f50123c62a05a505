"""HTTP routes of the auth domain."""

from fastapi import APIRouter

router = APIRouter(tags=["auth"])
