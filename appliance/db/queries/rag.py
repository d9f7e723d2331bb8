"""Chunks, their vectors and keyword index, and what retrieval reads about filings."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection, Variants
from appliance.db.queries import scalar

__all__ = [
    "ChunkRow",
    "CitationRow",
    "CompanyRow",
    "FilingMeta",
    "IndexRow",
    "NewChunk",
    "SectionTodo",
    "cached_embeddings",
    "chunk_count",
    "citation_rows",
    "companies",
    "filing_metas",
    "index_rows",
    "keyword_search",
    "live_chunk_ids",
    "pending_sections",
    "resolve_ticker",
    "section_text",
    "store_embeddings",
    "store_section",
]


@dataclass(frozen=True)
class SectionTodo:
    """A section to (re)index, with what its chunks' contextual header needs."""

    section_id: int
    accession: str
    item: str
    title: str
    cik: int | None
    ticker: str | None
    company: str | None
    form: str
    filing_date: str
    period_of_report: str | None
    chars: int


def pending_sections(
    conn: Connection,
    policy: str,
    accessions: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
) -> list[SectionTodo]:
    """Sections never indexed, or indexed under another chunking policy.

    Newest filing first: on a first start the filing most questions are about becomes
    searchable first.
    """
    where = ""
    params: list[Any] = [policy]
    for column, values in (("s.accession", accessions), ("s.item", items)):
        if values is not None:
            if not values:
                return []
            where += f" AND {column} IN ({','.join('?' * len(values))})"
            params.extend(values)
    rows = conn.execute(
        "SELECT s.id, s.accession, s.item, s.title, f.cik, f.ticker, f.company, f.form,"
        " f.filing_date, f.period_of_report, s.char_count"
        " FROM sections s JOIN filings f ON f.accession = s.accession"
        " LEFT JOIN indexed_sections i ON i.section_id = s.id"
        " WHERE (i.section_id IS NULL OR i.policy != ?)" + where + ""
        " ORDER BY f.filing_date DESC, s.accession, s.ordinal",
        params,
    ).fetchall()
    return [SectionTodo(*tuple(r)) for r in rows]


def section_text(conn: Connection, section_id: int) -> str | None:
    row = conn.execute("SELECT text FROM sections WHERE id = ?", (section_id,)).fetchone()
    return None if row is None else str(row[0])


@dataclass(frozen=True)
class NewChunk:
    ordinal: int
    char_start: int
    char_end: int
    tokens: int
    header: str
    text: str
    embedding: bytes  # int8[384]


# sqlite-vec's vec0 table takes the int8 codes through vec_int8(); PostgreSQL keeps the same
# bytes in a plain column (and, where pgvector is installed, a trigger mirrors them as a vector).
_INSERT_VECTOR = Variants(
    sqlite="INSERT INTO chunk_vectors (chunk_id, embedding) VALUES (?, vec_int8(?))",
    postgresql="INSERT INTO chunk_vectors (chunk_id, embedding) VALUES (?, ?)",
)


def store_section(
    conn: Connection, section_id: int, accession: str, policy: str, chunks: Sequence[NewChunk]
) -> tuple[list[int], list[int]]:
    """Replace a section's chunks, vectors and keyword rows, and mark it indexed.

    Runs inside the caller's transaction, so the section is stored whole or not at all.
    Returns ``(removed_ids, new_ids)``. A section deleted meanwhile (re-import) stores nothing.
    """
    if conn.execute("SELECT 1 FROM sections WHERE id = ?", (section_id,)).fetchone() is None:
        return [], []
    removed = [
        int(r[0]) for r in conn.execute("SELECT id FROM chunks WHERE section_id = ?", (section_id,))
    ]
    conn.execute("DELETE FROM chunks WHERE section_id = ?", (section_id,))  # triggers clean up
    new_ids: list[int] = []
    insert_vector = _INSERT_VECTOR(conn)
    for c in chunks:
        chunk_id = int(
            scalar(
                conn,
                "INSERT INTO chunks (section_id, accession, ordinal, char_start, char_end, tokens,"
                " header, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    section_id,
                    accession,
                    c.ordinal,
                    c.char_start,
                    c.char_end,
                    c.tokens,
                    c.header,
                    c.text,
                ),
            )
        )
        conn.execute(insert_vector, (chunk_id, c.embedding))
        new_ids.append(chunk_id)
    conn.execute(
        "INSERT INTO indexed_sections (section_id, accession, chunks, policy) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (section_id) DO UPDATE SET chunks = excluded.chunks,"
        " policy = excluded.policy, indexed_at = strftime('%Y-%m-%dT%H:%M:%fZ')",
        (section_id, accession, len(chunks), policy),
    )
    return removed, new_ids


CHUNK_CHANNEL = "appliance_chunks"
_NOTIFY_LIMIT = 7900  # PostgreSQL's payload limit is 8000 bytes


def chunk_change_payload(removed: Sequence[int], new: Sequence[int]) -> str:
    """``r1,2;n3,4``; "sync" when the ids do not fit in one notification."""
    payload = "r" + ",".join(map(str, removed)) + ";n" + ",".join(map(str, new))
    return payload if len(payload) <= _NOTIFY_LIMIT else "sync"


def parse_chunk_change(payload: str) -> tuple[list[int], list[int]] | None:
    """The (removed, new) ids of a payload; None for "sync" (or anything unexpected)."""
    removed, sep, new = payload.partition(";n")
    if not sep or not removed.startswith("r"):
        return None
    try:
        return [int(x) for x in removed[1:].split(",") if x], [int(x) for x in new.split(",") if x]
    except ValueError:
        return None


def announce_chunks(conn: Connection, removed: Sequence[int], new: Sequence[int]) -> None:
    """Tell the other replicas which chunks this transaction changed (PostgreSQL: a NOTIFY,
    delivered when the transaction commits; SQLite has one process and needs none)."""
    if conn.dialect == "postgresql" and (removed or new):
        conn.execute("SELECT pg_notify(?, ?)", (CHUNK_CHANNEL, chunk_change_payload(removed, new)))


@dataclass(frozen=True)
class IndexRow:
    """What the in-memory index holds per chunk."""

    chunk_id: int
    cik: int
    filing_date: str
    form: str
    item: str
    accession: str
    tokens: int
    embedding: bytes


def index_rows(conn: Connection, chunk_ids: Sequence[int] | None = None) -> Iterator[IndexRow]:
    """Every chunk (or the given ones) with its vector and filter metadata."""
    sql = (
        "SELECT c.id, coalesce(f.cik, 0), f.filing_date, f.form, s.item, c.accession, c.tokens,"
        " v.embedding"
        " FROM chunks c JOIN sections s ON s.id = c.section_id"
        " JOIN filings f ON f.accession = c.accession"
        " JOIN chunk_vectors v ON v.chunk_id = c.id"
    )
    if chunk_ids is None:
        cursor = conn.execute(sql)
    else:
        if not chunk_ids:
            return
        cursor = conn.execute(
            sql + f" WHERE c.id IN ({','.join('?' * len(chunk_ids))})", list(chunk_ids)
        )
    for r in cursor:
        yield IndexRow(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], int(r[6]), bytes(r[7]))


def live_chunk_ids(conn: Connection) -> set[int]:
    return {int(r[0]) for r in conn.execute("SELECT id FROM chunks")}


def chunk_texts_after(conn: Connection, after_id: int, limit: int) -> list[tuple[int, str]]:
    """``(id, text)`` of the next ``limit`` chunks after ``after_id``, in id order."""
    rows = conn.execute(
        "SELECT id, text FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def chunk_count(conn: Connection) -> int:
    return int(scalar(conn, "SELECT count(*) FROM chunks"))


@dataclass(frozen=True)
class CitationRow:
    chunk_id: int
    text: str
    header: str
    item: str
    section_title: str
    accession: str
    cik: int | None
    ticker: str | None
    company: str | None
    form: str
    filing_date: str
    period_of_report: str | None
    url: str | None


def citation_rows(conn: Connection, chunk_ids: Sequence[int]) -> dict[int, CitationRow]:
    if not chunk_ids:
        return {}
    rows = conn.execute(
        "SELECT c.id, c.text, c.header, s.item, s.title, f.accession, f.cik, f.ticker,"
        " f.company, f.form, f.filing_date, f.period_of_report, f.url"
        " FROM chunks c JOIN sections s ON s.id = c.section_id"
        " JOIN filings f ON f.accession = c.accession"
        f" WHERE c.id IN ({','.join('?' * len(chunk_ids))})",
        list(chunk_ids),
    ).fetchall()
    return {int(r[0]): CitationRow(*tuple(r)) for r in rows}


_PHRASE = re.compile(r'"((?:[^"]|"")*)"')


def keyword_search(
    conn: Connection,
    match: str,
    limit: int,
    *,
    weights: tuple[float, float] = (1.0, 1.0),
    ciks: Sequence[int] | None = None,
    cutoff: str | None = None,
    forms: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
    accessions: Sequence[str] | None = None,
) -> list[tuple[int, float]]:
    """BM25 over header and text, best first, filtered inside the query.

    ``match`` is an FTS5 expression (the caller quotes every term and ORs them). Returns
    ``(chunk_id, score)`` with SQLite's sign: lower is better. PostgreSQL ranks the same
    quoted terms, each a phrase, with ts_rank over the weighted tsvector (0005): the scores
    differ from BM25's, the order is what the retriever uses.
    """
    postgresql = conn.dialect == "postgresql"
    params: list[Any] = []
    if postgresql:
        phrases = [p.replace('""', '"') for p in _PHRASE.findall(match)]
        if not phrases:
            return []
        params.extend(phrases)
        query = " || ".join("phraseto_tsquery('english', ?)" for _ in phrases)
        where = [f"c.tsv @@ ({query})"]
        rank = (
            f"-ts_rank('{{0, 0, {float(weights[1])}, {float(weights[0])}}}'::float4[],"
            f" c.tsv, ({query}))"
        )
        source = "chunks c"
    else:
        where = ["chunks_fts MATCH ?"]
        params.append(match)
        rank = f"bm25(chunks_fts, {float(weights[0])}, {float(weights[1])})"
        source = "chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
    if cutoff is not None:
        where.append("f.filing_date <= ?")
        params.append(cutoff)
    for column, values in (
        ("f.cik", ciks),
        ("f.form", forms),
        ("s.item", items),
        ("c.accession", accessions),
    ):
        if values is not None:
            if not values:
                return []
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if postgresql:  # the phrases appear twice: in the match and in the rank
        params = [*phrases, *params]
    rows = conn.execute(
        f"SELECT c.id, {rank} AS rank FROM {source}"
        " JOIN sections s ON s.id = c.section_id"
        " JOIN filings f ON f.accession = c.accession"
        f" WHERE {' AND '.join(where)} ORDER BY rank LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


@dataclass(frozen=True)
class FilingMeta:
    accession: str
    cik: int | None
    ticker: str | None
    company: str | None
    form: str
    filing_date: str
    period_of_report: str | None
    indexed_chunks: int


def filing_metas(conn: Connection) -> list[FilingMeta]:
    """Every imported filing with its count of indexed chunks, oldest first."""
    rows = conn.execute(
        "SELECT f.accession, f.cik, f.ticker, f.company, f.form, f.filing_date,"
        " f.period_of_report, (SELECT count(*) FROM chunks c WHERE c.accession = f.accession)"
        " FROM filings f ORDER BY f.filing_date, f.accession"
    ).fetchall()
    return [FilingMeta(*tuple(r)) for r in rows]


@dataclass(frozen=True)
class CompanyRow:
    """A company that has filings here, with every name and ticker it is known by."""

    cik: int
    names: tuple[str, ...]
    tickers: tuple[str, ...]


def companies(conn: Connection) -> list[CompanyRow]:
    by_cik: dict[int, tuple[set[str], set[str]]] = {}
    for cik, ticker, company in conn.execute(
        "SELECT DISTINCT cik, ticker, company FROM filings WHERE cik IS NOT NULL"
    ):
        names, tickers = by_cik.setdefault(int(cik), (set(), set()))
        if company:
            names.add(str(company))
        if ticker:
            tickers.add(str(ticker).upper())
    if by_cik:
        marks = ",".join("?" * len(by_cik))
        ciks = list(by_cik)
        for cik, ticker, name in conn.execute(
            f"SELECT cik, ticker, name FROM symbols WHERE cik IN ({marks})", ciks
        ):
            by_cik[int(cik)][0].add(str(name))
            by_cik[int(cik)][1].add(str(ticker).upper())
        for cik, name in conn.execute(
            f"SELECT cik, name FROM companies WHERE cik IN ({marks})"
            f" UNION SELECT cik, name FROM company_names WHERE cik IN ({marks})",
            ciks + ciks,
        ):
            by_cik[int(cik)][0].add(str(name))
    return [
        CompanyRow(cik, tuple(sorted(names)), tuple(sorted(tickers)))
        for cik, (names, tickers) in sorted(by_cik.items())
    ]


def resolve_ticker(conn: Connection, ticker: str) -> int | None:
    """The CIK of a ticker: from the imported filings first (delisted companies keep their
    ticker there), else from the symbol map."""
    t = ticker.strip().upper()
    row = conn.execute(
        "SELECT cik FROM filings WHERE ticker = ? AND cik IS NOT NULL"
        " ORDER BY filing_date DESC LIMIT 1",
        (t,),
    ).fetchone()
    if row is None:
        row = conn.execute("SELECT cik FROM symbols WHERE ticker = ?", (t,)).fetchone()
    return None if row is None else int(row[0])


def chunk_rows(conn: Connection, accession: str) -> list[ChunkRow]:
    rows = conn.execute(
        "SELECT c.id, s.item, c.ordinal, c.tokens, c.text FROM chunks c"
        " JOIN sections s ON s.id = c.section_id WHERE c.accession = ?"
        " ORDER BY s.ordinal, c.ordinal",
        (accession,),
    ).fetchall()
    return [ChunkRow(*tuple(r)) for r in rows]


@dataclass(frozen=True)
class ChunkRow:
    id: int
    item: str
    ordinal: int
    tokens: int
    text: str


def cached_embeddings(conn: Connection, keys: Sequence[bytes]) -> dict[bytes, bytes]:
    """The stored int8 vectors of the given content keys (those present)."""
    out: dict[bytes, bytes] = {}
    for i in range(0, len(keys), 500):
        part = list(keys[i : i + 500])
        marks = ",".join("?" * len(part))
        for key, emb in conn.execute(
            f"SELECT key, embedding FROM embedding_cache WHERE key IN ({marks})", part
        ):
            out[bytes(key)] = bytes(emb)
    return out


def store_embeddings(conn: Connection, items: Sequence[tuple[bytes, bytes]]) -> None:
    """Remember vectors by content key (inside the caller's transaction)."""
    conn.executemany(
        "INSERT INTO embedding_cache (key, embedding) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        list(items),
    )
