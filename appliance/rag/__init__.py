"""Filings retrieval: chunking, indexing, hybrid search and extractive answers."""
