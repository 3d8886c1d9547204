"""Embed the content hashes a run has no vector for, storing each batch as it comes."""
from __future__ import annotations

import contextlib
import sys

from sqlalchemy.orm import Session
from tqdm import tqdm

from core.metrics import unit_rows

from . import store
from .embedders.registry import Embedder
from .placement import OneMachine


def embed_new(session: Session, files, known: dict, embedder: Embedder, options,
              embed_files=OneMachine.embed_files) -> tuple[int, dict]:
    """Embed each content hash not in `known` (updated in place), committing per batch.

    `embed_files` is the run's stage (placement.py): on this machine, or on a Ray cluster;
    `options` a runner.BuildOptions (batch_size, workers, thumbnail_dir, progress).
    Committing as it goes lets an interrupted run's successor reuse what was done.
    Returns (how many were embedded, {content_hash: reason} for files that failed to decode).
    """
    todo = {}
    for f in files:
        if f.content_hash not in known:
            todo.setdefault(f.content_hash, f.full_path)
    items = [(path, h) for h, path in todo.items()]
    failed, embedded = {}, 0
    bar = tqdm(total=len(items), desc="embed", unit="img", disable=not options.progress,
               file=sys.stderr)
    batches = embed_files(embedder, items, batch_size=options.batch_size,
                          workers=options.workers, thumbnail_dir=options.thumbnail_dir)
    # closing: a failure while storing stops the stage's workers now, while its cluster is
    # still connected, not whenever the generator is collected.
    with contextlib.closing(batches):
        for outcomes, features in batches:
            embedded += store_batch(session, embedder.model_key, items, known, failed,
                                    outcomes, features)
            bar.update(len(outcomes))
    bar.close()
    return embedded, failed


def store_batch(session: Session, model_key: str, items, known: dict, failed: dict,
                outcomes, features) -> int:
    """Store a batch's vectors (and note its failures); return how many were stored."""
    rows = []
    decoded = [o for o in outcomes if not o.error]
    vectors, norms = unit_rows(features) if len(features) else (features, features)
    for outcome, vector, norm in zip(decoded, vectors, norms):
        content_hash = items[outcome.index][1]
        known[content_hash] = store.StoredVector(outcome.width, outcome.height,
                                                 vector.tobytes(), float(norm))
        rows.append((content_hash, known[content_hash]))
    for outcome in outcomes:
        if outcome.error:
            failed[items[outcome.index][1]] = outcome.error
    store.save_embeddings(session, model_key, rows)
    return len(rows)
