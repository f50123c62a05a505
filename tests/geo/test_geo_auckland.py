"""Auckland from the shared JEMSS data: import, and routes on model nodes equal the model's shortest paths."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from tests.conftest import shared_data

from lifechain.geo.core import LatLon
from lifechain.geo.flows import import_city
from lifechain.geo.repo import CityStore

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def auckland(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    model = shared_data("jemss", "auckland", "models", "1")
    cities = tmp_path_factory.mktemp("akl")
    import_city(str(model), name="auckland", cities_dir=cities, now=datetime(2026, 1, 1, tzinfo=UTC))
    return model, cities


def _model_arrays(model: Path) -> tuple[Any, Any, Any]:
    with zipfile.ZipFile(model / "travel" / "roads" / "roads.zip") as zf:
        nodes = pd.read_csv(zf.open("nodes.csv"), skiprows=1)
        arcs = pd.read_csv(zf.open("arcs.csv"), skiprows=5)
    return nodes.dropna(subset=["index"]), arcs.dropna(subset=["fromNode"]), None


def test_auckland_imports_whole(auckland: tuple[Path, Path]) -> None:
    """All 54,370 nodes and 90,638 arcs are kept, with its 14 stations and 4 hospitals."""
    _, cities = auckland
    store = CityStore(cities)
    info = store.info("auckland")
    assert info["networks"]["drive"]["nodes"] == 54_370
    assert info["networks"]["drive"]["arcs"] == 90_638
    places = store.places("auckland")
    assert len(places["stations"]) == 14 and len(places["hospitals"]) == 4


def test_routes_on_model_nodes_equal_the_models_shortest_paths(auckland: tuple[Path, Path]) -> None:
    """Between model nodes, both engines equal an independent scipy Dijkstra over the model's arc times (days)."""
    model, cities = auckland
    nodes, arcs, _ = _model_arrays(model)
    pos = {int(i): k for k, i in enumerate(nodes["index"])}
    tail = np.array([pos[int(i)] for i in arcs["fromNode"]])
    head = np.array([pos[int(i)] for i in arcs["toNode"]])
    store = CityStore(cities)
    rng = np.random.default_rng(3)
    picks = rng.choice(len(nodes), 6, replace=False)
    for mode_col, profile in (("mode_1", "emergency"), ("mode_2", "regular")):
        w = arcs[mode_col].to_numpy() * 86400.0
        best: dict[tuple[int, int], float] = {}  # the fastest of parallel arcs, as the model intends
        for t, h, x in zip(tail, head, w, strict=True):
            best[(t, h)] = min(best.get((t, h), np.inf), x)
        keys = np.array(list(best))
        graph = sparse.csr_matrix((list(best.values()), (keys[:, 0], keys[:, 1])), shape=(len(nodes),) * 2)
        truth = dijkstra(graph, indices=picks[:3])[:, picks[3:]]
        pts = [LatLon(float(nodes["y"][i]), float(nodes["x"][i])) for i in picks]
        for engine in ("scipy", "ch"):
            router = store.router("auckland", engine)
            for i in range(3):
                for j in range(3):
                    got = router.route(pts[i], pts[3 + j], profile=profile).seconds  # type: ignore[arg-type]
                    assert got == pytest.approx(truth[i, j], abs=1.0), (engine, profile, i, j)
            m = router.matrix(pts[:3], pts[3:], profile=profile)  # type: ignore[arg-type]
            assert np.allclose(m, truth, atol=1.0)


def test_auckland_walking_network_serves_volunteers(auckland: tuple[Path, Path]) -> None:
    """On foot, a point 6 minutes away is reached at 1.8 m/s along the road graph, a far one is beyond the limit."""
    _, cities = auckland
    router = CityStore(cities).router("auckland")
    net = router.graphs["walk"].net  # type: ignore[attr-defined]
    a = int(net.tail[0])
    b = int(net.head[0])
    pa, pb = LatLon(float(net.lat[a]), float(net.lon[a])), LatLon(float(net.lat[b]), float(net.lon[b]))
    far = LatLon(-36.99, 174.88)
    secs = router.times_from(pa, router.snap([pb, far], mode="walk"), mode="walk", limit_s=360)
    assert secs[0] == pytest.approx(net.length_m[0] / 1.8, abs=0.01)
    assert np.isinf(secs[1])
