"""Read-only queries for ``appliance db check``: the books must balance, the index must be
whole, and SQLite's own checks must pass."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.db.connection import Connection


@dataclass(frozen=True)
class BalanceRow:
    """A user's balances as stored, and as the ledger and the usage events say they must be."""

    user_id: int
    email: str
    purchased: int
    purchased_expected: int
    allowance: int
    allowance_expected: int


# Purchased credits: every purchased-pool ledger row (grants, clawbacks, refunds of the
# purchased part) minus what every spend took from them (a refunded event was still spent
# once: its refund is a ledger row).
# Allowance: only the current period counts (a renewal replaces what was left): that period's
# 'monthly' row, the allowance refunds recorded after it (an allowance part is only ever given
# back within its own period), minus what that period's spends took.
_BALANCES = """
SELECT u.id, u.email, u.quota_remaining, u.allowance_remaining,
  coalesce((SELECT sum(l.delta) FROM credit_ledger l
            WHERE l.user_id = u.id AND l.pool = 'purchased'), 0)
  - coalesce((SELECT sum(e.cost - e.from_allowance) FROM usage_events e
              WHERE e.user_id = u.id AND e.status IN ('charged', 'refunded')), 0),
  coalesce((SELECT l.delta FROM credit_ledger l
            WHERE l.source = 'monthly' AND l.source_ref = u.allowance_period || ':user:' || u.id),
           0)
  + coalesce((SELECT sum(l.delta) FROM credit_ledger l
              WHERE l.user_id = u.id AND l.pool = 'allowance' AND l.source = 'refund'
                AND l.id > (SELECT m.id FROM credit_ledger m
                            WHERE m.source = 'monthly'
                              AND m.source_ref = u.allowance_period || ':user:' || u.id)), 0)
  - coalesce((SELECT sum(e.from_allowance) FROM usage_events e
              WHERE e.user_id = u.id AND e.allowance_period = u.allowance_period
                AND e.status IN ('charged', 'refunded')), 0)
FROM users u ORDER BY u.id
"""


def balances(conn: Connection) -> list[BalanceRow]:
    return [
        BalanceRow(
            user_id=r[0],
            email=r[1],
            purchased=r[2],
            allowance=r[3],
            purchased_expected=r[4],
            allowance_expected=r[5],
        )
        for r in conn.execute(_BALANCES)
    ]


@dataclass(frozen=True)
class IndexCounts:
    chunks: int
    vectors: int
    marked: int  # the sum of indexed_sections.chunks
    unmarked_chunks: int  # chunks of a section with no indexed_sections row
    live_jobs: int  # queued or running


def index_counts(conn: Connection) -> IndexCounts:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM chunk_vectors),"
        " (SELECT coalesce(sum(chunks), 0) FROM indexed_sections),"
        " (SELECT count(*) FROM chunks c WHERE NOT EXISTS"
        "   (SELECT 1 FROM indexed_sections s WHERE s.section_id = c.section_id)),"
        " (SELECT count(*) FROM index_jobs WHERE status IN ('queued', 'running'))"
    ).fetchone()
    return IndexCounts(*(int(v) for v in row))


def foreign_key_violations(conn: Connection) -> list[tuple[str, int, str]]:
    rows = conn.execute("PRAGMA foreign_key_check").fetchall()
    return [(str(r[0]), int(r[1] or 0), str(r[2])) for r in rows]


def sqlite_check(conn: Connection, *, full: bool) -> list[str]:
    """SQLite's own verdict: ``["ok"]`` when the file is sound. ``integrity_check`` reads
    every page and checks every index; ``quick_check`` skips the index/table agreement (and
    is several times faster)."""
    pragma = "integrity_check" if full else "quick_check"
    return [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(100)")]
