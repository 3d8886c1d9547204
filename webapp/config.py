"""The site's settings, read from the environment (core/settings.py: those the job shares)."""
import os
import secrets

from core.settings import database_url, normalize_database_url, thumbnail_dir
from .duplicates.keeper import parse_folders, parse_rules


class Config:
    """Read once at app creation; tests pass overrides to create_app instead of setting env."""

    def __init__(self, instance_path: str):
        env = os.environ
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(database_url(instance_path))
        # pre-ping: the site recovers by itself once a restarted database is back.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        # No known default: without SECRET_KEY each process gets a random one (the site keeps
        # no sessions, so nothing is lost but what a real deployment sets anyway).
        self.SECRET_KEY = env.get("SECRET_KEY") or secrets.token_hex(32)
        # Overrides the collection root that the build recorded (the images moved, or the
        # web runs on another machine than the job).
        self.IMAGE_DIR = env.get("IMAGE_DIR") or None
        self.THUMBNAIL_DIR = thumbnail_dir(instance_path)
        self.MAX_UPLOAD_MB = float(env.get("MAX_UPLOAD_MB", "20"))
        self.MAX_CONTENT_LENGTH = int(self.MAX_UPLOAD_MB * 1024 * 1024)
        # Uploads are decoded in the worker, up to 4 bytes a pixel (Pillow alone allows 179
        # megapixels): larger ones answer 413 before any pixel is decoded.
        self.MAX_UPLOAD_MEGAPIXELS = float(env.get("MAX_UPLOAD_MEGAPIXELS", "50"))
        # Searches one worker runs at once (each holds a decoded upload); more answer 503
        # with Retry-After rather than add their memory to the worker's.
        self.SEARCHES_PER_WORKER = int(env.get("SEARCHES_PER_WORKER", "1"))
        self.PER_PAGE = int(env.get("PER_PAGE", "48"))
        # onnxruntime threads per worker for search by upload; one each suits a worker per core.
        self.SEARCH_THREADS = int(env.get("SEARCH_THREADS", "1"))
        # This machine's copies of the builds' approximate search indexes, memory-mapped by
        # its workers (webapp/search/mapped_index.py); a local disk, written once per build.
        self.SEARCH_INDEX_DIR = env.get("SEARCH_INDEX_DIR") or os.path.join(instance_path,
                                                                              "search_indexes")
        # Images on object storage or a CDN: originals at IMAGE_BASE_URL/<path>, thumbnails at
        # THUMBNAIL_BASE_URL/<thumbnail path> (default IMAGE_BASE_URL/thumbnails).
        self.IMAGE_BASE_URL = env.get("IMAGE_BASE_URL") or None
        self.THUMBNAIL_BASE_URL = env.get("THUMBNAIL_BASE_URL") or None
        # How stale a web process may be after a publish, and its rendered-page cache size.
        self.INDEX_REFRESH_SECONDS = float(env.get("INDEX_REFRESH_SECONDS", "2"))
        self.PAGE_CACHE_MB = float(env.get("PAGE_CACHE_MB", "32"))
        # Pages gunicorn's master renders before forking the workers (webapp/serving/warmup.py).
        self.PAGE_CACHE_WARM = int(env.get("PAGE_CACHE_WARM", "2000"))
        # Duplicates: the order of the rules that choose the copy to keep (webapp/duplicates/keeper.py),
        # and folders (relative to the collection root) whose files are never listed for
        # removal, comma-separated. A wrong rule name stops the app at start, not at a page.
        self.DUPLICATE_KEEP_RULES = parse_rules(env.get("DUPLICATE_KEEP_RULES"))
        self.DUPLICATE_PROTECTED = parse_folders(env.get("DUPLICATE_PROTECTED"))
