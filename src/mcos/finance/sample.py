"""A Velocity Fibre-like dataset, deterministic for a seed: a budget by cost line and month,
the ledger's transactions, supplier invoices and the bank statement that pays them, and the
network's activations against the field team's installations. Used by the tests, the
benchmark and the demo.

Anomalies are planted on purpose and listed in :attr:`Sample.planted`, so a test can check
that the analysis finds each of them (and nothing it should not).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from mcos.finance.analysis import AnalysisSpec, Units
from mcos.finance.reconcile import Match, Side

MONTHS = tuple(date(2026, m, 1) for m in range(1, 7))
BUDGET = {
    "Fibre build": 420_000,
    "Civils & trenching": 260_000,
    "CPE & routers": 140_000,
    "Installation labour": 180_000,
    "Backhaul & transit": 95_000,
    "Marketing": 60_000,
    "Salaries": 310_000,
    "Vehicles & fuel": 45_000,
}
SUPPLIERS = (
    "Dark Fibre Africa",
    "Trenchco",
    "Huawei SA",
    "Installer Crew 4",
    "Openserve",
    "Bidvest",
    "Payroll",
    "Engen",
)


@dataclass(frozen=True)
class Planted:
    check: str
    kind: str
    key: str


@dataclass
class Sample:
    folder: Path
    files: dict[str, Path]
    planted: list[Planted] = field(default_factory=list)
    transactions: int = 0

    def spec(self, prefix: str | None = None) -> AnalysisSpec:
        """The analysis of this sample, its paths under ``prefix`` (default: the folder)."""
        return sample_spec(str(self.folder) if prefix is None else prefix)


def sample_spec(prefix: str = "") -> AnalysisSpec:
    def at(name: str) -> str:
        return f"{prefix.rstrip('/')}/{name}" if prefix else name

    return AnalysisSpec(
        title="Velocity Fibre: budget against actuals, H1 2026",
        variance=Match(
            name="Budget vs actual",
            compare="totals",
            left=Side(
                path=at("budget.xlsx"),
                sheet="Budget",
                label="budget",
                key=["Cost line"],
                month="Month",
                amount="Budget",
                unique=True,
            ),
            right=Side(
                path=at("actuals.xlsx"),
                sheet="Transactions",
                label="actual",
                key=["Cost line"],
                month="Date",
                amount="Amount",
            ),
        ),
        units=Units(path=at("activations.csv"), month="activated_on", unit="activation"),
        checks=[
            Match(
                name="Invoices vs bank",
                left=Side(
                    path=at("invoices.xlsx"),
                    sheet="Invoices",
                    label="invoices",
                    key=["Invoice"],
                    amount="Amount",
                    unique=True,
                ),
                right=Side(
                    path=at("bank.csv"),
                    label="bank",
                    key=["reference"],
                    amount="amount",
                    unique=True,
                ),
            ),
            Match(
                name="Activations vs installations",
                left=Side(
                    path=at("installations.xlsx"),
                    sheet="Installations",
                    label="installations",
                    key=["Order"],
                    unique=True,
                ),
                right=Side(
                    path=at("activations.csv"), label="activations", key=["order"], unique=True
                ),
            ),
        ],
    )


def generate(
    folder: Path, *, transactions: int = 2_000, seed: int = 7, actuals_csv: bool = False
) -> Sample:
    """Write the sample's six files into ``folder``; ``transactions`` ledger rows. With
    ``actuals_csv`` the ledger is also written as ``actuals.csv`` (same rows and columns)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sample = Sample(folder, {}, transactions=transactions)
    _budget(sample)
    _actuals(sample, rng, transactions, actuals_csv)
    _invoices_and_bank(sample, rng)
    _activations(sample, rng)
    return sample


def _book(
    sample: Sample, name: str, sheet: str, header: list[str]
) -> tuple[Workbook, WriteOnlyWorksheet]:
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    assert isinstance(ws, WriteOnlyWorksheet)
    ws.append(header)
    sample.files[name] = sample.folder / name
    return book, ws


def _budget(sample: Sample) -> None:
    book, ws = _book(sample, "budget.xlsx", "Budget", ["Cost line", "Month", "Budget"])
    for line, monthly in BUDGET.items():
        for month in MONTHS:
            ws.append([line, month, monthly])
    ws.append(["Vehicles & fuel", MONTHS[1], BUDGET["Vehicles & fuel"]])
    sample.planted.append(Planted("Budget vs actual", "duplicate", "Vehicles & fuel / 2026-02"))
    book.save(sample.files["budget.xlsx"])


_SCALE = {("Civils & trenching", 2): 1.45, ("Marketing", 4): 0.55}
"""(line, month index): actual spend as a share of budget; the rest land within a few %."""


def _actuals(sample: Sample, rng: random.Random, count: int, as_csv: bool) -> None:
    header = ["Date", "Reference", "Supplier", "Cost line", "Description", "Amount"]
    book, sheet = _book(sample, "actuals.xlsx", "Transactions", header)
    ws = _AlsoCsv(sheet, sample.folder / "actuals.csv", header) if as_csv else sheet
    if as_csv:
        sample.files["actuals.csv"] = sample.folder / "actuals.csv"
    cells = [(line, m) for line in BUDGET for m in range(len(MONTHS))]
    base, spare = divmod(max(len(cells), count - 3), len(cells))
    written = 0
    for index, (line, m) in enumerate(cells):
        supplier = SUPPLIERS[list(BUDGET).index(line)]
        target = BUDGET[line] * _SCALE.get((line, m), 1.0) * rng.uniform(0.97, 1.03)
        weights = [rng.uniform(0.5, 1.5) for _ in range(base + (index < spare))]
        scale = target / sum(weights)
        for w in weights:
            written += 1
            day = MONTHS[m] + timedelta(days=rng.randrange(28))
            amount = round(w * scale, 2)
            ws.append([day, f"TX-{written:06d}", supplier, line, f"{line} ({supplier})", amount])
    for extra in range(3):  # spend posted to a line nobody budgeted
        written += 1
        ws.append(
            [
                MONTHS[3] + timedelta(days=5 + extra),
                f"TX-{written:06d}",
                "McKinsey",
                "Consulting",
                "Network strategy review",
                38_500.00,
            ]
        )
    sample.planted += [
        Planted("Budget vs actual", "over_budget", "Civils & trenching / 2026-03"),
        Planted("Budget vs actual", "under_budget", "Marketing / 2026-05"),
        Planted("Budget vs actual", "unmatched", "Consulting / 2026-04"),
    ]
    sample.transactions = written
    book.save(sample.files["actuals.xlsx"])
    if isinstance(ws, _AlsoCsv):
        ws.close()


class _AlsoCsv:
    """Rows appended to a sheet and, the same, to a CSV file."""

    def __init__(self, sheet: WriteOnlyWorksheet, path: Path, header: list[str]) -> None:
        self.sheet = sheet
        self.handle = path.open("w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(header)

    def append(self, row: list[object]) -> None:
        self.sheet.append(row)
        self.writer.writerow([v.isoformat() if isinstance(v, date) else v for v in row])

    def close(self) -> None:
        self.handle.close()


def _invoices_and_bank(sample: Sample, rng: random.Random) -> None:
    book, ws = _book(sample, "invoices.xlsx", "Invoices", ["Invoice", "Supplier", "Date", "Amount"])
    sample.files["bank.csv"] = sample.folder / "bank.csv"
    payments: list[list[str]] = []
    for n in range(1001, 1121):
        invoice = f"INV-{n}"
        amount = Decimal(rng.randrange(2_000_00, 90_000_00)) / 100
        day = MONTHS[(n - 1001) % 6] + timedelta(days=rng.randrange(20))
        ws.append([invoice, SUPPLIERS[n % len(SUPPLIERS)], day, float(amount)])
        paid = day + timedelta(days=7)
        if n == 1090:
            continue  # never paid
        if n == 1077:
            amount -= Decimal("1500.00")  # paid short
        text = f"R {amount:,.2f}" if n % 10 == 0 else f"{amount:.2f}"
        payments.append([paid.isoformat(), invoice, f"EFT {SUPPLIERS[n % len(SUPPLIERS)]}", text])
        if n == 1042:
            payments.append([(paid + timedelta(days=3)).isoformat(), invoice, "EFT again", text])
    payments.append([MONTHS[4].isoformat(), "INV-2001", "EFT unknown", "12500.00"])
    with sample.files["bank.csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "reference", "description", "amount"])
        writer.writerows(payments)
    book.save(sample.files["invoices.xlsx"])
    check = "Invoices vs bank"
    sample.planted += [
        Planted(check, "duplicate", "INV-1042"),
        Planted(check, "amount_mismatch", "INV-1077"),
        Planted(check, "unmatched", "INV-1090"),
        Planted(check, "unmatched", "INV-2001"),
    ]


def _activations(sample: Sample, rng: random.Random) -> None:
    header = ["Order", "Address", "Installed on", "Installer"]
    book, ws = _book(sample, "installations.xlsx", "Installations", header)
    sample.files["activations.csv"] = sample.folder / "activations.csv"
    activations: list[list[str]] = []
    for n in range(1, 601):
        order = f"VF-{n:05d}"
        installed = MONTHS[(n - 1) % 6] + timedelta(days=rng.randrange(25))
        if n != 333:  # activated, but the field team never logged the installation
            ws.append([order, f"{n} Fibre Street", installed, f"Crew {n % 5 + 1}"])
        if n == 444:
            continue  # installed, never activated
        activated = installed + timedelta(days=rng.randrange(3))
        activations.append([order, f"Customer {n}", activated.isoformat()])
        if n == 555:
            activations.append([order, f"Customer {n}", activated.isoformat()])  # twice
    with sample.files["activations.csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order", "customer", "activated_on"])
        writer.writerows(activations)
    book.save(sample.files["installations.xlsx"])
    check = "Activations vs installations"
    sample.planted += [
        Planted(check, "unmatched", "VF-00333"),
        Planted(check, "unmatched", "VF-00444"),
        Planted(check, "duplicate", "VF-00555"),
    ]
