"""Pictures and collections drawn on the spot: for the tier calibration, the tests and the
benchmarks. Pillow only; imports nothing of the project."""
