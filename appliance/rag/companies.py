"""Which companies a question names, resolved against the whole symbol map.

The directory holds every company the appliance knows: the SEC ticker map (about 10,000
companies), the names and former names of imported submissions JSON, the names and tickers on
imported filings, and a short list of well-known brands that no SEC name contains
(``appliance/resources/company_aliases.json``: "Google" is Alphabet). A question is matched
against all of it, because a question about Microsoft on an appliance that only has Apple's
filings must resolve to Microsoft (and say it is not indexed), never fall back to searching
Apple.

The hard part is not matching names but not matching ordinary words: "our target margin",
"Apple pie", "visa requirements", "What ARE the drivers", "Is it ON track". The rules:

- **Tickers** count when marked as tickers (``$TSLA``, ``NYSE: KO``, ``(NASDAQ: AAPL)``,
  ``ticker XOM``), or written in capitals and not an ordinary word (``MSFT``, ``JPM's``). A
  capitalised ordinary word (``NOW``, ``ALL``, ``IT``) or a single letter is a ticker only
  when marked, as are finance acronyms that happen to be tickers (``EU``, ``AI``, ``FCF``).
- **Names** are matched word by word, longest first, suffixes ignored ("Microsoft
  Corporation" = "MICROSOFT CORP"), hyphens either way ("Wal-Mart" = "Walmart"). A question
  written in normal case must capitalise a name ("the target", "an intel report" are words);
  in an all-lower-case question only names that are not ordinary words count
  ("microsoft azure"). A name made only of ordinary words ("Target", "Apple", "Visa") also
  needs a sign that a company is meant: a possessive, a corporate suffix ("Ball
  Corporation"), a ticker beside it, another company in the question, or words of finance
  ("sales", "dividend", "10-K"). Several such words together ("Best Buy", "Home Depot") are a
  name by themselves.
- **Short forms**: the first word of a name ("Nvidia", "Exxon", "Costco") when it is not an
  ordinary or generic word ("American", "General") and names one company, or clearly the
  largest of those it names (the SEC lists larger issuers first: "Berkshire").

Precision and recall are measured by ``make bench`` (``tests/bench/bench_qa_honesty.py``) on
blind question sets; see the README.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from appliance.db.connection import Connection
from appliance.db.queries.companies import DirectoryRows, directory_rows, directory_signature
from appliance.edgar.vocabulary import normalize_ticker
from appliance.paths import resources_dir
from appliance.rag.keyword import word_set

__all__ = [
    "Company",
    "CompanyBook",
    "CompanyDirectory",
    "Lexicon",
    "Mention",
    "name_key",
]

# Words that end a company's name without telling companies apart.
_SUFFIXES = word_set(
    """
    inc incorporated corp corporation co company companies cos ltd limited plc llc lp l.p
    holdings holding group sa ag nv se de del adr ads com the new
    """
)
# Name words that are ordinary in company names: never a short form on their own.
_GENERIC = word_set(
    """
    american america first general national united international global capital financial
    income growth fund trust bank bancorp energy new north south east west great pacific
    atlantic southern northern western eastern central standard advanced applied digital data
    technology technologies systems solutions services resources industries partners realty
    health medical pharmaceutical pharmaceuticals home life best royal universal community
    federal security alliance premier strategic core select china us usa u.s
    """
)
# Finance acronyms that are also tickers somewhere: written in capitals they mean the term.
_ACRONYMS = word_set(
    """
    ceo cfo coo cto cio eps gaap ebit ebitda esg etf ipo sec fasb ifrs usa us uk eu ai ev
    roe roa roi roic fcf capex opex yoy qoq fy ltm ttm lbo irr npv wacc dcf cogs nii nim
    arpu arr mrr saas api gdp cpi fed fomc libor sofr otc nyse nasdaq adr reit mlp llc hr pr
    ir tv pc cd md tx irs occ fdic doj ftc fda epa eur usd gpu cpu ok q1 q2 q3 q4 ii iii iv
    """
)
_EXCHANGES = word_set("nyse nasdaq amex nysearca nysemkt otc otcqx otcmkts tsx lse cboe bats")
_TICKER_WORDS = word_set("ticker tickers symbol symbols")
# Words that say a question is about a business (the sign an ordinary-word name needs).
_FINANCE = word_set(
    """
    revenue revenues sales sale earnings earn earned profit profits profitable margin margins
    income dividend dividends shares share stock stocks buyback buybacks repurchase
    repurchases 10-k 10-q 10k 10q 8-k filing filings annual quarterly quarter quarters fiscal
    guidance segment segments ceo cfo debt cash capex acquisition acquisitions acquire lawsuit
    litigation risk risks employees headcount customers operating report reported reports
    disclose disclosed discloses disclosure company's company companies business
    subscription subscribers store stores comparable same-store growth grew market valuation
    investors shareholder shareholders eps ebitda expenses costs spending spend r&d liquidity assets
    liabilities balance results outlook forecast deliveries orders backlog pricing
    competitors competition brand products services supply chain tariffs
    """
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[&'\u2019.\-][A-Za-z0-9]+)*|&")
_SLASH_TAIL = re.compile(r"\s*[/\\].*$")
_PARENS = re.compile(r"\([^)]*\)")


def _fold(word: str) -> str:
    """One form for a name word and its plural or possessive: 'Lowe's' and 'LOWES',
    'Domino's' and 'DOMINOS' (both sides of every comparison are folded)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ies")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    """Folded lower-case name words: '&' -> 'and', possessives dropped, split at '-', '.'."""
    text = text.lower().replace("\u2019", "'").replace("&", " and ")
    out = []
    for w in _WORD.findall(text):
        w = w.removesuffix("'s").removesuffix("'")
        if w and w != "s":
            out.append(_fold(w))
    return out


def _generic(word: str) -> bool:
    return word in _GENERIC or word + "s" in _GENERIC


def name_key(name: str) -> tuple[str, ...]:
    """'MICROSOFT CORP' -> ('microsoft',); 'Wells Fargo & Company/MN' -> ('wells', 'fargo');
    'The Home Depot, Inc.' -> ('home', 'depot')."""
    text = _PARENS.sub(" ", _SLASH_TAIL.sub("", name))
    words = _words(text)
    while words and (words[-1] in _SUFFIXES or words[-1] == "and"):
        words.pop()
    while words and words[0] == "the":
        words.pop(0)
    return tuple(words)


@dataclass(frozen=True)
class Lexicon:
    """Ordinary English words (``resources/common_words.txt``, see
    ``models/build_common_words.py``) and brand aliases (``resources/company_aliases.json``:
    alias -> ticker)."""

    common: frozenset[str]
    aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path | None = None) -> Lexicon:
        root = root or resources_dir()
        common = (root / "common_words.txt").read_text(encoding="utf-8").split()
        aliases = json.loads((root / "company_aliases.json").read_text(encoding="utf-8"))
        return cls(frozenset(common), {k: v for k, v in aliases.items() if k != "_about"})

    def ordinary(self, word: str) -> bool:
        """An ordinary English word (or, for a folded word, its plural)."""
        return word in self.common or word + "s" in self.common


@dataclass(frozen=True)
class Company:
    cik: int
    ticker: str | None  # the primary listing (the SEC's order), None when it has none
    name: str
    rank: int  # position in the ticker file: smaller is larger; unlisted companies last

    def public(self) -> dict[str, object]:
        return {"ticker": self.ticker, "cik": self.cik, "company": self.name}


@dataclass(frozen=True)
class Mention:
    company: Company
    text: str  # as written in the question
    how: str  # "ticker" | "name" | "former" | "alias" | "short"


@dataclass
class _Token:
    text: str
    start: int
    end: int
    words: list[str]
    possessive: bool
    cashtag: bool


_UNLISTED = 1_000_000


class CompanyDirectory:
    """Every company the appliance knows, indexed for resolution. Immutable once built."""

    def __init__(
        self,
        rows: DirectoryRows,
        lexicon: Lexicon,
        *,
        dominance: float = 5.0,
        prominent: int = 200,
        short_form_rank: int = 2000,
    ) -> None:
        self.lexicon = lexicon
        self.dominance = dominance  # a key names the largest company if this much larger
        self.prominent = prominent  # a single-word name of a company this large stands alone
        self.short_form_rank = short_form_rank  # first-word short forms for companies this large
        best: dict[int, tuple[int, str, str]] = {}
        self._tickers: dict[str, int] = {}
        for ticker, cik, name, rank in rows.symbols:
            self._tickers[ticker.upper()] = cik
            if cik not in best or rank < best[cik][0]:
                best[cik] = (rank, ticker.upper(), name)
        names: dict[int, str] = {}
        self._filed = {c for c, _n, how in rows.names if how == "filing"}
        for cik, ticker in rows.filing_tickers:
            self._tickers.setdefault(ticker, cik)
        keys: dict[tuple[str, ...], dict[int, str]] = {}
        normal: dict[str, tuple[str, ...]] = {}  # the same name comes from several sources
        for cik, name, how in rows.names:
            names.setdefault(cik, name)
            key = normal.get(name) or normal.setdefault(name, name_key(name))
            self._add_key(keys, key, cik, how)
        for _ticker, cik, name, _rank in rows.symbols:
            key = normal.get(name) or normal.setdefault(name, name_key(name))
            self._add_key(keys, key, cik, "name")
        filed_as = {c: t for c, t in rows.filing_tickers}
        self.companies: dict[int, Company] = {}
        for cik in set(names) | set(best) | set(self._tickers.values()):
            listed = best.get(cik)
            if listed is not None:
                self.companies[cik] = Company(cik, listed[1], listed[2], listed[0])
            else:
                name = names.get(cik, f"CIK {cik}")
                self.companies[cik] = Company(cik, filed_as.get(cik), name, _UNLISTED)
        for alias, ticker in lexicon.aliases.items():
            owner = self._tickers.get(ticker.upper())
            if owner is not None:
                self._add_key(keys, name_key(alias), owner, "alias")
        self._short_forms(keys)
        picked = {k: self._pick(v) for k, v in keys.items()}
        self._keys = {k: v for k, v in picked.items() if v is not None}
        self._key_words = {w for k in self._keys for w in k}
        self._longest = max((len(k) for k in self._keys), default=0)

    @staticmethod
    def _add_key(
        keys: dict[tuple[str, ...], dict[int, str]], key: tuple[str, ...], cik: int, how: str
    ) -> None:
        if not key or (len(key) == 1 and len(key[0]) < 2):
            return
        found = keys.setdefault(key, {})
        if found.get(cik) not in ("name", "filing", "alias"):  # current names outrank former
            found[cik] = how

    def _short_forms(self, keys: dict[tuple[str, ...], dict[int, str]]) -> None:
        firsts: dict[str, set[int]] = {}
        for key, owners in keys.items():
            if len(key) < 2:
                continue
            first = key[0]
            if len(first) < 3 or _generic(first) or first in _SUFFIXES or first.isdigit():
                continue
            firsts.setdefault(first, set()).update(
                c
                for c, how in owners.items()
                if how != "former"
                and (self.companies[c].rank <= self.short_form_rank or c in self._filed)
            )
        for first, ciks in firsts.items():
            if not ciks:
                continue
            entry = keys.setdefault((first,), {})
            for cik in ciks:
                entry.setdefault(cik, "short")

    def _pick(self, ciks: dict[int, str]) -> tuple[int, str] | None:
        """The company a key names: the only one, or one clearly larger than the rest."""
        if len(ciks) <= 1:
            return next(iter(ciks.items()), None)
        ranked = sorted(ciks.items(), key=lambda item: self.companies[item[0]].rank)
        first, second = (self.companies[c].rank for c, _ in ranked[:2])
        if first < _UNLISTED and (first + 1) * self.dominance <= second + 1:
            return ranked[0]
        return None

    # ----- lookups -----
    def by_ticker(self, ticker: str) -> Company | None:
        normal = normalize_ticker(ticker)
        if normal is None:
            return None
        cik = self._tickers.get(normal) or self._tickers.get(normal.replace(".", "-"))
        return self.companies.get(cik) if cik is not None else None

    def by_cik(self, cik: int) -> Company | None:
        return self.companies.get(cik)

    def __len__(self) -> int:
        return len(self.companies)

    # ----- resolution -----
    def resolve(self, question: str) -> list[Mention]:
        """The companies ``question`` names, in order of first mention, each once."""
        tokens = _tokenize(question)
        letters = [c for c in question if c.isalpha()]
        upper = sum(c.isupper() for c in letters)
        shouting = bool(letters) and upper > 0.6 * len(letters)
        cased = upper > 0 and not shouting
        found: list[_Found] = []
        used: set[int] = set()
        self._names(tokens, question, cased, found, used)
        self._ticker_mentions(tokens, question, shouting, found, used)
        finance = any(w in _FINANCE for t in tokens for w in (t.text.lower(), *t.words))
        sure = {f.mention.company.cik for f in found if f.strength == _SURE or f.sign}
        out: list[Mention] = []
        for f in sorted(found, key=lambda f: f.at):
            cik = f.mention.company.cik
            if not (f.strength == _SURE or f.sign or _listed(f, found, tokens, question)):
                if f.strength == _SINGLE:
                    # One distinctive word ("Celsius", "Vinci"): a large company, or a
                    # question about business.
                    if not (finance or f.mention.company.rank < self.prominent):
                        continue
                elif not finance or sure - {cik}:
                    # Ordinary words ("Apple", "Target"): a question about business that names
                    # no other company ("Microsoft's Intelligent Cloud" is a segment).
                    continue
                elif (
                    f.mention.how == "short"
                    and f.mention.company.rank >= self.prominent
                    and cik not in self._filed
                ):
                    # The first word of a smaller company's name ("Customers Bancorp",
                    # "State Street"): too often just the word ("Direct Customer A").
                    continue
            if all(m.company.cik != cik for m in out):
                out.append(f.mention)
        return out

    def _names(
        self,
        tokens: list[_Token],
        question: str,
        cased: bool,
        found: list[_Found],
        used: set[int],
    ) -> None:
        # Word positions: one token can hold several words ("Coca-Cola", "Amazon.com"); a
        # hyphenated token is one word when the directory knows it joined ("Wal-Mart").
        flat: list[tuple[int, str]] = []
        for ti, t in enumerate(tokens):
            joined = "".join(t.words)
            one = len(t.words) > 1 and "-" in t.text and joined in self._key_words
            flat.extend((ti, w) for w in ([joined] if one else t.words))
        i = 0
        while i < len(flat):
            for n in range(min(self._longest, len(flat) - i), 0, -1):
                key = tuple(w for _, w in flat[i : i + n])
                hit = self._keys.get(key)
                # A match covers whole tokens: "micron" in "micron-level" is a word.
                if hit is None or not _whole(flat, i, n):
                    continue
                a, b = flat[i][0], flat[i + n - 1][0]
                strength = self._strength(key, hit[1], tokens, question, a, b, cased)
                if strength is None:
                    continue
                sign = _sign(tokens, b)
                # The suffixes after a name are part of it ("Match Group, Inc.").
                while i + n < len(flat) and flat[i + n][1] in _SUFFIXES - {"the"}:
                    b = flat[i + n][0]
                    n += 1
                mention = Mention(self.companies[hit[0]], _span(tokens, a, b), hit[1])
                found.append(_Found(tokens[a].start, a, b, mention, strength, sign))
                used.update(range(a, b + 1))
                i += n
                break
            else:
                i += 1

    def _strength(
        self,
        key: tuple[str, ...],
        how: str,
        tokens: list[_Token],
        question: str,
        a: int,
        b: int,
        cased: bool,
    ) -> str | None:
        """How surely words a..b name a company; None when they do not."""
        first = tokens[a]
        if cased and not _capitalised(first.text):
            return None  # "our target margin", "any intel on": words, not names
        if first.text.lower() in _EXCHANGES and question[first.end :].lstrip()[:1] in (":", ""):
            return None  # "NYSE: KO" names the listing, not the exchange operator
        ordinary = all(self.lexicon.ordinary(w) or _generic(w) for w in key)
        # "Best Buy", "Home Depot", "ON Semiconductor": several capitalised words are a name.
        several = len(key) >= 2 and all(_capitalised(t.text) for t in tokens[a : b + 1])
        if ordinary and several:
            return _SURE
        if ordinary and (not cased or (first.text.isupper() and len(first.text) > 1)):
            return None  # an all-lower-case question, or capitals for emphasis ("the TEAM")
        if ordinary:
            if a > 0 and tokens[a - 1].text.lower() in _DETERMINERS:
                return None  # "our Target margin", "a General statement", "the Visa rules"
            return _ORDINARY
        if how == "short" or len(key) == 1:
            return _SINGLE
        return _SURE

    def _ticker_mentions(
        self,
        tokens: list[_Token],
        question: str,
        shouting: bool,
        found: list[_Found],
        used: set[int],
    ) -> None:
        for ti, t in enumerate(tokens):
            if ti in used:
                continue
            raw = t.text.replace("\u2019", "'")
            bare = raw[:-2] if raw.endswith("'s") else raw
            if not (t.cashtag or _marked(tokens, ti, question)):
                if not bare.isupper() or shouting or len(bare) < 2:
                    continue
                low = bare.lower()
                if low in _ACRONYMS or _generic(low) or self.lexicon.ordinary(low):
                    continue
            company = self.by_ticker(bare)
            if company is not None:
                mention = Mention(company, t.text, "ticker")
                found.append(_Found(t.start, ti, ti, mention, _SURE, True))


# How surely a match names a company (see CompanyDirectory.resolve).
_SURE = "sure"  # a ticker, a name of several distinctive or capitalised words
_SINGLE = "single"  # one distinctive word: "Nvidia", "Celsius"
_ORDINARY = "ordinary"  # ordinary words: "Apple", "Target", "Visa"
_CONNECTORS = word_set("and or vs versus with against than to")
_DETERMINERS = word_set(
    "a an the our their its my your his her this that these those any some no every each"
)


@dataclass(frozen=True)
class _Found:
    at: int  # character offset in the question
    first: int  # token range
    last: int
    mention: Mention
    strength: str
    sign: bool  # a sign of its own beside it (possessive, corporate suffix)


def _listed(f: _Found, found: list[_Found], tokens: list[_Token], question: str) -> bool:
    """Named in a list with another company: "Apple and Microsoft", "Visa, Mastercard"."""
    for g in found:
        if g.mention.company.cik == f.mention.company.cik:
            continue
        left, right = (f, g) if f.last < g.first else (g, f)
        if right.first <= left.last:
            continue
        between = question[tokens[left.last].end : tokens[right.first].start]
        words = between.replace(",", " ").replace("&", " and ").lower().split()
        if all(w in _CONNECTORS for w in words) and len(words) <= 2:
            return True
    return False


def _tokenize(question: str) -> list[_Token]:
    tokens = []
    for m in _TOKEN.finditer(question):
        text = m.group(0)
        after = question[m.end() : m.end() + 1]
        possessive = text.lower().replace("\u2019", "'").endswith("'s") or after in ("'", "\u2019")
        cashtag = m.start() > 0 and question[m.start() - 1] == "$"
        tokens.append(_Token(text, m.start(), m.end(), _words(text), possessive, cashtag))
    return tokens


def _whole(flat: list[tuple[int, str]], i: int, n: int) -> bool:
    """The words i..i+n cover whole tokens: no token is cut at either end."""
    first_token, last_token = flat[i][0], flat[i + n - 1][0]
    starts_token = i == 0 or flat[i - 1][0] != first_token
    ends_token = i + n == len(flat) or flat[i + n][0] != last_token
    return starts_token and ends_token


def _capitalised(text: str) -> bool:
    return any(c.isupper() for c in text)


def _span(tokens: list[_Token], a: int, b: int) -> str:
    return " ".join(t.text for t in tokens[a : b + 1])


def _sign(tokens: list[_Token], b: int) -> bool:
    """A sign beside a name (ending at token ``b``) that a company is meant: a possessive or
    a corporate suffix after it."""
    if tokens[b].possessive:
        return True
    nxt = tokens[b + 1] if b + 1 < len(tokens) else None
    return nxt is not None and bool(nxt.words) and nxt.words[0] in _SUFFIXES - {"the", "new"}


def _marked(tokens: list[_Token], ti: int, question: str) -> bool:
    """Written as a ticker: after an exchange ('NYSE: KO', 'NASDAQ:AAPL') or 'ticker', or
    alone in parentheses ('(AAPL)')."""
    if ti > 0:
        prev = tokens[ti - 1]
        between = question[prev.end : tokens[ti].start]
        if prev.text.lower() in _EXCHANGES and between.strip() in ("", ":"):
            return True
        if prev.text.lower() in _TICKER_WORDS and between.strip() in ("", ":"):
            return True
    t = tokens[ti]
    before = question[: t.start].rstrip()
    after = question[t.end :].lstrip()
    return before.endswith("(") and after.startswith(")")


class CompanyBook:
    """The current :class:`CompanyDirectory`, rebuilt when the symbol map, the imported
    submissions or the filings change (another process may load them: checked per use, by a
    few counts). Thread-safe."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._lock = threading.Lock()
        self._signature: tuple[int, ...] | None = None
        self._directory: CompanyDirectory | None = None

    def get(self, conn: Connection) -> CompanyDirectory:
        signature = directory_signature(conn)
        directory = self._directory
        if directory is not None and signature == self._signature:
            return directory
        with self._lock:
            if self._directory is None or signature != self._signature:
                self._directory = CompanyDirectory(directory_rows(conn), self.lexicon)
                self._signature = signature
            return self._directory
