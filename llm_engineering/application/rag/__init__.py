"""Retrieval-augmented generation: ``retrieval`` embeds a query and searches the embedded collections."""
