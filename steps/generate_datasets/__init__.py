"""Steps of the ``generate_datasets`` pipeline: thin wrappers around llm_engineering.application.datasets."""
