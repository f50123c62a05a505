"""HTTP routes of the dispatch domain."""

from fastapi import APIRouter

router = APIRouter(tags=["dispatch"])
