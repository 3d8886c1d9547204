"""Keep UMAP's compiled code between runs, in a folder beside the model cache.

UMAP and pynndescent are numba code, compiled on first use in every process: about 9 s of a
1000-image run before this cache. pynndescent marks its functions `cache=True`, but its cache
would go beside the installed package; umap-learn marks almost none of its own. So the job
points numba at NUMBA_CACHE_DIR (here, unless the environment names one) before numba is
first imported, and turns caching on for umap's compiled functions after importing it.
numba checks each cached function against its source file and this CPU before using it, so a
new umap-learn or another machine recompiles rather than running stale code.
"""
from __future__ import annotations

import os
import sys

from ..embedders.model_files import cache_folder


def numba_cache_folder() -> str:
    return os.path.join(cache_folder(), "numba")


def import_umap_class():
    """Return umap.UMAP with its compiled code cached across runs."""
    os.environ.setdefault("NUMBA_CACHE_DIR", numba_cache_folder())
    import numba
    if not numba.config.CACHE_DIR:  # numba was imported before the variable was set
        numba.config.CACHE_DIR = numba_cache_folder()
    from numba.core.dispatcher import Dispatcher
    from umap import UMAP
    for name, module in list(sys.modules.items()):
        if name == "umap" or name.startswith("umap."):
            for value in vars(module).values():
                if isinstance(value, Dispatcher):
                    value.enable_caching()  # what numba.njit(cache=True) does to a function
    return UMAP
