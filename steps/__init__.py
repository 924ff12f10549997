"""Thin ZenML steps, grouped by pipeline."""

ZENML_MODEL = "llm_twin"
"""The ZenML Model whose versions mirror the registry's twins (training registers them, evaluation
scores and promotes them)."""
