"""Shared pytest set-up."""

import os

import matplotlib

# Tests never open windows.
matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")
