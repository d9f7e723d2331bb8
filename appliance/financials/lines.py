"""The standard statement lines and the concepts companies tag them with.

Filers choose among equivalent US-GAAP concepts: Apple tags revenue as
``RevenueFromContractWithCustomerExcludingAssessedTax``, NVIDIA and Tesla as ``Revenues``. A
line lists its concepts in order of preference; for each period the first one the company
reported is the line's value, as reported (nothing is recomputed).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LINES", "STATEMENTS", "Line", "line"]


@dataclass(frozen=True, slots=True)
class Line:
    key: str
    label: str
    statement: str  # income | balance | cashflow
    concepts: tuple[str, ...]  # local names, most preferred first
    instant: bool = False  # a balance at a date, not a flow over a period
    per_share: bool = False  # never derived by subtraction (share counts differ by quarter)


LINES: tuple[Line, ...] = (
    Line(
        "revenue",
        "Revenue",
        "income",
        (
            "Revenues",
            "RevenueFromContractWithCustomerExcludingAssessedTax",
            "RevenueFromContractWithCustomerIncludingAssessedTax",
            "SalesRevenueNet",
            "SalesRevenueGoodsNet",
            "RevenuesNetOfInterestExpense",
        ),
    ),
    Line(
        "cost_of_revenue",
        "Cost of revenue",
        "income",
        (
            "CostOfRevenue",
            "CostOfGoodsAndServicesSold",
            "CostOfGoodsSold",
            "CostOfGoodsAndServiceExcludingDepreciationDepletionAndAmortization",
        ),
    ),
    Line("gross_profit", "Gross profit", "income", ("GrossProfit",)),
    Line(
        "operating_expenses",
        "Operating expenses",
        "income",
        ("OperatingExpenses", "CostsAndExpenses"),
    ),
    Line("operating_income", "Operating income", "income", ("OperatingIncomeLoss",)),
    Line(
        "pretax_income",
        "Income before income taxes",
        "income",
        (
            "IncomeLossFromContinuingOperationsBeforeIncomeTaxesExtraordinaryItemsNoncontrollingInterest",
            "IncomeLossFromContinuingOperationsBeforeIncomeTaxesMinorityInterestAndIncomeLossFromEquityMethodInvestments",
        ),
    ),
    Line("income_tax", "Income tax expense", "income", ("IncomeTaxExpenseBenefit",)),
    Line(
        "net_income",
        "Net income",
        "income",
        ("NetIncomeLoss", "NetIncomeLossAvailableToCommonStockholdersBasic", "ProfitLoss"),
    ),
    Line(
        "eps_basic",
        "Basic EPS",
        "income",
        ("EarningsPerShareBasic", "EarningsPerShareBasicAndDiluted"),
        per_share=True,
    ),
    Line(
        "eps_diluted",
        "Diluted EPS",
        "income",
        ("EarningsPerShareDiluted", "EarningsPerShareBasicAndDiluted"),
        per_share=True,
    ),
    Line(
        "cash",
        "Cash and cash equivalents",
        "balance",
        (
            "CashAndCashEquivalentsAtCarryingValue",
            "CashCashEquivalentsRestrictedCashAndRestrictedCashEquivalents",
            "Cash",
        ),
        instant=True,
    ),
    Line("total_assets", "Total assets", "balance", ("Assets",), instant=True),
    Line("total_liabilities", "Total liabilities", "balance", ("Liabilities",), instant=True),
    Line(
        "total_equity",
        "Total shareholders' equity",
        "balance",
        (
            "StockholdersEquity",
            "StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
        ),
        instant=True,
    ),
    Line(
        "liabilities_and_equity",
        "Total liabilities and equity",
        "balance",
        ("LiabilitiesAndStockholdersEquity",),
        instant=True,
    ),
    Line(
        "operating_cash_flow",
        "Cash from operating activities",
        "cashflow",
        (
            "NetCashProvidedByUsedInOperatingActivities",
            "NetCashProvidedByUsedInOperatingActivitiesContinuingOperations",
        ),
    ),
    Line(
        "investing_cash_flow",
        "Cash from investing activities",
        "cashflow",
        (
            "NetCashProvidedByUsedInInvestingActivities",
            "NetCashProvidedByUsedInInvestingActivitiesContinuingOperations",
        ),
    ),
    Line(
        "financing_cash_flow",
        "Cash from financing activities",
        "cashflow",
        (
            "NetCashProvidedByUsedInFinancingActivities",
            "NetCashProvidedByUsedInFinancingActivitiesContinuingOperations",
        ),
    ),
)

STATEMENTS = ("income", "balance", "cashflow")
_BY_KEY = {item.key: item for item in LINES}


def line(key: str) -> Line:
    """The line named ``key``; KeyError when there is none."""
    return _BY_KEY[key]
