"""Real models and data sets for accuracy studies and layer benches: NumPy plus the few model
libraries they need (scikit-learn). Imports golden only; tb/ and scripts/ use it."""
