"""Trained models: tabular pipelines and end-to-end CNNs."""
