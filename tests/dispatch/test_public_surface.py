"""The names other domains and the planning simulation import from the pure cores (the agreed contract)."""

from __future__ import annotations

import importlib

import pytest

CONTRACT = {
    "lifechain.fleet.core": {"UnitStatus", "UNIT_STATUS_META", "UnitType", "next_status", "UnitState"},
    "lifechain.hospitals.core": {"Capability", "HospitalState"},
    "lifechain.dispatch.protocol": {"load_protocol", "default_protocol", "triage", "next_questions", "Determinant",
                                    "Protocol"},
    "lifechain.dispatch.core": {"DispatchPolicy", "IncidentState", "recommend_units", "UnitRecommendation",
                                "Candidate", "recommend_hospital", "queue_order", "earliest_free"},
}


@pytest.mark.parametrize("module", sorted(CONTRACT))
def test_public_surface_exports_the_contract(module: str) -> None:
    """`__all__` lists every contract name, and every name it lists exists."""
    mod = importlib.import_module(module)
    assert CONTRACT[module] <= set(mod.__all__)
    assert all(hasattr(mod, name) for name in mod.__all__)
