"""LLM Twin: the library behind the pipelines. Imports no ZenML and does no I/O at import."""
