"""What turns a crop into a vector: registry.py names the backbones; the rest builds, runs,
exports and calibrates them. Only lite0.py, networks.py, torch_engine.py and export.py import
torch."""
