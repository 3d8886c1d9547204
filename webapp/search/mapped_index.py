"""Search by upload through a build's approximate index: FAISS IVF-PQ, memory-mapped.

Builds past the job's size threshold carry one (indexer/search_index.py). Each
machine writes its bytes once from the database to SEARCH_INDEX_DIR/build-<id>.faiss (a temp
file renamed into place, so concurrent workers never read half a file), and each worker maps
that file: the OS keeps one copy of its pages for all the workers of a machine. A search asks
the index for its best candidates, then re-scores them exactly with their stored vectors, so
scores are exact, as below the threshold; only recall is approximate (measured by the job and
stored with the index). A ranked build's index holds its learned vectors (whitened and
augmented): the candidates are re-scored in that space, computed from their raw vectors and
their augmentation neighbours' (webapp/search/ranked.py), so uploads rank as the lists do.

When it cannot be used: a local file that is missing or does not match the stored checksum is
written again from the database; an index in the database that is corrupt, or a web without
FAISS, makes search answer 503 with the reason. It never falls back to loading the whole
matrix: past the threshold that is what would exhaust a web host's memory.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass

import numpy as np
from flask import current_app
from sqlalchemy import select

from core.atomic import write_atomically
from core.db import db
from core.ranking import RAW, expanded_query
from core.records import ACTIVE, SUPERSEDED, Build, Embedding, SearchIndex

from ..serving.active_index import ServedIndex
from .exact import Match, SearchUnavailable, top_k
from .ranked import LearnedSpace, learned_vectors

log = logging.getLogger(__name__)
HASH_CHUNK = 8 * 1024 * 1024


@dataclass
class MappedIndex:
    """A build's approximate index as one worker holds it: mapped, its search width set."""

    build_id: int
    index: object         # a faiss.IndexIVFPQ whose inverted lists are a read-only mapping
    candidates: int       # how many the index proposes for exact re-scoring
    recall_at_10: float
    path: str
    space: str            # the vectors it holds: "raw", or the build's learned space

def mapped_index(served: ServedIndex) -> MappedIndex | None:
    """Return this worker's mapped index of the served build, or None where it has none."""
    def load(served: ServedIndex) -> MappedIndex | None:
        facts = db.session.get(SearchIndex, served.build.id)
        if facts is None:
            return None
        folder = current_app.config["SEARCH_INDEX_DIR"]
        threads = current_app.config["SEARCH_THREADS"]
        try:
            return open_mapped(local_copy(folder, facts), facts, threads)
        except SearchUnavailable:  # its file replaced or removed since it was checked: once
            return open_mapped(local_copy(folder, facts), facts, threads)
    return served.derived("mapped_index", load)


def index_path(folder: str, build_id: int) -> str:
    return os.path.join(folder, f"build-{build_id}.faiss")


def local_copy(folder: str, facts: SearchIndex) -> str:
    """Return the path of this machine's copy of the index, writing it first if needed."""
    path = index_path(folder, facts.build_id)
    if file_matches(path, facts.parameters):
        return path
    data = facts.data  # deferred: read from the database only here, once per machine
    if hashlib.sha256(data).hexdigest() != facts.parameters["sha256"]:
        raise SearchUnavailable(f"the search index of build {facts.build_id} in the database "
                                "is corrupt (checksum mismatch); re-run scripts/build_index.py")
    write_atomically(path, data, durable=True)
    log.info("wrote the search index of build %d to %s (%.1f MB)", facts.build_id, path,
             len(data) / 1e6)
    remove_unserved_builds(folder, facts.build_id)
    return path


def file_matches(path: str, parameters: dict) -> bool:
    """Return whether `path` holds exactly the stored index (size, then SHA-256)."""
    try:
        if os.path.getsize(path) != parameters["bytes"]:
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(HASH_CHUNK), b""):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == parameters["sha256"]


def remove_unserved_builds(folder: str, build_id: int) -> None:
    """Delete the files of builds neither active nor the one before it (nor `build_id`).

    Just after a publish, workers on the new build and workers still on the previous one
    both open their files: neither may delete the other's. A worker still mapping a deleted
    file keeps its pages (the mapping outlives the name); one that needs it writes it anew.
    """
    served = db.session.scalars(select(Build.id).where(Build.status.in_([ACTIVE, SUPERSEDED])))
    keep = {os.path.basename(index_path(folder, i)) for i in {build_id, *served}}
    for name in os.listdir(folder):
        if name.startswith("build-") and name.endswith(".faiss") and name not in keep:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def open_mapped(path: str, facts: SearchIndex, threads: int) -> MappedIndex:
    """Open the index file memory-mapped, read-only, with the job's nprobe."""
    try:
        import faiss  # imported only where a build has an index: other workers never load it
    except ImportError:
        raise SearchUnavailable("this index needs FAISS for search by upload: install "
                                "requirements.txt (faiss-cpu)") from None
    try:
        index = faiss.read_index(path, mapped_flags(faiss))
    except RuntimeError as exc:
        raise SearchUnavailable(f"the search index of build {facts.build_id} cannot be "
                                f"opened ({str(exc).splitlines()[0]}); re-run "
                                "scripts/build_index.py") from None
    faiss.extract_index_ivf(index).nprobe = facts.parameters["nprobe"]
    faiss.omp_set_num_threads(threads)  # one search per worker at a time: no thread pool
    log.info("mapped the search index of build %d: %s, nprobe %d, recall@10 %.3f",
             facts.build_id, facts.kind, facts.parameters["nprobe"], facts.recall_at_10)
    return MappedIndex(facts.build_id, index, facts.parameters["candidates"],
                       facts.recall_at_10, path, facts.parameters.get("space", RAW))


def mapped_flags(faiss) -> int:
    """Return read_index's flags for a worker: the inverted lists mapped, read-only, and no
    precomputed IVF-PQ table (nlist x m x 256 floats: 134 MB of private memory per worker at
    2M images; without it each probed list's table is computed per search, no slower here)."""
    return faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY | faiss.IO_FLAG_SKIP_PRECOMPUTE_TABLE


def candidates(mapped: MappedIndex, query: np.ndarray, k: int) -> np.ndarray:
    """Return the gallery positions the index proposes for a query, in gallery order (ties
    in the exact re-scoring then break by it)."""
    _, found = mapped.index.search(query[None].astype(np.float32, copy=False),
                                   max(mapped.candidates, k))
    return np.unique(found[0][found[0] >= 0])


def stored_rows(build: Build, positions: np.ndarray) -> tuple[dict, dict]:
    """Return ({position: row}, {content hash: raw unit vector}) of the images at positions."""
    rows = build.at_positions(positions.tolist())
    return rows, Embedding.unit_vectors(build.model_key,
                                        {row.content_hash for row in rows.values()})


def search(mapped: MappedIndex, build: Build, query: np.ndarray, k: int) -> list[Match]:
    """Return the k best images for a unit query vector, by exact cosine, best first."""
    positions = candidates(mapped, query, k)
    if not len(positions):
        return []
    rows, units = stored_rows(build, positions)
    matrix = np.stack([units[rows[p].content_hash] for p in positions.tolist()])
    scores = np.clip(matrix @ query, -1.0, 1.0)
    return [Match(rows[int(positions[i])].id, float(scores[i]), float(scores[i]))
            for i in top_k(scores, k)]


@dataclass
class Candidates:
    ids: list[int]       # image ids, gallery order
    raw: np.ndarray      # their raw unit vectors
    vectors: np.ndarray  # and their vectors in the learned space


def ranked_candidates(build: Build, space: LearnedSpace, positions: np.ndarray) -> Candidates:
    """Read the candidates' raw vectors (and their augmentation neighbours') and return them
    with their learned-space vectors."""
    needed = positions if space.neighbours is None else \
        np.union1d(positions, space.neighbours[positions].ravel())
    rows, units = stored_rows(build, needed)
    ordered = [rows[p] for p in positions.tolist()]
    return Candidates([row.id for row in ordered],
                      np.stack([units[row.content_hash] for row in ordered]),
                      learned_vectors(space, rows, units, positions))


def ranked_search(mapped: MappedIndex, build: Build, space: LearnedSpace, unit: np.ndarray,
                  k: int) -> list[Match]:
    """Return the k best images for a raw unit query in the build's learned space.

    The index holds the learned vectors (what the lists rank by): its candidates are
    re-scored exactly in that space, the query is expanded by its best few (alpha query
    expansion, as below the size) and the index asked again; `cosine` stays the raw cosine.
    """
    query = space.query(unit)
    positions = candidates(mapped, query, k)
    if not len(positions):
        return []
    found = ranked_candidates(build, space, positions)
    if space.expand_by:
        query = expanded_query(query, found.vectors, found.vectors @ query, space.expand_by,
                               space.alpha)
        positions = np.union1d(positions, candidates(mapped, query, k))
        found = ranked_candidates(build, space, positions)
    scores = np.clip(found.vectors @ query, -1.0, 1.0)
    cosines = np.clip(found.raw @ unit, -1.0, 1.0)
    return [Match(found.ids[i], float(scores[i]), float(cosines[i])) for i in top_k(scores, k)]
