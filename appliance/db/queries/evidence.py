"""Corpus statistics the Q&A's confidence reads: how many indexed passages use a word."""

from __future__ import annotations

from appliance.db.connection import Connection, Variants
from appliance.db.queries import scalar

__all__ = ["doc_freq", "passage_count"]

# SQLite: FTS5's text column (porter-stemmed, case-folded). PostgreSQL: the weighted tsvector
# of 0005 (English stemming), its GIN index finding the candidates and ts_filter keeping the
# matches in the text (weight B) rather than the header (A), as FTS5's column filter does.
_DOC_FREQ = Variants(
    sqlite="SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
    postgresql="SELECT count(*) FROM chunks WHERE tsv @@ phraseto_tsquery('english', ?1)"
    " AND ts_filter(tsv, '{b}') @@ phraseto_tsquery('english', ?1)",
)


def doc_freq(conn: Connection, term: str) -> int:
    """Passages whose text contains ``term``."""
    if conn.dialect == "postgresql":
        return int(scalar(conn, _DOC_FREQ(conn), (term,)))
    quoted = '"' + term.replace('"', '""') + '"'
    return int(scalar(conn, _DOC_FREQ(conn), (f"text : {quoted}",)))


def passage_count(conn: Connection) -> int:
    return int(scalar(conn, "SELECT count(*) FROM chunks"))
