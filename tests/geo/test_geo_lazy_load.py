"""A loaded router builds its parts on first use (what a server start waits for), and `warm` builds them all."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lifechain.geo.core import LatLon
from lifechain.geo.network import make_network
from lifechain.geo.repo import CityStore, save_city

A, B = LatLon(60.1699, 24.9384), LatLon(60.1631, 24.9470)


def _built(router: Any) -> dict[str, Any]:
    """Which parts of a router exist: snapping indexes, adjacencies, topologies, metrics."""
    return {
        "segs": sorted(m for m, g in router.graphs.items() if g._segs is not None),
        "adjacency": sorted((m, k, r) for m, g in router.graphs.items() for (k, r) in g._adj),
        "topologies": sorted(getattr(router, "_topologies", {})),
        "metrics": sorted(getattr(router, "_metrics", {})),
    }


def test_ch_router_loads_nothing_but_arrays_and_a_route_builds_only_what_it_uses(
        helsinki_cities_dir: Path) -> None:
    router = CityStore(helsinki_cities_dir).router("helsinki", "ch")
    assert _built(router) == {"segs": [], "adjacency": [], "topologies": [], "metrics": []}
    route = router.route(A, B)
    assert route.seconds > 0
    assert _built(router) == {"segs": ["drive"], "adjacency": [], "topologies": ["drive"],
                              "metrics": [("drive", "emergency", False)]}


def test_warm_builds_every_part_and_answers_do_not_change(helsinki_cities_dir: Path) -> None:
    cold = CityStore(helsinki_cities_dir).router("helsinki", "ch")
    warm = CityStore(helsinki_cities_dir).router("helsinki", "ch")
    warm.warm()  # type: ignore[attr-defined]
    built = _built(warm)
    assert built["segs"] == ["drive", "walk"]
    assert built["topologies"] == ["drive", "drive-rev", "walk", "walk-rev"]
    assert len(built["metrics"]) == 2 * 2 + 1 * 2  # drive: emergency, regular; walk: walk; both directions
    assert len(built["adjacency"]) == 2 * 2 + 1 * 2
    assert warm.route(A, B) == cold.route(A, B)
    units = [LatLon(60.17 + i * 0.002, 24.93 + i * 0.001) for i in range(5)]
    np.testing.assert_array_equal(warm.times_to(units, B, limit_s=300), cold.times_to(units, B, limit_s=300))


def test_scipy_router_builds_adjacencies_on_first_use(helsinki_cities_dir: Path) -> None:
    router = CityStore(helsinki_cities_dir).router("helsinki", "scipy")
    assert _built(router)["adjacency"] == []
    router.times_from(A, [B], mode="walk", limit_s=600)
    assert _built(router)["adjacency"] == [("walk", "walk", False)]


def test_topology_of_a_reimported_city_is_not_mixed_into_an_older_router(tmp_path: Path,
                                                                           helsinki_cities_dir: Path) -> None:
    """A router loaded before a re-import reads its contraction orders later, on first use: it must not read the
    new city's (another graph), but compute its own, so its answers stay those of its own network."""
    shutil.copytree(helsinki_cities_dir / "helsinki", tmp_path / "helsinki")
    store = CityStore(tmp_path)
    old = store.router("helsinki", "ch")
    expected = CityStore(helsinki_cities_dir).router("helsinki", "ch").route(A, B)
    # Re-import under the same name: a three-node toy city around the same place.
    toy = make_network([60.16, 60.17, 60.18], [24.93, 24.94, 24.95], [0, 1, 1, 2], [1, 0, 2, 1],
                       {"emergency": [10.0] * 4, "regular": [12.0] * 4})
    walk = make_network([60.16, 60.17], [24.93, 24.94], [0, 1], [1, 0], {"walk": [50.0, 50.0]})
    save_city(tmp_path, "helsinki", networks={"drive": toy, "walk": walk}, places={},
              manifest={"created_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat()})
    got = old.route(A, B)
    assert got == expected
    assert store.router("helsinki", "ch") is not old


@pytest.mark.parametrize("engine", ["ch", "scipy"])
def test_routers_answer_from_several_threads_while_building(helsinki_cities_dir: Path, engine: str) -> None:
    """Parts built on first use are built once even when several queries (and `warm`) want them at once."""
    import threading

    router = CityStore(helsinki_cities_dir).router("helsinki", engine)
    expected = CityStore(helsinki_cities_dir).router("helsinki", engine).route(A, B)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(router.route(A, B))) for _ in range(6)]
    threads.append(threading.Thread(target=router.warm))  # type: ignore[attr-defined]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 6


def test_serve_preloads_the_default_city_into_the_store_the_app_then_uses(helsinki_cities_dir: Path,
                                                                          tmp_path: Path) -> None:
    """The router `preload` loaded (not warmed) is the one an app of the same settings serves, handed over once;
    a store of other routing options never takes it."""
    from lifechain.app import create_app
    from lifechain.geo import repo
    from lifechain.settings import Settings

    shutil.copytree(helsinki_cities_dir, tmp_path / "cities")
    settings = Settings(data_dir=tmp_path, demo_mode=True, snap_max_distance_m=250.0, offroad_speed_mps=2.0)
    thread = repo.preload(settings)
    assert thread is not None
    thread.join(30)
    app = create_app(Settings(data_dir=tmp_path, demo_mode=True, snap_max_distance_m=250.0, offroad_speed_mps=2.0))
    store = app.state.cities
    preloaded = store.router("helsinki")
    assert _built(preloaded) == {"segs": [], "adjacency": [], "topologies": [], "metrics": []}  # loaded, not warmed
    assert (preloaded.snap_max_distance_m, preloaded.offroad_speed_mps) == (250.0, 2.0)
    # Handed over once: another app of the same settings loads its own.
    assert create_app(settings).state.cities is not store
    other = Settings(data_dir=tmp_path, demo_mode=True)
    thread = repo.preload(other)
    assert thread is not None
    thread.join(30)
    assert CityStore.from_settings(settings)._routers == {}  # other options: not the store preloaded for `other`
    assert ("helsinki", "ch") in CityStore.from_settings(other)._routers


def test_preload_without_the_default_city_starts_nothing(tmp_path: Path) -> None:
    from lifechain.geo import repo
    from lifechain.settings import Settings

    settings = Settings(data_dir=tmp_path, demo_mode=True, default_city="nowhere")
    assert repo.preload(settings) is None
    assert CityStore.from_settings(settings).cities_dir == tmp_path / "cities"
