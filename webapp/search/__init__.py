"""Search by upload: the page and POST /api/search (views.py), the upload taken in memory
(uploads.py), exact search over the build's matrix (exact.py) or its memory-mapped FAISS
index past a size (mapped_index.py). No torch: onnxruntime and NumPy."""
