"""The database layer: connection factory, migrations, the reader/writer executor, queries."""
