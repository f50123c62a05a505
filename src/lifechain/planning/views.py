"""HTTP routes of the planning domain."""

from fastapi import APIRouter

router = APIRouter(tags=["planning"])
