"""Run the offline job: scan, hash, embed what is new, find neighbours, store, publish."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

import numpy as np
from sqlalchemy.orm import Session

from core.locations import SourceError, is_remote
from core.metrics import DEFAULT_METRIC, METRICS
from core.records import Build, StoredEmbedder

from . import search_index, store
from .embedders.autoencoder.weights import TRAIN, AutoencoderWeights, ensure_report_stored, resolve
from .explore.exploration import Exploration, explore
from .explore.map_pictures import map_pictures
from .embedders.autoencoder.settings import AUTOENCODER, AutoencoderSettings
from .embedders.choice import Choice, choose
from .embedders.engine import load_engine
from .embedders.measure import settle
from .embedders.model_files import ModelFiles, ensure_stored
from .embedders.registry import DEFAULT_INVARIANCE, DEFAULT_MODEL, Embedder
from .embed import embed_new
from .neighbors import check_method, choose_method
from .neighbors.distinct import Copies, related_images
from .ranking.settings import RankingSettings
from .ranking.space import ranking_space, raw_cosines, settings_for, with_cosines
from .read import existing_thumbnails
from .run_lock import RunLocked, one_run_at_a_time
from .signatures import ThumbnailSignatures
from .scan import Skip, scan_source, source_root
from .placement import OneMachine, stages_for


class BuildError(Exception):
    """A fatal problem, reported as one line; the previous index keeps serving."""


@dataclass
class BuildOptions:
    image_dir: str
    thumbnail_dir: str       # a folder (the web's THUMBNAIL_DIR) or an s3:// prefix (its base URL)
    k: int = 10
    model: str = DEFAULT_MODEL
    weights: str = "imagenet"
    device: str = "auto"
    precision: str = "auto"
    engine: str = "auto"     # mnn, torch, or auto: mnn for fp32 on the CPU
    invariance: str = DEFAULT_INVARIANCE  # none, mirror or dihedral: views averaged
    metric: str = DEFAULT_METRIC  # cosine, euclidean or dot: what the lists rank by
    batch_size: int = 64
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    neighbors: str = "auto"  # exact, faiss, or auto: exact up to EXACT_LIMIT images
    strict: bool = False     # any skipped file is fatal
    clusters: str | int = "auto"  # k-means: auto (elbow + silhouette), a number, or 0: none
    map_method: str = "umap"      # the 2-D map: umap, tsne or none
    search_index: str = "auto"    # the web's approximate index: auto (past a size), always, never
    progress: bool = True
    # Whitening and augmentation learned from the collection (ranking/settings.py): on by
    # default, each with a flag to turn it off; cosine builds only.
    ranking: RankingSettings = field(default_factory=RankingSettings)
    ray: str | None = None   # a Ray cluster's address, or local (start one): see placement.py
    # --model autoencoder: how it is trained (see AutoencoderSettings), and whether to train
    # afresh rather than reuse the one trained for this folder (embedders/autoencoder/weights.py).
    autoencoder: AutoencoderSettings = field(default_factory=AutoencoderSettings)
    retrain: bool = False


@dataclass
class Summary:
    build_id: int
    indexed: int
    skipped: list[Skip]
    seconds: float
    embedded: int
    reused: int
    weights: str
    precision: str
    timings: dict
    neighbors: str = "exact"
    recall: float | None = None
    changes: dict = field(default_factory=dict)  # new, changed, removed vs the previous index
    search_index: str | None = None   # the approximate search index's kind, where one was built
    search_recall: float | None = None  # its recall@10 against exact search, on a sample
    where: str = OneMachine.description  # where the stages ran (placement.py)
    retire_error: str | None = None  # why old builds were left for the next run to retire
    engine: str = ""  # what ran the model: mnn, onnxruntime or torch

    def line(self) -> str:
        """Return the one-line summary the job prints last."""
        rate = self.indexed / self.seconds if self.seconds else 0.0
        text = (f"indexed {self.indexed} images, skipped {len(self.skipped)}, "
                f"{self.seconds:.1f} s, {rate:.1f} images/s ({self._changes_text()}"
                f"embedded {self.embedded}, reused {self.reused}, {self._engine_text()}, "
                f"{self._neighbors_text()})")
        if self.search_index is not None:
            text += (f"; search index {self.search_index}, recall@10 "
                     f"{self.search_recall:.3f} on a sample")
        if self.where != OneMachine.description:
            text += f"; on {self.where}"
        if self.weights == "none":
            text += " [random weights: for tests and offline trials only]"
        return text

    def _engine_text(self) -> str:
        return f"{self.precision} on {self.engine}" if self.engine else self.precision

    def _changes_text(self) -> str:
        if not self.changes:
            return ""
        return ", ".join(f"{name} {count}" for name, count in self.changes.items()) + "; "

    def _neighbors_text(self) -> str:
        if self.recall is None:
            return f"{self.neighbors} neighbours"
        return f"{self.neighbors} neighbours, recall@k {self.recall:.3f} on a sample"


def run_build(session: Session, options: BuildOptions) -> Summary:
    """Build and publish an index in the database `session` talks to (its schema is current).

    No Flask app is needed: a script, a test or a worker on another machine calls it the same.
    """
    started = time.perf_counter()
    try:
        root = source_root(options.image_dir)  # a folder, or an object-store prefix's URL
    except SourceError as exc:
        raise BuildError(str(exc)) from exc
    if not is_remote(options.thumbnail_dir):  # decode workers (Ray's) may start elsewhere
        options = replace(options, thumbnail_dir=os.path.abspath(options.thumbnail_dir))
    if options.metric not in METRICS:
        raise BuildError(f"unknown metric {options.metric!r}; one of {', '.join(METRICS)}")
    try:  # before loading anything: a run that cannot rank so fails at once
        check_method(options.neighbors, options.metric)
    except ValueError as exc:
        raise BuildError(str(exc)) from None
    try:
        with one_run_at_a_time(session):
            return _locked_run(session, root, options, started)
    except RunLocked as exc:
        raise BuildError(str(exc)) from None


def _locked_run(session: Session, root: str, options: BuildOptions, started: float) -> Summary:
    """Build, publish, then retire old builds: the part of a run that holds the run lock."""
    trained = autoencoder_for(root, options) if options.model == AUTOENCODER else None
    choice = choose(trained.weights if trained else options.weights, options.device,
                    options.precision, options.engine, options.model, options.invariance,
                    trained.settings if trained else None)
    choice = settle(choice)  # the engine timed once per model and machine, where not forced
    embedder, model_files, timings = load_engine(choice)
    if trained and trained.trained_now:
        timings["train_seconds"] = trained.report.history["seconds"]
    if trained and trained.report:
        ensure_report_stored(session, choice.model_key, trained.report)

    build = Build(root=root, model=choice.backbone.name, weights=choice.label,
                  model_key=choice.model_key, invariance=choice.invariance,
                  metric=options.metric, k=options.k,
                  timings={**timings, "precision": choice.precision, "engine": choice.engine,
                           "preprocessing": model_files.preprocessing})
    session.add(build)
    session.commit()
    try:
        with stages_for(options.ray) as stages:
            summary = _build(session, build, root, choice, embedder, model_files, options,
                             started, stages)
        if not store.publish(session, build):
            raise BuildError(f"build {build.id} was retired by another run before it could "
                             "be published; the previous index keeps serving")
    except BaseException as exc:
        session.rollback()
        store.mark_failed(session, build.id)  # never a build that was published
        if isinstance(exc, (BuildError, KeyboardInterrupt)):
            raise
        raise BuildError(one_line(exc)) from exc
    # Published: from here on nothing may take the new index away. Retiring (deleting whole
    # builds' rows: long on a big index) is best-effort; the next run does what is left.
    summary.retire_error = retire_quietly(session)
    return summary


def retire_quietly(session: Session) -> str | None:
    """Retire old builds; return why it stopped (Ctrl-C too), or None when it finished."""
    try:
        store.retire_old_builds(session)
    except BaseException as exc:  # noqa: B902 -- Ctrl-C here must not undo the publish
        session.rollback()
        return one_line(exc)
    return None


def one_line(exc: BaseException) -> str:
    """Return an exception as one line: the job's last line is one line."""
    reason = (str(exc).strip().splitlines() or [""])[0]
    return f"{exc.__class__.__name__}: {reason}"


def autoencoder_for(root: str, options: BuildOptions) -> AutoencoderWeights:
    """Train the autoencoder on the folder, or find the one trained for it, or load a file."""
    if is_remote(root) and options.weights in TRAIN:
        # Training reads a folder (its pixel store, its checkpoint's pointer): not a prefix.
        raise BuildError(f"--model autoencoder trains on a local folder, not {root}: copy the "
                         "images to one, or pass --weights PATH (a checkpoint) or none")
    try:
        return resolve(root, options.weights, options.autoencoder, retrain=options.retrain,
                       device=options.device, workers=options.workers,
                       progress=options.progress)
    except ValueError as exc:  # nothing decodable, a checkpoint of other settings
        raise BuildError(str(exc)) from exc


def _build(session: Session, build: Build, root: str, choice: Choice, embedder: Embedder,
           model_files: ModelFiles, options: BuildOptions, started: float, stages) -> Summary:
    # The web's search by upload runs this export; first, so a failure costs no embedding.
    timings = ensure_stored(session, choice.model_key, choice.label, model_files)
    timings.update(stages.timings)
    tick = time.perf_counter()
    try:
        files, skips = scan_source(root)
        files, unreadable = stages.hash_files(files)
        skips += unreadable
        timings["scan_seconds"] = time.perf_counter() - tick

        tick = time.perf_counter()
        stored = store.stored_embeddings(session, embedder.model_key)
        thumbnails = existing_thumbnails(options.thumbnail_dir, stored)
    except SourceError as exc:
        raise BuildError(str(exc)) from exc
    # A stored vector is reused only where its thumbnail exists too: both come from one decode;
    # and, for a metric of raw features, where its length was kept (not before it was). The
    # others are embedded again, each batch replacing its old rows as it is stored.
    known = {h: v for h, v in stored.items() if h in thumbnails
             and (options.metric == "cosine" or v.norm is not None)}
    embedded, failed = embed_new(session, files, known, embedder, options, stages.embed_files)
    timings["embed_seconds"] = time.perf_counter() - tick

    good = [f for f in files if f.content_hash not in failed]
    skips += [Skip(f.path, failed[f.content_hash]) for f in files if f.content_hash in failed]
    skips.sort(key=lambda s: s.path)
    if options.strict and skips:
        raise BuildError(f"--strict: {len(skips)} file(s) skipped, first {skips[0].path}: "
                         f"{skips[0].reason}; the previous index keeps serving")
    if not good:
        raise BuildError(f"no readable images in {root} ({len(skips)} skipped); "
                         "the previous index keeps serving")
    changes = compare_with(store.active_contents(session), good)

    tick = time.perf_counter()
    units = np.stack([known[f.content_hash].unit() for f in good])
    vectors = units
    if options.metric != "cosine":  # euclidean and dot rank the model's raw features
        vectors = units * np.array([known[f.content_hash].norm for f in good],
                                   dtype=np.float32)[:, None]
    method = choose_method(options.neighbors, len(good),
                           stages.neighbors_device or choice.device, options.metric)
    # Whitening and augmentation are learned from the whole current collection on every run
    # (so a re-run equals a full rebuild); the stored vectors stay raw.
    space = ranking_space(units, settings_for(options.metric, options.ranking),
                          lambda v, n: stages.find_neighbors(method, v, n, choice.device,
                                                             False)[:2])
    ranked = space.vectors if options.metric == "cosine" else vectors
    timings.update(space.timings)
    ids, scores, recall = stages.find_neighbors(method, ranked, options.k, choice.device,
                                                options.progress, options.metric)
    timings["neighbors_seconds"] = time.perf_counter() - tick
    timings.update(neighbors=method, recall_at_k=recall)
    tick = time.perf_counter()
    related = find_copies(session, build, good, units, ranked, ids, options)
    timings.update(copies_seconds=time.perf_counter() - tick, images_with_copies=related.images,
                   short_distinct_lists=related.short)
    # Clusters and the map are of the directions, as cosine sees them, whatever the metric.
    exploration = explore(units, options.clusters, options.map_method,
                          [f.content_hash for f in good],
                          store.active_exploration(session, build.model_key))
    timings.update(exploration.timings, explore_options=exploration.options)

    tick = time.perf_counter()
    id_of = store.image_ids(session, [f.path for f in good])
    rows = [(id_of[f.path], f.content_hash, known[f.content_hash].width,
             known[f.content_hash].height, f.file_size, f.facts.format, f.facts.jpeg_quality,
             f.facts.captured_at, f.modified_at) for f in good]
    store.save_build_rows(session, build.id, rows, ids, scores, exploration.labels,
                          exploration.places, with_cosines(related.rows, units),
                          raw_cosines(units, ids))
    store.save_ranking(session, build.id, space)
    save_exploration(session, build, exploration)
    if exploration.places is not None:  # the map page's levels, grid and atlases
        pictures = map_pictures(exploration.places, [f.content_hash for f in good],
                                options.thumbnail_dir)
        store.save_map_pictures(session, build.id, [row[0] for row in rows], pictures)
        timings.update(pictures.timings)
    searchable = build_search_index(session, build, vectors, ranked, space.steps, options)
    seconds = time.perf_counter() - started
    build.image_count, build.skipped_count, build.seconds = len(good), len(skips), seconds
    build.skipped = [{"path": s.path, "reason": s.reason} for s in skips]
    build.timings = {**build.timings, **timings, **changes, "embedded": embedded,
                     "reused": len({f.content_hash for f in good}) - embedded}
    timings["store_seconds"] = time.perf_counter() - tick
    return Summary(build.id, len(good), skips, seconds, embedded, build.timings["reused"],
                   choice.label, choice.precision, timings, method, recall, changes,
                   searchable and searchable.kind, searchable and searchable.recall_at_10,
                   stages.description, engine=choice.engine)


def find_copies(session: Session, build: Build, good, units: np.ndarray, vectors: np.ndarray,
                ids: np.ndarray, options: BuildOptions):
    """Return each image's copies and distinct list where its list holds copies."""
    threshold, _ = StoredEmbedder.facts(build.model_key, build.weights, build.metric, session)
    hashes = [f.content_hash for f in good]
    signatures = ThumbnailSignatures(options.thumbnail_dir, hashes, build.invariance)
    return related_images(Copies(units, hashes, threshold, signatures.same_pixels), vectors,
                          ids, options.k, options.metric)


def build_search_index(session: Session, build: Build, vectors: np.ndarray, ranked: np.ndarray,
                       steps: str, options: BuildOptions
                       ) -> search_index.BuiltSearchIndex | None:
    """Build and store the web's approximate search index where the size calls for one.

    The size is the raw matrix's (`vectors`), what a worker would otherwise hold; the index
    holds what the lists rank by (`ranked`, in the space `steps` names), so uploads past
    the size rank as the lists do.
    """
    if not search_index.wanted(options.search_index, len(vectors), vectors.shape[1],
                               options.metric):
        return None
    tick = time.perf_counter()
    built = search_index.build(ranked, steps)
    store.save_search_index(session, build.id, built)
    build.timings = {**build.timings, "search_index_seconds": time.perf_counter() - tick,
                     "search_index": built.kind, "search_recall_at_10": built.recall_at_10}
    return built


def save_exploration(session: Session, build: Build, exploration: Exploration) -> None:
    """Record the build's k, how it was chosen, its curve and its map's method."""
    clustering = exploration.clustering
    if clustering is not None:
        build.cluster_count, build.cluster_method = clustering.k, clustering.method
    build.map_method = exploration.map_method
    if clustering is not None and exploration.curve_png is not None:
        store.save_cluster_curve(session, build.id, exploration.curve_png,
                                 clustering.curve.as_json())


def compare_with(previous: dict[str, str], good) -> dict:
    """Count files new, changed and removed since the previous index (by path and hash)."""
    if not previous:
        return {}
    current = {f.path: f.content_hash for f in good}
    return {"new": sum(p not in previous for p in current),
            "changed": sum(p in previous and previous[p] != h for p, h in current.items()),
            "removed": sum(p not in current for p in previous)}
