"""PostgreSQL behind the same :class:`~appliance.db.database.Database` (setting
``database_url``): connections, the pooled database, migrations' runner support, the replica
registry and the change feed that keeps every replica's in-memory index in step."""
