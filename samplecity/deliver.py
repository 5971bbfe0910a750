"""What each department delivers: views of the true city, with faults, in the contract's formats.

Row faults are chosen generically from each source's extract schema (an ``id_number`` column
gets ID-number faults, a ``date:`` column date faults, a ``code:`` column out-of-table codes...),
so a new source gets faults without code. Every injected fault is written to the ground truth.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.platform.config import ExtractSchema
from samplecity.city import CITY_COUNTIES, NO_DAY, City, day_str

FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ROW_VALUE_FAULTS = (
    "id_wrong_check",
    "id_digit_typo",
    "id_transposition",
    "id_legacy15",
    "id_lowercase_x",
    "id_fullwidth",
    "id_spaces",
    "date_unparsable",
    "date_future",
    "code_invalid",
    "required_empty",
    "name_fullwidth_or_spaces",
    "duplicate_row",
    "conflicting_duplicate",
)
PARSE_FAULTS = ("field_count", "bad_bytes", "malformed_record")
FILE_FAULTS = (
    "manifest_missing",
    "md5_mismatch",
    "row_count_mismatch",
    "empty_file",
    "header_reordered",
    "header_extra_column",
    "header_renamed",
    "missing_required_column",
    "truncated_last_line",
    "duplicate_file",
)
# faults that reject a file: kept off the first date (the initial load) so the city has a base
REJECTING = {
    "manifest_missing",
    "md5_mismatch",
    "row_count_mismatch",
    "empty_file",
    "missing_required_column",
    "duplicate_file",
}


@dataclass
class Truth:
    files: list[dict] = field(default_factory=list)
    row_faults: list[dict] = field(default_factory=list)


def _date(days, fmt="%Y-%m-%d") -> np.ndarray:
    days = np.asarray(days, dtype="int64")
    missing = days <= NO_DAY
    out = day_str(np.where(missing, 0, days), fmt)
    return np.where(missing, "", out).astype(object)


# ------------------------------------------------------------------------------ views
def view_gaj_hjrk(city: City, day: int) -> pd.DataFrame:
    p = city.persons
    v = p[p["resident"] & (p["hjrk_from"] <= day) & (p["relation"] != "")]
    dereg = np.where(v["hjrk_status"] != "0", v["dereg_day"], NO_DAY)
    return pd.DataFrame(
        {
            "id_number": v["id_number"],
            "name": v["name"],
            "sex": v["sex"].astype(str),
            "ethnicity": v["ethnicity"],
            "birth_date": _date(v["birth"], "%Y%m%d"),
            "household_no": v["household_no"],
            "relation_to_head": v["relation"],
            "marital_status": v["hjrk_marital"],
            "address": v["address"],
            "region_code": v["region"],
            "reg_status": v["hjrk_status"],
            "deregistered_on": _date(dereg, "%Y%m%d"),
            "updated_at": _date(np.maximum(v["birth"], dereg), "%Y-%m-%d") + " 09:30:00",
        }
    ).assign(_entity=v["id_number"])


def view_mzj_hydj(city: City, day: int) -> pd.DataFrame:
    m = city.marriages
    m = m[(m["day"] == day) | ((day == city.start) & (m["day"] < day))]
    p = city.persons
    return pd.DataFrame(
        {
            "reg_type": m["reg_type"],
            "reg_date": _date(m["day"]),
            "male_id_number": p.loc[m["male"], "id_number"].to_numpy(),
            "male_name": p.loc[m["male"], "name"].to_numpy(),
            "female_id_number": p.loc[m["female"], "id_number"].to_numpy(),
            "female_name": p.loc[m["female"], "name"].to_numpy(),
            "certificate_no": m["certificate_no"],
            "registrar": [f"{CITY_COUNTIES[r]}民政局婚姻登记处" for r in m["registrar_region"]],
            "registrar_uscc": [
                city.agencies[f"{CITY_COUNTIES[r]}民政局婚姻登记处"] for r in m["registrar_region"]
            ],
        }
    ).assign(_entity=m["certificate_no"].to_numpy())


def view_mzj_shzz(city: City, day: int) -> pd.DataFrame:
    s, p = city.social_orgs, city.persons
    return pd.DataFrame(
        {
            "uscc": s["uscc"],
            "name": s["name"],
            "org_type": s["kind"],
            "legal_rep_name": p.loc[s["rep"], "name"].to_numpy(),
            "legal_rep_id": p.loc[s["rep"], "id_number"].to_numpy(),
            "founded_on": _date(s["founded_day"]),
            "reg_status": s["status"],
            "address": s["address"],
            "supervisor": s["supervisor"],
        }
    ).assign(_entity=s["uscc"].to_numpy())


def view_wjw_cszm(city: City, day: int) -> pd.DataFrame:
    b, p = city.births, city.persons
    b = b[(b["issued_day"] == day) | ((day == city.start) & (b["issued_day"] < day))]
    birth = p.loc[b["child"], "birth"].to_numpy()
    ts = pd.to_datetime(birth, unit="D") + pd.to_timedelta(b["minute"].to_numpy(), unit="m")
    slash = np.arange(len(b)) % 2 == 0
    cssj = np.where(
        slash,
        [f"{t.year}/{t.month}/{t.day} {t.hour}:{t.minute:02d}" for t in ts],
        ts.strftime("%Y-%m-%d %H:%M"),
    )
    father = b["father"].to_numpy()
    has_f = father >= 0
    fi = np.where(has_f, father, 0)
    return pd.DataFrame(
        {
            "certificate_no": b["certificate_no"].to_numpy(),
            "newborn_name": np.where(b["named"], p.loc[b["child"], "name"].to_numpy(), ""),
            "newborn_sex": np.where(p.loc[b["child"], "sex"].to_numpy() == 1, "男", "女"),
            "birth_time": cssj,
            "birth_place": b["hospital"].to_numpy(),
            "mother_name": p.loc[b["mother"], "name"].to_numpy(),
            "mother_id_number": p.loc[b["mother"], "id_number"].to_numpy(),
            "father_name": np.where(has_f, p.loc[fi, "name"].to_numpy(), ""),
            "father_id_number": np.where(has_f, p.loc[fi, "id_number"].to_numpy(), ""),
            "issued_on": _date(b["issued_day"]),
            "issuer": b["hospital"].to_numpy(),
        }
    ).assign(_entity=b["certificate_no"].to_numpy())


def view_wjw_swzm(city: City, day: int) -> pd.DataFrame:
    d, p = city.deaths, city.persons
    d = d[(d["reported_day"] == day) | ((day == city.start) & (d["reported_day"] < day))]
    return pd.DataFrame(
        {
            "certificate_no": d["certificate_no"].to_numpy(),
            "name": p.loc[d["person"], "name"].to_numpy(),
            "sex": p.loc[d["person"], "sex"].astype(str).to_numpy(),
            "id_number": p.loc[d["person"], "id_number"].to_numpy(),
            "death_date": _date(d["death_day"]),
            "death_place": d["place"].to_numpy(),
            "cause_of_death": d["cause"].to_numpy(),
            "reporter": d["reporter"].to_numpy(),
            "reported_on": _date(d["reported_day"]),
        }
    ).assign(_entity=p.loc[d["person"], "id_number"].to_numpy())


def view_rsj_sbcb(city: City, day: int) -> pd.DataFrame:
    i, p, e = city.insurance, city.persons, city.enterprises
    i = i[i["enrolled_day"] <= day]
    emp = i["employer"].to_numpy()
    has = emp >= 0
    ei = np.where(has, emp, 0)
    uscc = np.where(has, e.loc[ei, "uscc_delivered"].to_numpy(), "")
    uscc = np.where(i["employer_code_override"].notna(), i["employer_code_override"], uscc)
    return pd.DataFrame(
        {
            "insured_no": i["insured_no"].to_numpy(),
            "id_number": p.loc[i["person"], "id_number"].to_numpy(),
            "name": i["view_name"].to_numpy(),
            "sex": np.where(i["view_sex"].to_numpy() == 1, "男", "女"),
            "birth_month": _date(i["view_birth"], "%Y%m"),
            "insurance_type": i["type"].to_numpy(),
            "insurance_status": i["view_status"].to_numpy(),
            "enrolled_on": _date(i["enrolled_day"], "%Y%m%d"),
            "employer_no": np.where(has, np.char.add("DW", np.char.zfill(ei.astype(str), 8)), ""),
            "employer_name": np.where(has, e.loc[ei, "name"].to_numpy(), ""),
            "employer_uscc": uscc,
            "receiving_benefits": i["view_benefits"].astype(str).to_numpy(),
            "mobile": i["mobile"].to_numpy(),
            "updated_on": _date(np.full(len(i), day - 1), "%Y%m%d"),
        }
    ).assign(_entity=p.loc[i["person"], "id_number"].to_numpy())


_ENT_STATUS = {"active": "存续（在营、开业、在册）", "revoked": "吊销", "cancelled": "注销"}


def view_scjgj_qydj(city: City, day: int) -> pd.DataFrame:
    e, p = city.enterprises, city.persons
    e = e[e["founded_day"] <= day]
    rep = e["rep"].to_numpy()
    person = rep >= 0
    ri = np.where(person, rep, 0)
    chinese_date = np.arange(len(e)) % 3 == 0
    founded = np.where(
        chinese_date,
        [f"{t.year}年{t.month}月{t.day}日" for t in pd.to_datetime(e["founded_day"], unit="D")],
        _date(e["founded_day"]),
    )
    cap = e["capital"].astype(str).to_numpy()
    cap = np.where(np.arange(len(e)) % 4 == 1, np.char.add(cap.astype(str), "万元"), cap)
    cap = np.where(
        np.arange(len(e)) % 97 == 5,
        np.char.add(e["capital"].astype(str).to_numpy().astype(str), "万美元"),
        cap,
    )
    return pd.DataFrame(
        {
            "uscc": e["uscc_delivered"],
            "reg_no": e["reg_no"],
            "name": e["name"],
            "enterprise_type": e["type"],
            "legal_rep_name": np.where(person, p.loc[ri, "name"].to_numpy(), e["rep_foreign_name"]),
            "legal_rep_id_type": np.where(person, "居民身份证", "护照"),
            "legal_rep_id": np.where(person, p.loc[ri, "id_number"].to_numpy(), e["rep_passport"]),
            "registered_capital": cap,
            "founded_on": founded,
            "term_to": np.where(e["term_to"] <= NO_DAY, "长期", _date(e["term_to"])),
            "reg_status": e["status"].map(_ENT_STATUS),
            "cancelled_on": _date(e["cancel_day"]),
            "address": e["address"],
            "registrar": [f"{CITY_COUNTIES[r]}市场监督管理局" for r in e["region"]],
            "approved_on": _date(e["approved_day"]),
            "business_scope": e["scope"],
        }
    ).assign(_entity=e["uscc"].to_numpy())


def view_swj_swdj(city: City, day: int) -> pd.DataFrame:
    e, p = city.enterprises, city.persons
    e = e[e["tax_registered"] & (e["tax_from"] <= day) & (e["founded_day"] <= day)]
    rep = e["tax_rep"].to_numpy()
    person = rep >= 0
    ri = np.where(person, rep, 0)
    legacy_tax = (e["reg_no"] != "") & (e.index.to_numpy() % 3 == 0)
    taxpayer = np.where(legacy_tax, e["region"] + e["org9"], e["uscc"])
    return pd.DataFrame(
        {
            "taxpayer_id": taxpayer,
            "name": e["name"],
            "legal_rep_name": np.where(person, p.loc[ri, "name"].to_numpy(), e["rep_foreign_name"]),
            "legal_rep_id": np.where(person, p.loc[ri, "id_number"].to_numpy(), e["rep_passport"]),
            "tax_status": e["view_tax_status"],
            "registered_on": _date(e["founded_day"] + 5, "%Y%m%d"),
            "tax_office": [f"国家税务总局{CITY_COUNTIES[r]}税务局" for r in e["region"]],
            "address": e["address"],
            "phone": [f"0317-{7000000 + i % 999999}" for i in range(len(e))],
        }
    ).assign(_entity=e["uscc"].to_numpy())


def view_zwfw_dzzz(city: City, day: int) -> pd.DataFrame:
    lic = city.licences.delivered(day, city.start)
    if lic.empty:
        return pd.DataFrame(columns=["licence_uid", "_entity"])
    return pd.DataFrame(
        {
            "licence_uid": lic["uid"],
            "licence_type_code": lic["type_code"],
            "licence_name": lic["kind"],
            "licence_no": lic["no"],
            "holder_name": lic["holder_name"],
            "holder_code": lic["holder_code"],
            "holder_code_type": lic["holder_type"],
            "issuer": lic["issuer"],
            "issuer_code": lic["issuer_code"],
            "issued_on": _date(lic["issued_day"]),
            "valid_from": _date(lic["issued_day"]),
            "valid_to": _date(lic["valid_to"]),
            "status": lic["status"],
        }
    ).assign(_entity=lic["uid"].to_numpy())


VIEWS = {
    "gaj_hjrk": view_gaj_hjrk,
    "mzj_hydj": view_mzj_hydj,
    "mzj_shzz": view_mzj_shzz,
    "wjw_cszm": view_wjw_cszm,
    "wjw_swzm": view_wjw_swzm,
    "rsj_sbcb": view_rsj_sbcb,
    "scjgj_qydj": view_scjgj_qydj,
    "swj_swdj": view_swj_swdj,
    "zwfw_dzzz": view_zwfw_dzzz,
}


# ------------------------------------------------------------------------------ row faults
def _id_fault(rng, value: str, kind: str) -> str | None:
    if not value or len(value) != 18 or not value[:17].isdigit():
        return None
    if kind == "id_wrong_check":
        return value[:17] + rng.choice([c for c in "0123456789X" if c != value[17]])
    if kind == "id_digit_typo":
        i = int(rng.integers(14, 17))  # the sequence digits: a typo that keeps the birth date
        return value[:i] + str((int(value[i]) + int(rng.integers(1, 10))) % 10) + value[i + 1 :]
    if kind == "id_transposition":
        i = int(rng.integers(14, 16))
        if value[i] == value[i + 1]:
            return None
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    if kind == "id_legacy15":
        return value[:6] + value[8:17] if value[6:8] == "19" else None
    if kind == "id_lowercase_x":
        return value[:17] + "x" if value.endswith("X") else " " + value + " "
    if kind == "id_fullwidth":
        return value.translate(FULLWIDTH)
    if kind == "id_spaces":
        return " " + value + "\u3000"
    return None


def _value_fault(rng, schema: ExtractSchema, row: dict, kind: str) -> tuple[str, str, str] | None:
    """Apply one value fault to a delivered row in place; returns (column, before, after)."""
    cols = {c.column: c for c in schema.columns}
    by_parser = lambda pred: [c for c, spec in cols.items() if pred(spec) and row.get(c)]  # noqa: E731
    if kind.startswith("id_"):
        cands = by_parser(lambda s: s.parser == "id_number")
    elif kind.startswith("date_"):
        cands = by_parser(lambda s: s.parser.startswith(("date:", "timestamp:")))
    elif kind == "code_invalid":
        cands = by_parser(lambda s: s.parser.startswith("code:"))
    elif kind == "required_empty":
        cands = [
            c
            for c, s in cols.items()
            if s.required and row.get(c) and s.parser != "id_number" and c not in schema.entity_keys
        ]
    elif kind == "name_fullwidth_or_spaces":
        cands = by_parser(lambda s: s.parser == "name")
    else:
        return None
    if not cands:
        return None
    col = cands[int(rng.integers(len(cands)))]
    before = row[col]
    if kind.startswith("id_"):
        after = _id_fault(rng, before, kind)
    elif kind == "date_unparsable":
        after = rng.choice(["0000-00-00", "2023-13-45", "N/A", "19000230", "待补录"])
    elif kind == "date_future":
        after = before.replace(before[:4], "2099", 1) if before[:4].isdigit() else None
    elif kind == "code_invalid":
        after = rng.choice(["99", "X", "未知", "7"])
    elif kind == "required_empty":
        after = ""
    else:  # name with a space, an ideographic space or a full-width letter
        after = (
            before[0] + rng.choice([" ", "\u3000", "　"]) + before[1:] if len(before) > 1 else None
        )
    if after is None or after == before:
        return None
    row[col] = after
    return col, before, after


def apply_row_faults(
    rng, schema: ExtractSchema, df: pd.DataFrame, rate: float
) -> tuple[list[dict], list[dict]]:
    """Rows as delivered (dicts), and the faults injected (by index in the returned list)."""
    cols = [c for c in df.columns if c != "_entity"]
    rows = [
        dict(zip(cols, vals, strict=True))
        for vals in zip(*(df[c].tolist() for c in cols), strict=True)
    ]
    entities = df["_entity"].tolist()
    out, faults = [], []
    hit = np.flatnonzero(rng.random(len(rows)) < rate) if rate > 0 else []
    hit_set = set(hit.tolist()) if len(hit) else set()
    kinds = rng.choice(ROW_VALUE_FAULTS, len(rows)) if len(hit_set) else None
    for i, row in enumerate(rows):
        row["_entity"] = entities[i]  # not delivered (encoders write schema columns only)
        out.append(row)
        if i not in hit_set:
            continue
        kind = str(kinds[i])
        if kind in ("duplicate_row", "conflicting_duplicate"):
            twin = dict(row)
            change = (
                _value_fault(rng, schema, twin, "name_fullwidth_or_spaces")
                if kind == "conflicting_duplicate"
                else None
            )
            if kind == "conflicting_duplicate" and change is None:
                continue
            out.append(twin)
            faults.append(
                {
                    "index": len(out) - 1,
                    "fault": kind,
                    "column": change[0] if change else None,
                    "true_value": change[1] if change else None,
                    "delivered_value": change[2] if change else None,
                    "entity": entities[i],
                }
            )
            continue
        change = _value_fault(rng, schema, row, kind)
        if change:
            faults.append(
                {
                    "index": len(out) - 1,
                    "fault": kind,
                    "column": change[0],
                    "true_value": change[1],
                    "delivered_value": change[2],
                    "entity": entities[i],
                }
            )
    return out, faults


# ------------------------------------------------------------------------------ writers
def _encode_rows(
    schema: ExtractSchema,
    headers: list[str],
    cols: list[str],
    rows: list[dict],
    parse_faults: dict[int, str],
) -> tuple[bytes, dict[int, str]]:
    """CSV / text bytes; parse faults are applied to rows by index. Returns bytes, applied faults."""
    enc = schema.encoding.lower()
    body_enc = "utf-8" if enc == "utf-8-sig" else enc
    sep = schema.delimiter
    quoting = csv.QUOTE_NONE if schema.format == "text" else csv.QUOTE_MINIMAL
    buf = io.StringIO()
    w = csv.writer(
        buf,
        delimiter=sep,
        quoting=quoting,
        lineterminator="\r\n" if schema.format == "csv" else "\n",
        escapechar="\\" if quoting == csv.QUOTE_NONE else None,
    )
    w.writerow(headers)
    chunks = [
        ("\ufeff" if enc == "utf-8-sig" else "").encode("utf-8") + buf.getvalue().encode(body_enc)
    ]
    applied = {}
    for i, r in enumerate(rows):
        values = [("" if r.get(c) is None else str(r.get(c))) for c in cols]
        if schema.format == "text":
            values = [v.replace(sep, "／").replace("\n", " ").replace("\r", " ") for v in values]
        fault = parse_faults.get(i)
        if fault == "field_count":
            values = values[:-1] if i % 2 else values + ["多余字段"]
        buf.seek(0), buf.truncate()
        w.writerow(values)
        data = buf.getvalue().encode(body_enc, "replace")
        if fault == "bad_bytes":
            data = data[:2] + b"\xff\xfe" + data[2:]
        if fault in ("field_count", "bad_bytes"):
            applied[i] = fault
        chunks.append(data)
    return b"".join(chunks), applied


def _encode_jsonl(
    cols: list[str], headers: list[str], rows: list[dict], parse_faults: dict[int, str]
):
    lines, applied = [], {}
    for i, r in enumerate(rows):
        line = json.dumps(
            {h: ("" if r.get(c) is None else r.get(c)) for h, c in zip(headers, cols, strict=True)},
            ensure_ascii=False,
        ).encode("utf-8")
        fault = parse_faults.get(i)
        if fault == "malformed_record":
            line, applied[i] = line[: len(line) // 2], fault
        elif fault == "bad_bytes":
            line, applied[i] = line[:10] + b"\xc3\x28" + line[10:], fault
        lines.append(line)
    return b"\n".join(lines) + (b"\n" if lines else b""), applied


def _encode_json(cols, headers, rows, export_day: int) -> bytes:
    records = [
        {h: ("" if r.get(c) is None else r.get(c)) for h, c in zip(headers, cols, strict=True)}
        for r in rows
    ]
    doc = {
        "exportTime": f"{_date([export_day + 1])[0]}T02:00:00+08:00",
        "count": len(records),
        "records": records,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def _encode_xlsx(headers, cols, rows, parse_faults: dict[int, str]) -> tuple[bytes, dict[int, str]]:
    from samplecity.xlsx import write_xlsx

    applied = {}

    def sheet():
        yield list(headers)
        for i, r in enumerate(rows):
            values = ["" if r.get(c) is None else str(r.get(c)) for c in cols]
            if parse_faults.get(i) == "field_count":
                values.append("多余字段")  # a cell beyond the header: too many fields
                applied[i] = "field_count"
            yield values

    return write_xlsx(sheet(), "参保信息"), applied


def encode(
    schema: ExtractSchema,
    headers: list[str],
    cols: list[str],
    rows: list[dict],
    parse_faults: dict[int, str],
    day: int,
) -> tuple[bytes, dict[int, str]]:
    if schema.format in ("csv", "text"):
        return _encode_rows(schema, headers, cols, rows, parse_faults)
    if schema.format == "jsonl":
        return _encode_jsonl(cols, headers, rows, parse_faults)
    if schema.format == "json":
        return _encode_json(cols, headers, rows, day), {}
    return _encode_xlsx(headers, cols, rows, parse_faults)


# ------------------------------------------------------------------------------ delivery
@dataclass
class DeliveryPlan:
    file_fault: str | None = None
    correction: bool = False


def write_delivery(
    out: Path,
    schema: ExtractSchema,
    day: int,
    rows: list[dict],
    row_faults: list[dict],
    *,
    rng,
    parse_rate: float,
    plan: DeliveryPlan,
    truth: Truth,
    delivery_no: int,
    first_nn: int,
    max_rows: int,
    delivered_at: dt.datetime,
    superseded: bool,
) -> int:
    """Write one delivery (its parts and .ok manifests). Returns the next free file number."""
    date = dt.date(1970, 1, 1) + dt.timedelta(days=int(day))
    folder = out / schema.source_id / date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    fault = plan.file_fault
    cols = schema.column_names
    headers = [c.header for c in schema.columns]
    n_parts = max(1, -(-len(rows) // max_rows))
    if (
        fault in ("manifest_missing", "md5_mismatch", "row_count_mismatch", "empty_file")
        and len(rows) >= 2
    ):
        n_parts = max(n_parts, 2)  # the fault hits the last part only
    if fault == "header_reordered":
        order = list(rng.permutation(len(cols)))
        cols, headers = [cols[i] for i in order], [headers[i] for i in order]
    elif fault == "header_extra_column":
        cols, headers = cols + ["_remark"], headers + ["BZ" if schema.format != "csv" else "备注"]
    elif fault == "header_renamed":
        alias = [(i, c) for i, c in enumerate(schema.columns) if c.aliases]
        if alias:
            i, c = alias[0]
            headers[i] = c.aliases[0]
        else:  # no known alias: rename an optional column to an unknown name (kept in _extra)
            opt = [i for i, c in enumerate(schema.columns) if not c.required]
            headers[opt[-1]] = headers[opt[-1]] + "_NEW"
    elif fault == "missing_required_column":
        req = [i for i, c in enumerate(schema.columns) if c.required]
        del cols[req[0]], headers[req[0]]
    if fault == "header_extra_column":
        for r in rows:
            r["_remark"] = "核查"
    bounds = np.linspace(0, len(rows), n_parts + 1).astype(int)
    delivery = f"D{date:%Y%m%d}{delivery_no:02d}{rng.integers(1000, 9999)}"
    nn = first_nn
    files = []
    for part in range(n_parts):
        lo, hi = bounds[part], bounds[part + 1]
        part_rows = rows[lo:hi]
        last = part == n_parts - 1
        pf = {}
        if parse_rate > 0 and schema.format != "json":
            kinds = [
                k
                for k in PARSE_FAULTS
                if (k != "malformed_record" or schema.format == "jsonl")
                and (k != "bad_bytes" or schema.format in ("csv", "text", "jsonl"))
            ]
            for i in np.flatnonzero(rng.random(len(part_rows)) < parse_rate):
                pf[int(i)] = str(rng.choice(kinds))
        data, applied = encode(schema, headers, cols, part_rows, pf, day)
        truncated = (
            fault == "truncated_last_line"
            and last
            and schema.format in ("csv", "text", "jsonl")
            and part_rows
        )
        if truncated:
            cut = data.rstrip(b"\r\n")
            last_nl = cut.rfind(b"\n")
            data = cut[: last_nl + 1 + max(1, (len(cut) - last_nl - 1) // 2)]
            applied[len(part_rows) - 1] = "truncated_last_line"
        name = f"{schema.source_id}_{date:%Y%m%d}_{nn:02d}.{schema.extension}"
        nn += 1
        manifest = {
            "file": name,
            "rows": len(part_rows),
            "md5": hashlib.md5(data).hexdigest(),
            "mode": schema.mode,
            "delivery": delivery,
            "parts": n_parts,
            "delivered_at": delivered_at.isoformat(),
        }
        status, reason = ("superseded", None) if superseded else ("accepted", None)
        if (
            last
            and fault in REJECTING - {"duplicate_file", "missing_required_column"}
            and n_parts > 1
        ):
            status, reason = "rejected", fault
            if fault == "md5_mismatch":
                manifest["md5"] = hashlib.md5(data + b"x").hexdigest()
            elif fault == "row_count_mismatch":
                manifest["rows"] += 1
            elif fault == "empty_file":
                data = b""
                manifest["md5"] = hashlib.md5(data).hexdigest()
        if fault == "missing_required_column":
            status, reason = "rejected", fault
        (folder / name).write_bytes(data)
        if not (status == "rejected" and fault == "manifest_missing"):
            (folder / f"{name}.ok").write_text(
                json.dumps(manifest, ensure_ascii=False), encoding="utf-8"
            )
        files.append((name, status, reason, manifest["rows"], data, manifest))
        for i, kind in applied.items():
            truth.row_faults.append(
                {
                    "source_id": schema.source_id,
                    "business_date": date.isoformat(),
                    "file": name,
                    "row_number": i + 1,
                    "fault": kind,
                    "column": None,
                    "true_value": None,
                    "delivered_value": None,
                    "entity": part_rows[i].get("_entity"),
                    "expect": "quarantine",
                }
            )
        idx_to_row = {lo + i: i + 1 for i in range(len(part_rows))}
        for f in row_faults:
            if f["index"] in idx_to_row and applied.get(idx_to_row[f["index"]] - 1) is None:
                truth.row_faults.append(
                    {
                        "source_id": schema.source_id,
                        "business_date": date.isoformat(),
                        "file": name,
                        "row_number": idx_to_row[f["index"]],
                        "fault": f["fault"],
                        "column": f["column"],
                        "true_value": f["true_value"],
                        "delivered_value": f["delivered_value"],
                        "entity": f["entity"],
                        "expect": "bronze",
                    }
                )
        quarantined = 0 if status != "accepted" else len(applied)
        truth.files.append(
            {
                "source_id": schema.source_id,
                "business_date": date.isoformat(),
                "file": name,
                "delivery": delivery,
                "expected_status": status,
                "expected_reason": reason,
                "manifest_rows": len(part_rows),
                "expected_bronze_rows": len(part_rows) - quarantined if status == "accepted" else 0,
                "expected_quarantined_rows": quarantined,
                "file_fault": fault,
            }
        )
    if fault == "duplicate_file" and files:
        name, _, _, rows_n, data, manifest = files[0]
        dup = f"{schema.source_id}_{date:%Y%m%d}_{nn:02d}.{schema.extension}"
        nn += 1
        (folder / dup).write_bytes(data)
        (folder / f"{dup}.ok").write_text(
            json.dumps({**manifest, "file": dup}, ensure_ascii=False), encoding="utf-8"
        )
        truth.files.append(
            {
                "source_id": schema.source_id,
                "business_date": date.isoformat(),
                "file": dup,
                "delivery": delivery,
                "expected_status": "superseded" if superseded else "rejected",
                "expected_reason": None if superseded else "duplicate_file",
                "manifest_rows": rows_n,
                "expected_bronze_rows": 0,
                "expected_quarantined_rows": 0,
                "file_fault": fault,
            }
        )
    return nn
