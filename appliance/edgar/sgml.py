"""EDGAR's SGML container: the full-submission ``.txt`` and documents still in their wrapper.

A full submission is ``<SEC-DOCUMENT>`` holding a ``<SEC-HEADER>`` (``KEY:<tab>VALUE`` lines) and
one ``<DOCUMENT>`` per file (``<TYPE>``, ``<SEQUENCE>``, ``<FILENAME>``, ``<DESCRIPTION>``,
``<TEXT>``). Filings up to about 2002 are also wrapped in a PEM "privacy-enhanced message"
envelope, and pre-1996 ones may use ``<IMS-HEADER>``. A third form exists in the wild: the same
file with every tag stripped (``BeautifulSoup.get_text``), where documents can only be told
apart by their bare TYPE and SEQUENCE lines; :func:`parse_submission` recovers those too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = [
    "SecHeader",
    "Submission",
    "SubmissionDocument",
    "looks_like_submission",
    "parse_submission",
]


@dataclass(frozen=True, slots=True)
class SubmissionDocument:
    type: str
    sequence: int | None
    filename: str | None
    description: str | None
    text: str
    # False when the </TEXT> or </DOCUMENT> closing tag is missing: a truncated file.
    complete: bool = True


@dataclass(frozen=True, slots=True)
class SecHeader:
    accession: str | None = None
    form: str | None = None
    period_of_report: date | None = None
    filing_date: date | None = None
    acceptance_datetime: datetime | None = None
    cik: str | None = None  # ten digits, as in the header
    company: str | None = None
    # Every KEY: VALUE pair in order of appearance (keys repeat across filer blocks).
    fields: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Submission:
    header: SecHeader
    documents: list[SubmissionDocument]
    tag_stripped: bool = False

    def main_document(self, form: str | None = None) -> SubmissionDocument | None:
        """The document whose TYPE is the filing's form (first match), else the first one."""
        wanted = _form_key(form or self.header.form or "")
        if wanted:
            for doc in self.documents:
                if _form_key(doc.type) == wanted:
                    return doc
        return self.documents[0] if self.documents else None


_ACCESSION = re.compile(r"\b(\d{10}-\d{2}-\d{6})\b")
_HEADER_LINE = re.compile(r"^\s*([A-Z][A-Z0-9 .#&/()-]*?):[ \t]*(.*?)\s*$")
_ACCEPTANCE_TAG = re.compile(r"<ACCEPTANCE-DATETIME>\s*(\d{14})", re.IGNORECASE)
# In tag-stripped text the acceptance time sits alone on the line after "...hdr.sgml : DATE".
_ACCEPTANCE_BARE = re.compile(r"\.hdr\.sgml\s*:\s*\d{8}\s*\n\s*(\d{14})\s*\n")
_DOC_FIELD = re.compile(r"<(TYPE|SEQUENCE|FILENAME|DESCRIPTION)>[ \t]*([^\r\n<]*)", re.IGNORECASE)
_TEXT_OPEN = re.compile(r"<TEXT>", re.IGNORECASE)
_TEXT_CLOSE = re.compile(r"</TEXT>", re.IGNORECASE)
_DOCUMENT_OPEN = re.compile(r"<DOCUMENT>", re.IGNORECASE)
_DOCUMENT_CLOSE = re.compile(r"</DOCUMENT>", re.IGNORECASE)
_HEADER_BLOCK = re.compile(r"<(SEC-HEADER|IMS-HEADER)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_XBRL_WRAPPER = re.compile(r"^\s*<XBRL>|</XBRL>\s*$", re.IGNORECASE)
_PEM_END = "-----END PRIVACY-ENHANCED MESSAGE-----"
# A bare document TYPE line (tag-stripped files): 10-K, 10-K405, EX-10.A49, GRAPHIC, ZIP ...
_BARE_TYPE = re.compile(
    r"^(?:EX-\d[\w.\-]*|\d{1,2}-[A-Z]{1,3}\d{0,3}(?:/A)?|10-KT|GRAPHIC|ZIP|XML|EXCEL|JSON|PDF|"
    r"COVER|ARS|CORRESP)$"
)
_BARE_FILENAME = re.compile(r"[\w\-.]+\.[A-Za-z]{2,5}")


def _form_key(form: str) -> str:
    return form.strip().upper()


def looks_like_submission(text: str) -> bool:
    """True when text is a full submission or a document in its SGML wrapper."""
    head = text[:4000]
    return bool(
        re.search(r"<(SEC-DOCUMENT|SEC-HEADER|IMS-HEADER|DOCUMENT)>", head, re.IGNORECASE)
        or ("ACCESSION NUMBER:" in head and "CONFORMED SUBMISSION TYPE:" in head)
    )


def _parse_date(value: str) -> date | None:
    value = value.strip()
    if len(value) == 8 and value.isdigit():
        try:
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            return None
    return None


def _parse_stamp(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S")
    except ValueError:
        return None


def parse_header(text: str) -> SecHeader:
    """Read the ``KEY: VALUE`` lines of an SEC header (tagged or tag-stripped)."""
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        m = _HEADER_LINE.match(line)
        if m and m.group(2):
            fields.append((m.group(1).strip().upper(), m.group(2).strip()))

    def first(key: str) -> str | None:
        return next((v for k, v in fields if k == key), None)

    accession = first("ACCESSION NUMBER")
    if accession is None and (m := _ACCESSION.search(text[:2000])):
        accession = m.group(1)
    stamp = _ACCEPTANCE_TAG.search(text) or _ACCEPTANCE_BARE.search(text)
    cik = first("CENTRAL INDEX KEY")
    return SecHeader(
        accession=accession,
        form=first("CONFORMED SUBMISSION TYPE") or first("FORM TYPE"),
        period_of_report=_parse_date(first("CONFORMED PERIOD OF REPORT") or ""),
        filing_date=_parse_date(first("FILED AS OF DATE") or ""),
        acceptance_datetime=_parse_stamp(stamp.group(1)) if stamp else None,
        cik=cik.zfill(10) if cik and cik.isdigit() else None,
        company=first("COMPANY CONFORMED NAME"),
        fields=fields,
    )


def _tagged_documents(text: str) -> list[SubmissionDocument]:
    documents: list[SubmissionDocument] = []
    pos = 0
    while (start := _DOCUMENT_OPEN.search(text, pos)) is not None:
        end = _DOCUMENT_CLOSE.search(text, start.end())
        stop = end.start() if end else len(text)
        body = text[start.end() : stop]
        pos = end.end() if end else len(text)
        opened = _TEXT_OPEN.search(body)
        preamble = body[: opened.start()] if opened else body
        meta = {k.upper(): v.strip() for k, v in _DOC_FIELD.findall(preamble)}
        content = ""
        complete = end is not None
        if opened:
            closed = _TEXT_CLOSE.search(body, opened.end())
            content = body[opened.end() : closed.start() if closed else len(body)]
            content = _XBRL_WRAPPER.sub("", content)
            complete = complete and closed is not None
        seq = meta.get("SEQUENCE", "")
        documents.append(
            SubmissionDocument(
                type=meta.get("TYPE", ""),
                sequence=int(seq) if seq.isdigit() else None,
                filename=meta.get("FILENAME") or None,
                description=meta.get("DESCRIPTION") or None,
                text=content,
                complete=complete,
            )
        )
    return documents


def _stripped_documents(lines: list[str]) -> tuple[int, list[SubmissionDocument]]:
    """Recover document boundaries from bare TYPE / SEQUENCE (/ FILENAME) lines.

    Returns the index of the first document line (the end of the header) and the documents.
    A boundary is a TYPE-shaped line followed by a sequence number a little above the previous
    one (copies can miss a document); once the first boundary shows a FILENAME line, every
    later boundary must too. Together these keep a lone "10-K" followed by a number in an
    exhibit index from splitting the main document.
    """
    starts: list[tuple[int, int, str, int, str | None]] = []  # (line, body, type, seq, file)
    last = 0
    with_filenames: bool | None = None
    for i, line in enumerate(lines):
        token = line.strip()
        if not _BARE_TYPE.match(token):
            continue
        j = _next_nonblank(lines, i + 1)
        seq_text = lines[j].strip() if j < len(lines) else ""
        if not seq_text.isdigit():
            continue
        seq = int(seq_text)
        if not (seq == 1 if last == 0 else last < seq <= last + 5):
            continue
        k = _next_nonblank(lines, j + 1)
        name = lines[k].strip() if k < len(lines) else ""
        has_name = bool(_BARE_FILENAME.fullmatch(name))
        if with_filenames is None:
            with_filenames = has_name
        elif with_filenames and not has_name:
            continue
        starts.append((i, k + 1 if has_name else j + 1, token, seq, name if has_name else None))
        last = seq
    documents = [
        SubmissionDocument(
            type=doc_type,
            sequence=seq,
            filename=filename,
            description=None,
            text="\n".join(lines[body : starts[n + 1][0] if n + 1 < len(starts) else len(lines)]),
        )
        for n, (_, body, doc_type, seq, filename) in enumerate(starts)
    ]
    header_end = starts[0][0] if starts else len(lines)
    return header_end, documents


def _next_nonblank(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def parse_submission(text: str) -> Submission:
    """Parse a full-submission text (PEM-wrapped, plain or tag-stripped) or a wrapped document.

    Never raises on odd input: missing parts come back as ``None`` or an empty document list,
    and the caller decides whether that is an error.
    """
    pem_end = text.find(_PEM_END)
    if pem_end != -1:
        text = text[:pem_end]
    if _DOCUMENT_OPEN.search(text):
        block = _HEADER_BLOCK.search(text)
        first_doc = _DOCUMENT_OPEN.search(text)
        header_text = block.group(2) if block else text[: first_doc.start() if first_doc else 0]
        header = parse_header(header_text if header_text.strip() else text[:200])
        if not header.accession:
            header = parse_header(text[: first_doc.start()] if first_doc else text)
        return Submission(header=header, documents=_tagged_documents(text))
    lines = text.splitlines()
    header_end, documents = _stripped_documents(lines)
    header = parse_header("\n".join(lines[:header_end]))
    return Submission(header=header, documents=documents, tag_stripped=True)
