"""The database layer: one typed Database API (database.py) over SQLite (sqlite.py: a reader
pool and one writer thread) or PostgreSQL (postgres/), migrations for both engines, queries."""
