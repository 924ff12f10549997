"""Adapters to the outside world: databases, vector stores, LLMs, local services."""
