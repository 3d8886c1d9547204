"""What the ranking steps do by default, and the flags that turn each off."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RankingSettings:
    whiten: bool = True   # learn a whitening from the collection (cosine builds only)
    dba: bool = True      # alpha-weighted database-side augmentation, then rank again
    # Whitening: at most this many principal directions (never more than N - 1: a small
    # collection has no more), each scaled by its singular value ** -power (1 is full
    # whitening, which over-amplifies the weak directions; see README, "Rankings learned
    # from the collection", for the table these defaults come from).
    dims: int = 256
    power: float = 0.25
    # Augmentation: each vector's nearest `neighbours` (besides itself), weighted by
    # similarity ** alpha; an upload is expanded the same way (alpha query expansion).
    neighbours: int = 5
    alpha: float = 1.0

    @property
    def steps(self) -> str:
        """Return the steps on, as evaluate.py names them: "whiten+dba", "dba", or "raw"."""
        return "+".join(name for name, on in (("whiten", self.whiten), ("dba", self.dba))
                        if on) or "raw"

    def as_json(self) -> dict:
        return {"steps": self.steps, "dims": self.dims, "power": self.power,
                "neighbours": self.neighbours, "alpha": self.alpha}
