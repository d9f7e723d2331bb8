"""What is still waiting to be indexed (the jobs themselves are in ``jobs``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from appliance.db.connection import Connection
from appliance.db.queries import scalar

__all__ = ["Pending", "filing_count", "pending"]


@dataclass(frozen=True)
class Pending:
    """Sections not indexed under the current chunking policy, per company (CIK; None for
    filings without one), with the filings they belong to."""

    sections: dict[int | None, int]
    filings: dict[int | None, int]

    def total(self, ciks: Sequence[int] | None = None) -> int:
        if ciks is None:
            return sum(self.sections.values())
        return sum(self.sections.get(c, 0) for c in ciks)


def pending(conn: Connection, policy: str | None) -> Pending:
    """Sections per company not indexed under ``policy`` (None: not indexed at all)."""
    stale = " OR i.policy != ?" if policy is not None else ""
    rows = conn.execute(
        "SELECT f.cik, count(*), count(DISTINCT s.accession)"
        " FROM sections s JOIN filings f ON f.accession = s.accession"
        " LEFT JOIN indexed_sections i ON i.section_id = s.id"
        f" WHERE i.section_id IS NULL{stale} GROUP BY f.cik",
        (policy,) if policy is not None else (),
    ).fetchall()
    return Pending(
        {r[0]: int(r[1]) for r in rows},
        {r[0]: int(r[2]) for r in rows},
    )


def filing_count(conn: Connection) -> int:
    return int(scalar(conn, "SELECT count(*) FROM filings"))
