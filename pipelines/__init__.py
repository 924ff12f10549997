"""ZenML pipelines: one per file, wiring only."""
