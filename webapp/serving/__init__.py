"""Serving the active index fast: which build is served (active_index), the rendered-page
cache in front of Flask (page_cache, lru), pages rendered before the workers fork (warmup),
static files (static_files), the collection's images and thumbnails (image_files), /healthz."""
