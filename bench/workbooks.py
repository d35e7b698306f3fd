"""Finance workbooks benchmark: the time and peak memory of Vega's analysis over a Velocity
Fibre-like ledger of 1,000, 10,000 and 100,000 transactions.

For each size the sample (``mcos.finance.sample``) is generated once, then each phase runs in a
fresh process of its own, so that its peak RSS (``VmHWM``) is its own and not the parent's:

- ``raw``: openpyxl alone streaming the ledger sheet (``read_only``, values only): the floor.
- ``xlsx``: the whole analysis as ``write_analysis`` does it — budget vs actual read from
  ``actuals.xlsx``, activations, invoices vs bank, activations vs installations — and the
  analysis workbook written (``write_only``).
- ``csv``: the same with the ledger read from ``actuals.csv``.

Reported: seconds, ledger rows per second, RSS at the start of the phase (the interpreter and
its imports) and its peak, and with ``--tracemalloc`` the peak of Python's own allocations
(slower: it is measured in the same run).

    python bench/workbooks.py [--tiny] [--sizes 1000,10000,100000] [--tracemalloc]
                              [--json-out PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _machine import machine

PHASES = ("raw", "xlsx", "csv")


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def worker(folder: Path, phase: str, trace: bool) -> dict[str, Any]:
    """One phase, in this (fresh) process."""
    import openpyxl

    from mcos.finance import analyse, write_report
    from mcos.finance.sample import sample_spec

    start_rss = _status_mib("VmRSS")
    if trace:
        tracemalloc.start()
    began = time.perf_counter()
    figures: dict[str, Any] = {}
    if phase == "raw":
        book = openpyxl.load_workbook(folder / "actuals.xlsx", read_only=True)
        rows = sum(1 for _ in book["Transactions"].iter_rows(values_only=True)) - 1
        book.close()
    else:
        spec = sample_spec(str(folder))
        if phase == "csv":
            assert spec.variance is not None
            right = spec.variance.right.model_copy(
                update={"path": str(folder / "actuals.csv"), "sheet": None}
            )
            spec = spec.model_copy(
                update={"variance": spec.variance.model_copy(update={"right": right})}
            )
        analysis = analyse(spec)
        output = folder / f"analysis-{phase}.xlsx"
        data = write_report(analysis, str(output))
        output.write_bytes(data)
        assert analysis.variance is not None
        rows = analysis.variance.right.rows
        figures |= {"findings": len(analysis.findings), "output_bytes": len(data)}
    seconds = time.perf_counter() - began
    if trace:
        figures["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    return figures | {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds) if seconds else None,
        "rss_start_mib": start_rss,
        "peak_rss_mib": _status_mib("VmHWM"),
    }


def run_size(size: int, folder: Path, trace: bool) -> dict[str, Any]:
    from mcos.finance.sample import generate

    began = time.perf_counter()
    sample = generate(folder, transactions=size, actuals_csv=True)
    result: dict[str, Any] = {
        "transactions": sample.transactions,
        "actuals_xlsx_bytes": (folder / "actuals.xlsx").stat().st_size,
        "actuals_csv_bytes": (folder / "actuals.csv").stat().st_size,
        "generate_s": round(time.perf_counter() - began, 2),
    }
    for phase in PHASES:
        command = [sys.executable, __file__, "--worker", str(folder), "--phase", phase]
        if trace:
            command.append("--tracemalloc")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"phase {phase} at {size} rows failed:\n{done.stderr[-3000:]}")
        result[phase] = json.loads(done.stdout)
    return result


def report(figures: dict[str, Any]) -> None:
    m = figures["machine"]
    print(
        f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, "
        f"load average at start {m['load_average_at_start']}"
    )
    print(
        f"{'rows':>8} {'phase':<5} {'seconds':>8} {'rows/s':>8} {'RSS start':>10} "
        f"{'peak RSS':>9} {'growth':>7} {'heap peak':>9}  notes"
    )
    for size in figures["sizes"]:
        for phase in PHASES:
            p = size[phase]
            heap = (
                f"{p['tracemalloc_peak_mib']:>7} M" if "tracemalloc_peak_mib" in p else "        -"
            )
            growth = round(p["peak_rss_mib"] - p["rss_start_mib"], 1)
            notes = (
                f"{p['findings']} findings, {p['output_bytes']:,} B out" if "findings" in p else ""
            )
            print(
                f"{size['transactions']:>8} {phase:<5} {p['seconds']:>8.2f} {p['rows_per_s']:>8,} "
                f"{p['rss_start_mib']:>8} M {p['peak_rss_mib']:>7} M {growth:>5} M {heap}  {notes}"
            )
        print(
            f"{'':>8} inputs: actuals.xlsx {size['actuals_xlsx_bytes']:,} B, "
            f"actuals.csv {size['actuals_csv_bytes']:,} B, generated in {size['generate_s']} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="300 rows: the test's smoke run")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.phase, args.tracemalloc)))
        return
    sizes = [300] if args.tiny else [int(s) for s in args.sizes.split(",")]
    figures: dict[str, Any] = {"machine": machine(), "sizes": []}
    with tempfile.TemporaryDirectory(prefix="mcos-bench-workbooks-") as tmp:
        for size in sizes:
            figures["sizes"].append(run_size(size, Path(tmp) / str(size), args.tracemalloc))
    report(figures)
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
