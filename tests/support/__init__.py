"""Helpers the tests (and a few measuring scripts) share: running the commands, databases,
servers (gunicorn, S3, a TCP proxy), hostile files, and the lists of a built index."""
