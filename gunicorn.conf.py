"""gunicorn settings for the Procfile's web process, read from the environment (Heroku-style)."""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
# Heroku sets WEB_CONCURRENCY from the dyno's size; 2 suits a small dyno or a 2-core machine.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threaded workers: a sync worker reads a request's body itself, so one slow upload (a client
# trickling 20 MB) held a whole worker for up to `timeout`; with threads the others keep
# answering (without a front proxy that buffers bodies). Searches stay bounded
# per worker (SEARCHES_PER_WORKER), pages are short CPU work. GUNICORN_CMD_ARGS (read by
# gunicorn itself) can still change any of this, e.g. "--worker-class sync --threads 1"
# (gunicorn turns sync workers with more than one thread into gthread ones).
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# The router gives up after 30 s; a worker stuck longer than that is killed and replaced.
timeout = 30
graceful_timeout = 20
# Load the app once in the master: a broken app fails at start-up, workers fork fast and
# share memory. Nothing touches the database before a request, so no connection is shared.
preload_app = True
accesslog = "-"
errorlog = "-"


def when_ready(server):
    """Render the first pages in the master, so that the forked workers start warm."""
    from webapp.serving.warmup import warm_pages
    try:
        warm_pages(server.app.wsgi())
    except Exception as exc:  # a database not reachable yet must not keep the site down
        reason = (str(exc).splitlines() or [""])[0]
        server.log.warning("pages not rendered before starting the workers: %s: %s",
                           exc.__class__.__name__, reason)
