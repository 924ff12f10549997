"""Use cases over ports: crawling, preprocessing, datasets, retrieval."""
