"""The offline job, by stage; it takes a database session and paths, no Flask app.

- scan.py: find the collection's files and hash their content;
- reader.py: decode them (and write thumbnails) in worker processes, embed them in batches;
- models/: what embeds them: the backbone registry, the torch and MNN engines, the ONNX
  export the web searches with, the near-duplicate calibration, the per-machine cache;
- neighbors/: each image's exact top-k (NumPy for small collections, the chunked sweep),
  or FAISS past the exact limit;
- locations.py: folders and object-store prefixes (s3://) read and written alike;
- embedding.py: embed what has no vector yet, storing each batch as it comes;
- store.py: bulk writes and the one-transaction publish;
- stages.py, distributed/: where the heavy stages run: this machine, or a Ray cluster;
- runner.py: the stages in order.
"""
