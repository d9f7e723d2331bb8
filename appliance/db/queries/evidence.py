"""Corpus statistics the Q&A's confidence reads: how many indexed passages use a word."""

from __future__ import annotations

from appliance.db.connection import Connection

__all__ = ["doc_freq", "passage_count"]


def doc_freq(conn: Connection, term: str) -> int:
    """Passages whose text contains ``term`` (FTS5: porter-stemmed, case-folded)."""
    quoted = '"' + term.replace('"', '""') + '"'
    row = conn.execute(
        "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (f"text : {quoted}",)
    ).fetchone()
    return int(row[0])


def passage_count(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
