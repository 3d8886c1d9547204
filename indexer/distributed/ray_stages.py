"""The job's heavy stages on a Ray cluster: the one-machine functions, spread over its nodes.

- hashing: partitions of the file list as tasks (every node must read the files: a shared
  folder, or an object-store prefix);
- embedding: an actor pool, one model copy per actor. On CPUs (the MNN engine) each actor
  decodes and embeds its own batches, as the one-machine workers do; where the model runs in
  torch (GPUs), CPU tasks decode and one actor per GPU embeds;
- exact top-k: blocks of rows as tasks, each against all the vectors, which are put in the
  object store once and read in place by every task on a node; merged in row order. Past the
  exact limit FAISS runs in this process, as on one machine.
Each batch, partition and block gives the same result wherever it runs (the same batches as
one machine, one model thread per actor as in one machine's workers, top_k_of_rows per row),
so the lists equal one machine's. A killed worker changes nothing: Ray restarts a dead actor
and runs its unfinished batches again (a few times: see RESTARTS), and re-runs a task whose
worker died.
"""
from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections import deque
from typing import Iterator

import numpy as np
import ray
from tqdm import tqdm

import core
import indexer
import samples
from .. import scan
from ..neighbors import find_neighbors
from ..neighbors.small import empty_lists, top_k_of_rows
from ..read import BATCHES_AHEAD, batch_size_for, batches_of, decode_batch, vectors_of

HASH_PARTITION = 256   # files a hashing task reads
CONNECT_TIMEOUT = 10   # seconds to wait for a remote cluster to answer
TASKS_PER_CPU = 4      # top-k tasks per CPU: enough to even out the load at the end
# Read from the environment by fsspec/s3fs on every node of a remote cluster (a local one
# inherits this process's environment whole). Credentials are not sent: nodes have their own.
FORWARDED = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION")


@contextlib.contextmanager
def on_ray(address: str) -> Iterator[RayStages]:
    """Connect to the cluster at `address` (`local`: start one here); disconnect after."""
    tick = time.perf_counter()
    _connect(address)
    try:
        yield RayStages(address, time.perf_counter() - tick)
    except ray.exceptions.RayTaskError as exc:  # the task's own error, not Ray's wrapping
        raise exc.cause if isinstance(exc.cause, Exception) else exc
    finally:
        ray.shutdown()


def _connect(address: str) -> None:
    if address == "local":
        # A local cluster's workers start with this process's environment: the package's
        # folder on PYTHONPATH lets them import it without packaging it (3 s less a run).
        here = os.path.dirname(os.path.dirname(os.path.abspath(indexer.__file__)))
        before = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, before]))
        try:
            ray.init(address="local", include_dashboard=False, log_to_driver=False)
        finally:  # the cluster's processes have it; this process's children need not
            if before is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = before
        return
    _check_reachable(address)
    # A remote cluster gets the job's packages with it (0.3 MB); its nodes must have
    # requirements-job.txt installed (README, Beyond one machine).
    env = {name: os.environ[name] for name in FORWARDED if name in os.environ}
    ray.init(address=address, log_to_driver=False,
             runtime_env={"py_modules": [core, indexer, samples], "env_vars": env})


def host_and_port(address: str) -> tuple[str, int] | None:
    """Return (host, port) of `host:port`, `[v6]:port` or `ray://...`; None for `auto` & co."""
    rest = address.removeprefix("ray://").rstrip("/")
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]:")
    else:
        host, _, port = rest.rpartition(":")
        if ":" in host:  # a bare IPv6 address, without a port
            return None
    return (host, int(port)) if host and port.isdigit() else None


def _check_reachable(address: str) -> None:
    """Fail at once when nothing listens at a host:port address (ray.init retries for minutes)."""
    if (where := host_and_port(address)) is None:  # auto, or a name Ray resolves itself
        return
    host, port = where
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise ConnectionError(f"no Ray cluster answers at {address}: "
                              f"{exc.strerror or exc}") from exc


class RayStages:
    """hash_files, embed_files and find_neighbors as stages.OneMachine has them, on Ray."""

    neighbors_device = "cpu"  # the exact top-k's tasks run on CPUs (the size limit to use)

    def __init__(self, address: str, start_seconds: float):
        resources = ray.cluster_resources()
        self.cpus, self.gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
        self.description = f"Ray {address}: {self.cpus} CPUs, {self.gpus} GPUs"
        self.timings = {"ray": {"address": address, "cpus": self.cpus, "gpus": self.gpus,
                                "start_seconds": round(start_seconds, 2)}}  # and "actors"

    def hash_files(self, files: list[scan.ScannedFile]):
        """Hash partitions of `files` as tasks; return (hashed files in order, skips)."""
        parts = [files[s:s + HASH_PARTITION] for s in range(0, len(files), HASH_PARTITION)]
        results = ray.get([_hash_partition.remote(part) for part in parts])
        return ([f for good, _ in results for f in good],
                [skip for _, skips in results for skip in skips])

    def embed_files(self, embedder, items: list[tuple[str, str]], *, batch_size: int,
                    workers: int, thumbnail_dir: str | None) -> Iterator:
        """Yield (outcomes of a batch, its raw features) in order, as reader.embed_files."""
        if not items:  # everything was embedded before: no model copies to start
            return
        fused = embedder.embeds_in_workers
        actors, shared = self._start_copies(embedder, fused)
        count = len(actors)
        # Batches in flight: two queued per copy; where CPU tasks decode, enough to keep
        # every CPU decoding.
        ahead = BATCHES_AHEAD * count if fused else max(BATCHES_AHEAD * count, self.cpus)

        def submit(number: int, batch):
            actor = actors[number % count]
            if fused:
                return actor.decode_and_embed.remote(batch, thumbnail_dir)
            decoded = _decode.remote(batch, embedder.preprocessing, thumbnail_dir)
            return actor.embed.remote(decoded)

        try:
            pending = deque()
            size = batch_size_for(embedder, batch_size, fused)
            for number, batch in enumerate(batches_of(items, size)):
                pending.append(submit(number, batch))
                if len(pending) > ahead:
                    yield ray.get(pending.popleft())
            while pending:
                yield ray.get(pending.popleft())
        finally:  # the actors hold CPUs (or GPUs) the next stage's tasks need
            del shared
            for actor in actors:
                ray.kill(actor)

    def _start_copies(self, embedder, fused: bool):
        """Start the model copies; return them and the model's reference they were given.

        MNN: one single-threaded copy per CPU, each decoding its own batches. torch: one
        copy per GPU (or one on the CPUs), fed by CPU tasks that decode.
        """
        if fused:
            model, count, needs = embedder.for_workers(embedder.threads), self.cpus, {}
        else:
            model, needs = embedder, {"num_gpus": 1} if self.gpus else {}
            count = self.gpus or 1
        # Put once for all the copies. Ray warns that a restarted copy needs it still: the
        # stage holds the reference until it ends.
        shared = ray.put(model)
        self.timings["ray"]["actors"] = count
        return [ModelCopy.options(**needs).remote(shared) for _ in range(count)], shared

    def find_neighbors(self, method: str, vectors: np.ndarray, k: int, device: str = "cpu",
                       progress: bool = False, metric: str = "cosine"):
        """Exact top-k by blocks of rows as tasks (FAISS here); as neighbors.find_neighbors."""
        if method != "exact" and metric == "cosine":
            return find_neighbors(method, vectors, k, device, progress, metric)
        n = len(vectors)
        kk, ids, scores = empty_lists(n, k)
        if kk == 0:
            return ids, scores, None
        base = ray.put(np.ascontiguousarray(vectors, dtype=np.float32))
        step = -(-n // (self.cpus * TASKS_PER_CPU))
        blocks = [(start, _top_k_block.remote(base, start, min(n, start + step), kk, metric))
                  for start in range(0, n, step)]
        for start, block in tqdm(blocks, desc="neighbours", unit="block",
                                 disable=not progress, file=sys.stderr):
            block_ids, block_scores = ray.get(block)
            ids[start:start + len(block_ids)], scores[start:start + len(block_ids)] = (
                block_ids, block_scores)
        return ids, scores, None


# A copy whose process dies (killed, out of memory) is started again and runs the batches it
# had not returned; its results are the same. A few times only: a batch that kills every
# copy it meets (a crash in a decoder) must fail the run, not loop.
RESTARTS = 3


@ray.remote(num_cpus=1, max_restarts=RESTARTS, max_task_retries=RESTARTS)
class ModelCopy:
    """One copy of the model, on one CPU or one GPU."""

    def __init__(self, embedder):
        self.embedder = embedder

    def decode_and_embed(self, batch, thumbnail_dir: str | None):
        return decode_batch(batch, self.embedder, self.embedder.preprocessing, thumbnail_dir)

    def embed(self, decoded):
        outcomes, pixels = decoded
        return outcomes, vectors_of(self.embedder, pixels)


@ray.remote
def _hash_partition(files):
    return scan.hash_files(files)


@ray.remote
def _decode(batch, preprocessing, thumbnail_dir):
    return decode_batch(batch, None, preprocessing, thumbnail_dir)


@ray.remote
def _top_k_block(base: np.ndarray, start: int, stop: int, kk: int, metric: str):
    return top_k_of_rows(base, start, stop, kk, metric)
