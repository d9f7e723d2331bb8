"""The item catalogs of Forms 10-K and 10-Q: section codes, their order and standard titles.

Codes are what the rest of the appliance stores and cites: ``"1A"``, ``"7"`` for a 10-K and
``"part1_item2"``, ``"part2_item1a"`` for a 10-Q (a 10-Q repeats item numbers in each part).
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.edgar.vocabulary import periodic_family

__all__ = [
    "FORM_10K_ITEMS",
    "FORM_10Q_ITEMS",
    "Item",
    "ItemCatalog",
    "catalog_for",
]


@dataclass(frozen=True, slots=True)
class Item:
    code: str  # stored section code
    number: str  # as printed after "Item": "1A", "7", "15"
    part: int | None  # 1-4 for a 10-K's Parts I-IV; 1-2 for a 10-Q (where it is significant)
    title: str
    order: int
    topic: str  # the subject in a few words (what the embedder reads with each chunk)


@dataclass(frozen=True, slots=True)
class ItemCatalog:
    family: str  # "10-K" or "10-Q"
    items: tuple[Item, ...]
    # True when the same item number exists in several parts (10-Q), so a heading's part matters.
    parts_matter: bool

    def lookup(self, number: str, part: int | None) -> list[Item]:
        """Items printed as ``Item <number>``, restricted to ``part`` when it is known."""
        number = number.upper()
        found = [i for i in self.items if i.number == number]
        if part is not None and self.parts_matter:
            found = [i for i in found if i.part == part]
        return found

    def by_code(self, code: str) -> Item | None:
        return next((i for i in self.items if i.code == code), None)


# The subject of an Item in a few words, where its title is long. Every chunk is embedded
# behind a line naming its company, form and Item (``rag.index.embed_header_for``); the full
# titles ("Management's Discussion and Analysis of Financial Condition and Results of
# Operations") cost up to 25 of the chunk's 256 tokens, and their boilerplate words weighed
# in the vector of every passage of the Item.
_TOPICS = {
    "4": "Mine Safety",
    "5": "Market for Common Equity",
    "6": "Selected Financial Data",  # "[Reserved]" since 2021; older filings have the table
    "7": "Management's Discussion and Analysis",
    "7A": "Market Risk",
    "8": "Financial Statements",
    "9": "Changes in Accountants",
    "9C": "Foreign Jurisdictions",
    "10": "Directors and Officers",
    "12": "Security Ownership",
    "13": "Related Transactions",
    "14": "Accountant Fees",
    "15": "Exhibits and Schedules",
    "16": "Summary",
    "part1_item2": "Management's Discussion and Analysis",
    "part1_item3": "Market Risk",
    "part2_item2": "Unregistered Sales of Equity",
    "part2_item3": "Defaults",
    "part2_item4": "Mine Safety",
}


def _items(rows: list[tuple[str, str, int | None, str]]) -> tuple[Item, ...]:
    return tuple(
        Item(code, number, part, title, n, _TOPICS.get(code, title))
        for n, (code, number, part, title) in enumerate(rows)
    )


FORM_10K_ITEMS = ItemCatalog(
    family="10-K",
    parts_matter=False,
    items=_items(
        [
            ("1", "1", 1, "Business"),
            ("1A", "1A", 1, "Risk Factors"),
            ("1B", "1B", 1, "Unresolved Staff Comments"),
            ("1C", "1C", 1, "Cybersecurity"),
            ("2", "2", 1, "Properties"),
            ("3", "3", 1, "Legal Proceedings"),
            ("4", "4", 1, "Mine Safety Disclosures"),
            (
                "5",
                "5",
                2,
                "Market for Registrant's Common Equity, Related Stockholder Matters and "
                "Issuer Purchases of Equity Securities",
            ),
            ("6", "6", 2, "[Reserved]"),
            (
                "7",
                "7",
                2,
                "Management's Discussion and Analysis of Financial Condition and Results of "
                "Operations",
            ),
            ("7A", "7A", 2, "Quantitative and Qualitative Disclosures About Market Risk"),
            ("8", "8", 2, "Financial Statements and Supplementary Data"),
            (
                "9",
                "9",
                2,
                "Changes in and Disagreements with Accountants on Accounting and Financial "
                "Disclosure",
            ),
            ("9A", "9A", 2, "Controls and Procedures"),
            ("9B", "9B", 2, "Other Information"),
            ("9C", "9C", 2, "Disclosure Regarding Foreign Jurisdictions that Prevent Inspections"),
            ("10", "10", 3, "Directors, Executive Officers and Corporate Governance"),
            ("11", "11", 3, "Executive Compensation"),
            (
                "12",
                "12",
                3,
                "Security Ownership of Certain Beneficial Owners and Management and Related "
                "Stockholder Matters",
            ),
            (
                "13",
                "13",
                3,
                "Certain Relationships and Related Transactions, and Director Independence",
            ),
            ("14", "14", 3, "Principal Accountant Fees and Services"),
            ("15", "15", 4, "Exhibits and Financial Statement Schedules"),
            ("16", "16", 4, "Form 10-K Summary"),
        ]
    ),
)

FORM_10Q_ITEMS = ItemCatalog(
    family="10-Q",
    parts_matter=True,
    items=_items(
        [
            ("part1_item1", "1", 1, "Financial Statements"),
            (
                "part1_item2",
                "2",
                1,
                "Management's Discussion and Analysis of Financial Condition and Results of "
                "Operations",
            ),
            ("part1_item3", "3", 1, "Quantitative and Qualitative Disclosures About Market Risk"),
            ("part1_item4", "4", 1, "Controls and Procedures"),
            ("part2_item1", "1", 2, "Legal Proceedings"),
            ("part2_item1a", "1A", 2, "Risk Factors"),
            ("part2_item2", "2", 2, "Unregistered Sales of Equity Securities and Use of Proceeds"),
            ("part2_item3", "3", 2, "Defaults Upon Senior Securities"),
            ("part2_item4", "4", 2, "Mine Safety Disclosures"),
            ("part2_item5", "5", 2, "Other Information"),
            ("part2_item6", "6", 2, "Exhibits"),
        ]
    ),
)


def catalog_for(form: str | None) -> ItemCatalog | None:
    family = periodic_family(form)
    if family == "10-K":
        return FORM_10K_ITEMS
    if family == "10-Q":
        return FORM_10Q_ITEMS
    return None
