"""The offline job, by stage; it takes a database session and paths, no Flask app.

- scan.py: find the collection's files and hash their content (core/hashing.py);
- read.py: decode them (and write thumbnails) in worker processes, embed them in batches;
- embedders/: what embeds them: the backbone registry, the torch and MNN engines, the ONNX
  export the web searches with, the near-duplicate calibration, the per-machine cache, and
  the autoencoder trained on the collection (autoencoder/);
- embed.py: embed what has no vector yet, storing each batch as it comes;
- neighbors/: each image's exact top-k (NumPy for small collections, the chunked sweep),
  or FAISS past the exact limit;
- explore/: k-means clusters and the 2-D map;
- search_index.py: the web's approximate index for search by upload, past a size;
- store.py: bulk writes and the one-transaction publish;
- placement.py, distributed/: where the heavy stages run: this machine, or a Ray cluster;
- runner.py: the stages in order.
It imports the shared core (core/), never the site (webapp/).
"""
