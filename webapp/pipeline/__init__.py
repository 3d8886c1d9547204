"""Offline stages of the job: scan, embed, neighbors, store, and the runner that chains them."""
