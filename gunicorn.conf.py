"""gunicorn settings for the Procfile's web process, read from the environment (Heroku-style)."""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
# Heroku sets WEB_CONCURRENCY from the dyno's size; 2 suits a small dyno or a 2-core machine.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# The router gives up after 30 s; a worker stuck longer than that is killed and replaced.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Load the app once in the master: a broken app fails at start-up, workers fork fast and
# share memory. Nothing touches the database before a request, so no connection is shared.
preload_app = True
accesslog = "-"
errorlog = "-"
