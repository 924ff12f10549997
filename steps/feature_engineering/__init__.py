"""Steps of the ``feature_engineering`` pipeline: thin wrappers over ``llm_engineering.application.features``."""
