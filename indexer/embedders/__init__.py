"""What turns a crop into a vector: registry.py names the backbones; the rest builds, runs,
exports and calibrates them. Only lite.py, networks.py, torch_engine.py, export.py and the
autoencoder's network and training import torch."""
