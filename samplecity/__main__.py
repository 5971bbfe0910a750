"""``python -m samplecity``: generate a sample city's landing zone, with ground truth.

Development only: the installed package does not ship the generator, and no production module
imports it. Run it from a checkout (``make demo`` does).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from samplecity.main import GenerateOptions
from samplecity.main import generate as run_generate

DEFAULT_LANDING = Path("var/landing")


def _date(ctx, param, value):
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@click.command()
@click.option("--persons", default=10_000, show_default=True, help="Number of residents.")
@click.option("--days", default=3, show_default=True, help="Business dates to deliver.")
@click.option("--seed", default=42, show_default=True)
@click.option(
    "--start", default="2026-11-02", show_default=True, callback=_date, help="First business date."
)
@click.option("--out", default=DEFAULT_LANDING, show_default=True, type=click.Path(path_type=Path))
@click.option(
    "--value-fault-rate", default=0.01, show_default=True, help="Rows with a value fault."
)
@click.option(
    "--parse-fault-rate", default=0.001, show_default=True, help="Rows that cannot be parsed."
)
@click.option(
    "--file-fault-rate", default=0.15, show_default=True, help="Deliveries with a file fault."
)
@click.option(
    "--conflict-rate",
    default=0.01,
    show_default=True,
    help="Entities with a cross-source contradiction.",
)
@click.option(
    "--event-scale",
    default=1.0,
    show_default=True,
    help="Multiplies daily births, deaths, marriages...",
)
@click.option("--max-rows-per-file", default=500_000, show_default=True)
@click.option("--no-correction", is_flag=True, help="Do not re-deliver a date as a correction.")
def main(
    persons,
    days,
    seed,
    start,
    out,
    value_fault_rate,
    parse_fault_rate,
    file_fault_rate,
    conflict_rate,
    event_scale,
    max_rows_per_file,
    no_correction,
) -> None:
    """Generate a sample city's landing zone (spec/extracts.md) with ground truth in _truth/."""
    opts = GenerateOptions(
        persons=persons,
        days=days,
        seed=seed,
        start=start,
        value_fault_rate=value_fault_rate,
        parse_fault_rate=parse_fault_rate,
        file_fault_rate=file_fault_rate,
        conflict_rate=conflict_rate,
        event_scale=event_scale,
        max_rows_per_file=max_rows_per_file,
        correction=not no_correction,
    )
    summary = run_generate(out, opts, log=lambda m: click.echo(m, err=True))
    click.echo(f"landing zone: {out.resolve()} ({summary['files']} files, {summary['seconds']}s)")


if __name__ == "__main__":
    main()
