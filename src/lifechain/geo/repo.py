"""Compiled cities on disk: `CityStore(cities_dir)` lists, describes and loads them; `save_city` writes one.

Use from other domains:
    store = CityStore.from_settings(settings)  # or CityStore(cities_dir, offroad_speed_mps=..., ...)
    store.list()                      # manifests of every imported city
    store.info("auckland")            # one manifest (bbox, centre, node/arc counts, profiles, what was dropped)
    router = store.router("auckland") # a cached `Router` ("ch" or "scipy" engine) on the compiled arrays
    store.places("auckland")          # {"stations", "hospitals", "streets", "points", "aeds", "bbox", "centre"}
A store sent to another process (pickled) arrives as that process's store of the same folder and routing options.

Layout of `cities_dir/<name>/`: `manifest.json`, `drive.npz`, `walk.npz` (plain arrays, loaded without pickle),
`places.json`, `ch/<mode>/` and `ch/<mode>-rev/` (contraction orders of the graph and of its reverse, so loading
skips the nested dissection). A re-import writes a temporary folder and swaps it in with renames, so readers see
the old city or the new one, never a mix.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import re
import shutil
import threading
import unicodedata
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lifechain.errors import Invalid, NotFound, Problem, Unavailable
from lifechain.geo.core import Router
from lifechain.geo.engines import CHRouter, ScipyRouter, build_topology, topology_name
from lifechain.geo.network import Network, roads_geojson

if TYPE_CHECKING:
    from lifechain.settings import Settings

FORMAT_VERSION = 1
ENGINES = ("ch", "scipy")
log = logging.getLogger(__name__)
# What reading a city's files raises when one is damaged (truncated, hand-edited, half copied): JSON and UTF-8
# errors are ValueErrors, a truncated .npz a BadZipFile or EOFError, a .npz without an array a KeyError.
_DAMAGED = (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError)


def _save_network(path: Path, net: Network) -> None:
    arrays: dict[str, Any] = {"lat": net.lat, "lon": net.lon, "tail": net.tail.astype(np.int32),
                              "head": net.head.astype(np.int32), "length_m": net.length_m,
                              "road_class": net.road_class}
    arrays.update({f"seconds_{k}": v for k, v in net.seconds.items()})
    np.savez(path, **arrays)


def _load_network(name: str, path: Path) -> Network:
    """City `name`'s network from `path` (damage to the file: `Unavailable`, see `_reading`)."""
    with _reading(name, path.name), np.load(path, allow_pickle=False) as z:
        secs = {k.removeprefix("seconds_"): z[k] for k in z.files if k.startswith("seconds_")}
        return Network(z["lat"], z["lon"], z["tail"].astype(np.int64), z["head"].astype(np.int64), z["length_m"],
                       secs, z["road_class"])


# A city's name is its folder and a segment of the API's paths: a word (Unicode letters and digits too) with hyphens.
_CITY_NAME = re.compile(r"[^\W_][\w-]{0,63}")


@contextlib.contextmanager
def _reading(name: str, file: str) -> Iterator[None]:
    """Reading `file` of city `name`: damage to it becomes `Unavailable` naming the city, the file and why (a 503:
    the server's files, not the request, are at fault), so that one damaged city fails only its own requests."""
    try:
        yield
    except _DAMAGED as exc:
        why = f"{type(exc).__name__}: {exc}" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
        raise Unavailable(f"city {name!r} cannot be read: {file}: {why}; import the city again", city=name,
                          file=file) from exc


def _read_manifest(name: str, path: Path) -> dict[str, Any] | Unavailable:
    """A city's manifest under its folder's name, or (logged) why it cannot be used: the error `CityStore.info`
    raises for it."""
    try:
        with _reading(name, path.name):
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or not isinstance(manifest.get("import_id"), str):
                raise ValueError("an object with an import_id was expected")
    except Unavailable as exc:
        log.error("%s", exc.message)
        return exc
    return {**manifest, "name": name}  # the folder names the city (a folder renamed or copied by hand, say)


def not_imported(name: str, known: builtins.list[str], *, field: str) -> Invalid:
    """The error for city `name` not among the `known` imported cities, naming the field that gave it (a 422; a
    city named in a path is a 404 of the same words, `CityStore.info`)."""
    return Invalid(f"{field}: {_not_imported_text(name, known)}", field=field)


def _not_imported_text(name: str, known: builtins.list[str]) -> str:
    return (f"{name!r} is not imported on this server (imported: {', '.join(known) or 'none'}; lifechain city import "
            "adds one)")


def check_city_name(name: str) -> str:
    """`name` when it can name a city; else `Invalid` saying what a name may hold ("", "../x", ".x" or "a b" would
    be the cities folder itself, another folder, a city never listed, or a path segment to escape)."""
    if not _CITY_NAME.fullmatch(name):
        raise Invalid(f"city name {name!r}: use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit")
    return name


def save_city(cities_dir: Path, name: str, *, networks: dict[str, Network], places: dict[str, Any],
              manifest: dict[str, Any]) -> Path:
    """Write a compiled city into a temporary folder, then swap it in place of any previous version."""
    check_city_name(name)
    cities_dir.mkdir(parents=True, exist_ok=True)
    tmp = cities_dir / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for mode, net in networks.items():
            _save_network(tmp / f"{mode}.npz", net)
            for reverse in (False, True):
                folder = tmp / "ch" / topology_name(mode, reverse)
                folder.mkdir(parents=True)
                build_topology(net, reverse=reverse).save(str(folder))
        (tmp / "places.json").write_text(json.dumps(places, ensure_ascii=False), encoding="utf-8")
        full = {"format_version": FORMAT_VERSION, "name": name, "import_id": uuid.uuid4().hex, **manifest}
        (tmp / "manifest.json").write_text(json.dumps(full, indent=2, ensure_ascii=False), encoding="utf-8")
        final = cities_dir / name
        old = cities_dir / f".old-{name}-{uuid.uuid4().hex[:8]}"
        if final.exists():
            os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class CityStore:
    """The imported cities of one data directory, with a cache of loaded routers."""

    def __init__(self, cities_dir: Path, *, offroad_speed_mps: float = 1.4, snap_max_distance_m: float = 1000.0,
                 default_engine: str = "ch") -> None:
        self.cities_dir = Path(cities_dir)
        self.offroad_speed_mps = offroad_speed_mps
        self.snap_max_distance_m = snap_max_distance_m
        self.default_engine = default_engine
        self._routers: dict[tuple[str, str], tuple[str, Router]] = {}
        self._places: dict[str, tuple[str, dict[str, Any]]] = {}
        self._roads: dict[tuple[str, str, int], tuple[str, dict[str, Any]]] = {}
        # Per city: the places dict it was made from, and every named place with its folded name (for search).
        self._names: dict[str, tuple[dict[str, Any], builtins.list[tuple[str, str, str, dict[str, Any]]]]] = {}
        # Per city: the manifest's stamp and what it read (a damaged manifest: the error, logged once per stamp).
        self._infos: dict[str, tuple[tuple[int, int], dict[str, Any] | Unavailable]] = {}
        self._failed: dict[tuple[str, str], tuple[str, Unavailable]] = {}  # (city, engine) -> (import id, why)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CityStore:
        """The store of the settings' data directory with their routing options; the store `preload` is filling,
        when one was started in this process for the same directory and options."""
        with _STORES_LOCK:
            store = _PRELOADED.pop(_store_key(settings), None)
        return store or cls(settings.cities_dir, offroad_speed_mps=settings.offroad_speed_mps,
                            snap_max_distance_m=settings.snap_max_distance_m, default_engine=settings.routing_engine)

    def __reduce__(self) -> tuple[Any, tuple[Path, float, float, str]]:
        """A store crosses to another process (a planning run's, a replication's, a Ray worker's) as its folder and
        routing options, and is there that process's store of them (`shared_store`): its routers snap and route as
        this one's do, and a city is loaded once per process."""
        return shared_store, (self.cities_dir, self.offroad_speed_mps, self.snap_max_distance_m, self.default_engine)

    def names(self) -> list[str]:
        """Names of the imported cities, sorted."""
        if not self.cities_dir.is_dir():
            return []
        return sorted(p.name for p in self.cities_dir.iterdir()
                      if not p.name.startswith(".") and (p / "manifest.json").is_file())

    def exists(self, name: str) -> bool:
        """Whether a city of that name is imported."""
        return (self.cities_dir / name / "manifest.json").is_file()

    def check_imported(self, name: str, *, field: str = "city") -> None:
        """Refuse (`not_imported`) a city not imported here: what is registered or planned in a city is found by
        its name, so under a misspelt one it is stored and then never used, without a word."""
        if not self.exists(name):
            raise not_imported(name, self.names(), field=field)

    def list(self) -> list[dict[str, Any]]:
        """The manifest of every imported city that can be read (`problems` names the others)."""
        out = []
        for name in self.names():
            with contextlib.suppress(Unavailable):
                out.append(self.info(name))
        return out

    def info(self, name: str) -> dict[str, Any]:
        """One city's manifest; raises `NotFound` for an unknown city."""
        path = self.cities_dir / name / "manifest.json"
        try:
            if "/" in name or name.startswith("."):
                raise FileNotFoundError(name)
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"city {_not_imported_text(name, self.names())}", city=name) from None
        stamp = (st.st_ino, st.st_mtime_ns)  # a re-import renames a new folder in: new inode
        cached = self._infos.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, _read_manifest(name, path))
            self._infos[name] = cached
        if isinstance(cached[1], Unavailable):
            raise cached[1].again()
        return dict(cached[1])

    def problems(self) -> builtins.list[Problem]:
        """Each imported city that cannot be read (`/health`; public, so without the reason: the log has it)."""
        broken = []
        for name in self.names():
            try:
                import_id = self.info(name)["import_id"]
            except Unavailable:
                broken.append(name)
                continue
            with self._lock:
                if any(city == name and failed[0] == import_id for (city, _), failed in self._failed.items()):
                    broken.append(name)
        return [Problem("city_unreadable", name, {
            "en": f"city {name} cannot be read (the server log says why): import it again",
            "zh-CN": f"城市 {name} 的数据无法读取（原因见服务器日志）：请重新导入该城市"}) for name in broken]

    def router(self, name: str, engine: str | None = None) -> Router:
        """A cached router on the city's compiled arrays (reloaded when the city was re-imported)."""
        engine = engine or self.default_engine
        if engine not in ENGINES:
            raise Invalid(f"unknown routing engine {engine!r}: expected one of {', '.join(ENGINES)}")
        import_id = self.info(name)["import_id"]
        with self._lock:
            cached = self._routers.get((name, engine))
            if cached and cached[0] == import_id:
                return cached[1]
            failed = self._failed.get((name, engine))
            if failed and failed[0] == import_id:  # read once per import: a damaged file stays damaged
                raise failed[1].again()
            try:
                router = self._load_router(name, engine, import_id)
            except Unavailable as exc:
                log.error("%s", exc.message)
                self._failed[(name, engine)] = (import_id, exc)
                raise
            self._failed.pop((name, engine), None)
            self._routers[(name, engine)] = (import_id, router)
            return router

    def warm(self, name: str, engine: str | None = None) -> Router:
        """Load the city's router and build everything its first queries would otherwise build."""
        router = self.router(name, engine)
        getattr(router, "warm", lambda: None)()
        return router

    def _load_router(self, name: str, engine: str, import_id: str) -> Router:
        folder = self.cities_dir / name
        nets = {mode: _load_network(name, folder / f"{mode}.npz") for mode in ("drive", "walk")
                if (folder / f"{mode}.npz").is_file()}
        kwargs = {"offroad_speed_mps": self.offroad_speed_mps, "snap_max_distance_m": self.snap_max_distance_m}
        if engine == "scipy":
            return ScipyRouter(name, nets, **kwargs)
        import pyroutingkit

        def load_topology(topo_name: str) -> Any:
            """A stored contraction order, read on first use; None (computed from the router's own network instead)
            when it is not stored, or when the city was re-imported meanwhile (the folder holds another network)."""
            stored = folder / "ch" / topo_name
            try:
                if self.info(name)["import_id"] != import_id or not stored.is_dir():
                    return None
                topo = pyroutingkit.CCHTopology()
                topo.load(str(stored))
                return topo if self.info(name)["import_id"] == import_id else None
            except (NotFound, OSError, RuntimeError):
                return None

        return CHRouter(name, nets, topology_loader=load_topology, offroad_speed_mps=self.offroad_speed_mps,
                        snap_max_distance_m=self.snap_max_distance_m)

    def places(self, name: str) -> dict[str, Any]:
        """Stations, hospitals, named streets and points, AEDs, plus the city's bbox and centre."""
        info = self.info(name)
        with self._lock:
            cached = self._places.get(name)
            if cached and cached[0] == info["import_id"]:
                return cached[1]
            with _reading(name, "places.json"):
                data: dict[str, Any] = json.loads((self.cities_dir / name / "places.json").read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    raise ValueError(f"an object was expected, not {type(data).__name__}")
            data.update({"bbox": info["bbox"], "centre": info["centre"]})
            self._places[name] = (info["import_id"], data)
            return data

    def roads(self, name: str, *, zoom: int, mode: str = "drive") -> dict[str, Any]:
        """The city's network as GeoJSON by road class, simplified for a map zoom level (cached)."""
        import_id = self.info(name)["import_id"]
        key = (name, mode, zoom)
        with self._lock:
            cached = self._roads.get(key)
        if cached and cached[0] == import_id:
            return cached[1]
        path = self.cities_dir / name / f"{mode}.npz"
        if not path.is_file():
            raise NotFound(f"city {name!r} has no {mode} network")
        data = roads_geojson(_load_network(name, path), zoom)
        with self._lock:
            self._roads[key] = (import_id, data)
        return data

    def search(self, name: str, query: str, *, limit: int = 20) -> builtins.list[dict[str, Any]]:
        """Named streets, places, stations, hospitals and AEDs whose name holds every word of `query`, accents and
        case aside ("hameentie" finds Hämeentie): names starting with the query first, then a word starting with
        it, then the rest; shorter names first within each."""
        words = _fold(query).split()
        found = []
        for folded, label, group, item in self._named(name):
            rank = _match_rank(folded, words)
            if rank is not None:
                found.append((rank, len(label), label, {**item, "group": group}))
        found.sort(key=lambda f: (f[0], f[1], f[2]))
        return [f[3] for f in found[:limit]]

    def _named(self, name: str) -> builtins.list[tuple[str, str, str, dict[str, Any]]]:
        """Every named place of the city as (folded name, name, group, place), folded once per import."""
        places = self.places(name)
        with self._lock:
            cached = self._names.get(name)
        if cached and cached[0] is places:
            return cached[1]
        named = [(_fold(label), label, group, item)
                 for group in ("streets", "points", "stations", "hospitals", "aeds")
                 for item in places.get(group, []) if (label := str(item.get("name") or ""))]
        with self._lock:
            self._names[name] = (places, named)
        return named


def _fold(text: str) -> str:
    """Lower case without accents (ä -> a, é -> e); CJK characters are kept as they are."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _match_rank(label: str, words: builtins.list[str]) -> int | None:
    """0 when `label` starts with the query, 1 when one of its words does, 2 when it merely holds every query word,
    None when a word is missing (an empty query matches everything, at rank 0)."""
    if any(w not in label for w in words):
        return None
    if not words or label.startswith(" ".join(words)):
        return 0
    return 1 if any(part.startswith(words[0]) for part in label.split()) else 2


# Stores `preload` started filling, for the next `CityStore.from_settings` with the same directory and options.
_PRELOADED: dict[tuple[Path, float, float, str], CityStore] = {}
_STORES_LOCK = threading.Lock()
# The stores `shared_store` made, one per directory and options.
_SHARED: dict[tuple[Path, float, float, str], CityStore] = {}


def _store_key(settings: Settings) -> tuple[Path, float, float, str]:
    return (settings.cities_dir.resolve(), settings.offroad_speed_mps, settings.snap_max_distance_m,
            settings.routing_engine)


def shared_store(cities_dir: Path, offroad_speed_mps: float, snap_max_distance_m: float,
                 default_engine: str) -> CityStore:
    """This process's one store of a directory with those routing options (made on first use; it keeps the routers
    it loads). A `CityStore` sent to another process is this there."""
    key = (Path(cities_dir).resolve(), offroad_speed_mps, snap_max_distance_m, default_engine)
    with _STORES_LOCK:
        store = _SHARED.get(key)
        if store is None:
            store = _SHARED[key] = CityStore(Path(cities_dir), offroad_speed_mps=offroad_speed_mps,
                                             snap_max_distance_m=snap_max_distance_m, default_engine=default_engine)
    return store


def preload(settings: Settings) -> threading.Thread | None:
    """Start loading the default city's router in a background thread, into the store the next
    `CityStore.from_settings(settings)` of this process returns; None when that city is not imported.

    `lifechain serve` calls this before it imports and builds the web application: reading the arrays and the
    contraction orders is mostly I/O, numpy and C++ that run outside the GIL, so it overlaps that pure-Python work
    instead of following it. Only the loading: warming (snapping indexes, metrics) has more Python in it and, done
    here, delayed the app more than it saved (`bench/routing.py`); the app warms the router once it serves. A
    failure here is left for the app's own load of the city to report.
    """
    store = CityStore.from_settings(settings)
    if not store.exists(settings.default_city):
        return None
    with _STORES_LOCK:
        _PRELOADED[_store_key(settings)] = store

    def load() -> None:
        with contextlib.suppress(Exception):  # the app loads the city again, and reports why it cannot
            store.router(settings.default_city)

    thread = threading.Thread(target=load, name="geo-preload", daemon=True)
    thread.start()
    return thread
