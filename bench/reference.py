"""A single-node reference for the pipeline's core work, to measure govlake against.

    python bench/reference.py LANDING OUT

For each business date in the landing zone, in order, with DuckDB (and Arrow to read the
files): ingest every source's latest delivery (CSV and text with their declared encodings,
JSON Lines, the JSON document, XLSX through calamine); keep each full source's snapshot and
every incremental source's records so far; build the golden person (one row per normalised ID
number, each attribute from the best-ranked source of conf/authority.yaml that states it) and
the golden legal person (per credit code); evaluate three cross-source rules
(person_name_mismatch, death_not_deregistered, enterprise_status_conflict); write the three
results as Parquet. It prints one JSON line per date: {"date", "records", "seconds": {...}}.

It is deliberately plain: no quarantine, no lineage, no Delta, no history, no provenance per
value, no expectations. What it does is the core the pipeline must do at least; the ratio of
the two is what bench/city_bench.py reports.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.platform import settings  # noqa: E402
from jobs.platform.config import extract_schemas  # noqa: E402


def _latest_files(folder: Path) -> list[Path]:
    """The data files of the folder's latest delivery (by the manifests' delivered_at)."""
    oks = [(json.loads(p.read_text()), p) for p in folder.glob("*.ok")]
    if not oks:
        return []
    latest = max(m["delivered_at"] for m, _ in oks)
    return sorted(p.with_suffix("") for m, p in oks if m["delivered_at"] == latest)


def _read(path: Path, schema) -> pa.Table | None:
    """One delivered file as a table of text columns named as the schema names them (None
    for a file that cannot be read at all: the pipeline rejects it too)."""
    try:
        return _read_file(path, schema)
    except Exception:  # noqa: BLE001 - a damaged file (zip, sheet, header) is skipped whole
        return None


def _read_file(path: Path, schema) -> pa.Table:
    names = schema.header_map()
    if schema.format in ("csv", "text"):
        enc = schema.encoding.lower().replace("-sig", "")
        data = path.read_bytes().decode(enc, "replace").encode()  # bad bytes as U+FFFD
        table = pacsv.read_csv(
            io.BytesIO(data),
            parse_options=pacsv.ParseOptions(
                delimiter=schema.delimiter,
                quote_char='"' if schema.format == "csv" else False,
                newlines_in_values=True,
                invalid_row_handler=lambda row: "skip",
            ),
            convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=True),
        )
        table = table.cast(pa.schema([(f.name, pa.string()) for f in table.schema]))
    elif schema.format == "jsonl":
        rows = []
        for line in path.read_bytes().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
        table = pa.Table.from_pylist([{k: _text(v) for k, v in r.items()} for r in rows])
    elif schema.format == "json":
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
        rows = doc[schema.records_key] if isinstance(doc, dict) else doc
        table = pa.Table.from_pylist([{k: _text(v) for k, v in r.items()} for r in rows])
    else:  # xlsx
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes())).get_sheet_by_index(0)
        data = sheet.to_python(skip_empty_area=True)
        header = [str(h).strip() for h in data[0]]
        table = pa.table(
            {
                h: [_text(r[i]) if i < len(r) else None for r in data[1:]]
                for i, h in enumerate(header)
            }
        )
    keep = {h: names[h] for h in table.column_names if h in names}
    table = table.select(list(keep)).rename_columns(list(keep.values()))
    missing = [c for c in schema.column_names if c not in table.column_names]
    for c in missing:
        table = table.append_column(c, pa.nulls(len(table), pa.string()))
    table = table.select(schema.column_names)
    return table.cast(pa.schema([(c, pa.string()) for c in schema.column_names]))


def _text(v) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _ingest(con, landing: Path, day: str, schemas) -> int:
    records = 0
    for source_id, schema in sorted(schemas.items()):
        folder = landing / source_id / day
        tables = [_read(p, schema) for p in _latest_files(folder)] if folder.is_dir() else []
        tables = [t for t in tables if t is not None]
        if not tables:
            continue
        batch = pa.concat_tables(tables)
        records += len(batch)
        con.register("batch", batch)
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [source_id]
        ).fetchone()[0]
        if schema.mode == "full" or not exists:
            con.execute(f"CREATE OR REPLACE TABLE {source_id} AS SELECT * FROM batch")
        else:
            con.execute(f"INSERT INTO {source_id} SELECT * FROM batch")
        con.unregister("batch")
    return records


def _person_refs(schemas) -> str:
    """SQL: every (source, id, name, sex) a source states of a person."""
    parts = []
    for source_id, id_col, name_col, sex_col in (
        ("gaj_hjrk", "id_number", "name", "sex"),
        ("rsj_sbcb", "id_number", "name", "sex"),
        ("wjw_swzm", "id_number", "name", "sex"),
        ("mzj_hydj", "male_id_number", "male_name", "NULL"),
        ("mzj_hydj", "female_id_number", "female_name", "NULL"),
        ("wjw_cszm", "mother_id_number", "mother_name", "NULL"),
        ("zwfw_dzzz", "holder_code", "holder_name", "NULL"),
    ):
        if source_id in schemas:
            parts.append(
                f"SELECT '{source_id}' AS source_id, upper(trim({id_col})) AS id, "
                f"trim({name_col}) AS name, {sex_col} AS sex FROM {source_id} "
                f"WHERE {id_col} IS NOT NULL"
            )
    return " UNION ALL ".join(parts)


def _build(con, schemas) -> None:
    names = list(settings.authority().person["name"])
    rank = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(names))
    con.execute(f"CREATE OR REPLACE TEMP VIEW refs AS {_person_refs(schemas)}")
    con.execute(
        f"""CREATE OR REPLACE TABLE person AS
        SELECT id AS person_id,
               arg_min(name, CASE source_id {rank} ELSE 99 END) FILTER (WHERE name IS NOT NULL) AS name,
               arg_min(sex, CASE source_id {rank} ELSE 99 END) FILTER (WHERE sex IS NOT NULL) AS sex,
               bool_or(source_id = 'wjw_swzm') AS is_deceased
        FROM refs WHERE length(id) = 18 GROUP BY id"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE legal_person AS
        SELECT uscc, arg_min(name, r) AS name, arg_min(status, r) AS reg_status,
               max(tax_status) AS tax_status
        FROM (
            SELECT uscc, name, reg_status AS status, NULL AS tax_status, 0 AS r FROM scjgj_qydj
            UNION ALL SELECT uscc, name, reg_status, NULL, 1 FROM mzj_shzz
            UNION ALL SELECT taxpayer_id, name, NULL, tax_status, 2 FROM swj_swdj
        ) WHERE uscc IS NOT NULL GROUP BY uscc"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE findings AS
        SELECT 'person_name_mismatch' AS rule_id, r.id AS entity_id, r.source_id
        FROM refs r JOIN person p ON p.person_id = r.id
        WHERE r.name IS NOT NULL AND r.name <> p.name
        UNION ALL
        SELECT 'death_not_deregistered', d.id_number, 'gaj_hjrk'
        FROM wjw_swzm d JOIN gaj_hjrk h ON upper(trim(h.id_number)) = upper(trim(d.id_number))
        WHERE h.reg_status = '0'
        UNION ALL
        SELECT 'enterprise_status_conflict', s.uscc, 'swj_swdj'
        FROM scjgj_qydj s JOIN swj_swdj t ON t.taxpayer_id = s.uscc
        WHERE (s.reg_status LIKE '%注销%' OR s.reg_status LIKE '%吊销%') <> (t.tax_status = '07')"""
    )


def main(landing: Path, out: Path) -> None:
    schemas = extract_schemas()
    days = sorted({p.name for p in landing.glob("*/*") if p.is_dir() and p.name[:2] == "20"})
    con = duckdb.connect()
    for day in days:
        t0 = time.time()
        records = _ingest(con, landing, day, schemas)
        t1 = time.time()
        _build(con, schemas)
        target = out / day
        target.mkdir(parents=True, exist_ok=True)
        for table in ("person", "legal_person", "findings"):
            con.execute(f"COPY {table} TO '{target / table}.parquet' (FORMAT parquet)")
        t2 = time.time()
        seconds = {"ingest": round(t1 - t0, 2), "build": round(t2 - t1, 2)}
        print(json.dumps({"date": day, "records": records, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
