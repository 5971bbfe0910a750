"""``python -m samplecity``: a deterministic sample city's landing zone plus its ground truth.

Layout written under ``out``: ``<source_id>/<YYYY-MM-DD>/<files and .ok manifests>`` exactly as
spec/extracts.md says, and ``_truth/`` (ignored by ingestion) with what the tests compare to:

* ``files.csv``: each delivered file and whether it must be accepted, rejected or superseded;
* ``row_faults.csv``: each injected row fault (file, row number, column, true and delivered value);
* ``conflicts.csv``: each injected cross-source contradiction with the rule id that should find it;
* ``persons.parquet``, ``enterprises.parquet``, ``marriages.parquet``, ``births.parquet``,
  ``deaths.parquet``: the true state at the last business date and the events;
* ``params.json``: the options used.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.platform.config import extract_schemas
from samplecity import city as C
from samplecity.codes import make_ids, make_uscc
from samplecity.deliver import (
    FILE_FAULTS,
    REJECTING,
    VIEWS,
    DeliveryPlan,
    Truth,
    apply_row_faults,
    write_delivery,
)
from samplecity.events import LicenceBook, Schedule, agencies, backlog_licences, simulate_day


@dataclass(frozen=True)
class GenerateOptions:
    persons: int = 10_000
    days: int = 3
    seed: int = 42
    start: dt.date = dt.date(2026, 11, 2)
    value_fault_rate: float = 0.01  # share of delivered rows with a value fault (kept in bronze)
    parse_fault_rate: float = 0.001  # share of rows that cannot be parsed (quarantined)
    file_fault_rate: float = 0.15  # share of deliveries with a file-level fault
    conflict_rate: float = 0.01  # share of eligible entities with a cross-source contradiction
    event_scale: float = 1.0  # multiplies births, deaths, marriages... per day
    max_rows_per_file: int = 500_000
    correction: bool = True  # re-deliver one date of some sources as a correction


def generate(out: Path, opts: GenerateOptions, log=print) -> dict:
    """Write the landing zone and ground truth; returns a summary."""
    t0 = time.time()
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rng = np.random.default_rng(opts.seed)
    city = C.City(start=C.to_day(opts.start), days=opts.days, rng=rng)
    city.agencies = agencies(rng)
    C.build_population(city, opts.persons)
    C.build_history(city)
    C.build_legal_persons(city)
    C.build_insurance(city)
    _init_views(city)
    schedule = Schedule()
    conflicts = _inject_conflicts(city, opts, schedule)
    city.licences = LicenceBook(city)
    backlog_licences(city, city.licences)
    conflicts += _licence_conflicts(city, opts)
    log(
        f"city built: {len(city.persons):,} people, {len(city.enterprises):,} enterprises "
        f"({time.time() - t0:.1f}s)"
    )
    schemas = extract_schemas()
    plans = _plan_file_faults(rng, opts, list(schemas))
    truth = Truth()
    for k, day in enumerate(city.business_days):
        simulate_day(city, city.licences, schedule, day, opts.event_scale)
        schedule.apply_until(city, day)
        for source_id, schema in schemas.items():
            _deliver_source(
                out, city, schema, day, k, plans.get((source_id, k), DeliveryPlan()), opts, truth
            )
        log(
            f"{dt.date(1970, 1, 1) + dt.timedelta(days=int(day))} delivered ({time.time() - t0:.1f}s)"
        )
    _write_truth(out / "_truth", city, truth, conflicts, opts)
    return {
        "persons": len(city.persons),
        "files": len(truth.files),
        "seconds": round(time.time() - t0, 1),
    }


def _deliver_source(out, city, schema, day, k, plan, opts, truth) -> None:
    view = VIEWS.get(schema.source_id)
    if view is None:
        return  # a source onboarded by configuration has no synthetic view
    df = view(city, day)
    if "licence_uid" in df and df.empty:
        df = pd.DataFrame(columns=[*schema.column_names, "_entity"])
    rng = city.rng
    delivered_at = dt.datetime.combine(
        dt.date(1970, 1, 1) + dt.timedelta(days=int(day) + 1),
        dt.time(1),
        tzinfo=dt.timezone(dt.timedelta(hours=8)),
    )
    late = rng.random() < 0.05
    delivered_at += dt.timedelta(
        minutes=int(rng.integers(0, 270)) + (int(rng.integers(400, 900)) if late else 0)
    )
    nn = 1
    if plan.correction:
        # a first delivery with extra faults, then the correction that replaces it
        rows, faults = apply_row_faults(rng, schema, df, min(0.5, opts.value_fault_rate * 5 + 0.02))
        nn = write_delivery(
            out,
            schema,
            day,
            rows,
            faults,
            rng=rng,
            parse_rate=0.0,
            plan=DeliveryPlan(),
            truth=truth,
            delivery_no=1,
            first_nn=nn,
            max_rows=opts.max_rows_per_file,
            delivered_at=delivered_at,
            superseded=True,
        )
        delivered_at += dt.timedelta(hours=int(rng.integers(5, 30)))
    rows, faults = apply_row_faults(rng, schema, df, opts.value_fault_rate)
    write_delivery(
        out,
        schema,
        day,
        rows,
        faults,
        rng=rng,
        parse_rate=opts.parse_fault_rate,
        plan=plan,
        truth=truth,
        delivery_no=2 if plan.correction else 1,
        first_nn=nn,
        max_rows=opts.max_rows_per_file,
        delivered_at=delivered_at,
        superseded=False,
    )


def _plan_file_faults(rng, opts: GenerateOptions, sources: list[str]) -> dict:
    """Which deliveries get a file fault (every kind at least once when the rate allows)."""
    plans: dict = {}
    slots = [(s, k) for k in range(opts.days) for s in sources]
    if opts.file_fault_rate > 0:
        n = max(len(FILE_FAULTS), int(round(opts.file_fault_rate * len(slots))))
        order = [slots[i] for i in rng.permutation(len(slots))]
        kinds = [FILE_FAULTS[i % len(FILE_FAULTS)] for i in range(n)]
        schemas = extract_schemas()
        for kind in kinds:
            for slot in order:
                s, k = slot
                # the first date carries every source's initial load (snapshot or backlog):
                # losing it would leave later dates nothing to build on
                full_first = k == 0
                text_only = kind == "truncated_last_line" and schemas[s].format not in (
                    "csv",
                    "text",
                    "jsonl",
                )
                if slot in plans or (kind in REJECTING and full_first) or text_only:
                    continue
                plans[slot] = DeliveryPlan(file_fault=kind)
                break
    if opts.correction and opts.days >= 2:
        k = opts.days // 2
        for s in ("gaj_hjrk", "mzj_hydj", "rsj_sbcb"):
            plans[(s, k)] = DeliveryPlan(
                file_fault=plans.get((s, k), DeliveryPlan()).file_fault, correction=True
            )
    return plans


# ------------------------------------------------------------------------------ views and conflicts
# 税务 cancels the taxpayer of an enterprise revoked or cancelled at 市场监管 (the contract's
# enterprise_status_conflict holds anything else against 税务)
_TAX = {"active": "03", "revoked": "07", "cancelled": "07"}


def _init_views(city: C.City) -> None:
    p, e, i, rng = city.persons, city.enterprises, city.insurance, city.rng
    p["hjrk_status"], p["hjrk_marital"] = p["reg_status"], p["marital"]
    if "hjrk_from" not in p:
        p["hjrk_from"] = 0
    p["hjrk_from"] = p["hjrk_from"].fillna(0).astype(int)
    e["view_tax_status"] = e["status"].map(_TAX)
    minor = (e["status"] == "active") & (rng.random(len(e)) < 0.04)
    e.loc[minor, "view_tax_status"] = rng.choice(["04", "05", "06"], minor.sum())
    e["tax_rep"], e["tax_from"] = e["rep"], 0
    i["view_name"] = p.loc[i["person"], "name"].to_numpy()
    i["view_sex"] = p.loc[i["person"], "sex"].to_numpy()
    i["view_birth"] = p.loc[i["person"], "birth"].to_numpy()
    i["view_status"], i["view_benefits"] = i["status"], i["benefits"]
    i["employer_code_override"] = None


def _pick(rng, idx, rate: float) -> np.ndarray:
    idx = np.asarray(idx)
    return idx[rng.random(len(idx)) < rate] if len(idx) else idx


def _conflict(rule, kind, entity, source, attribute, observed, expected, fixed_day=-1) -> dict:
    return {
        "rule_id": rule,
        "entity_kind": kind,
        "entity_id": entity,
        "source_id": source,
        "attribute": attribute,
        "observed": observed,
        "expected": expected,
        "fixed_day": fixed_day,
    }


def _fix_day(city, rng, schedule, frame, row, column, value) -> int:
    """About a third of contradictions are fixed in a later delivery (findings become resolved)."""
    if city.days < 3 or rng.random() > 0.3:
        return -1
    day = city.start + int(rng.integers(1, city.days))
    schedule.add(day, frame, row, column, value)
    return day


def _inject_conflicts(city: C.City, opts: GenerateOptions, schedule: Schedule) -> list[dict]:
    rng, p, e, ins, r = city.rng, city.persons, city.enterprises, city.insurance, opts.conflict_rate
    out = []
    people = ins.drop_duplicates("person")
    rows_of = ins.groupby("person").indices  # person → positions (the index is 0..n-1)
    for j in _pick(rng, people.index, r):  # name in 人社 differs from 户籍
        person = ins.at[j, "person"]
        rows = ins.index[rows_of[person]]
        wrong = p.at[person, "name"][:-1] + rng.choice(list("明华英杰伟芳军静"))
        if wrong == p.at[person, "name"]:
            continue
        ins.loc[rows, "view_name"] = wrong
        fixed = _fix_day(
            city, rng, schedule, "insurance", rows[0], "view_name", p.at[person, "name"]
        )
        for row in rows[1:] if fixed >= 0 else []:
            schedule.add(fixed, "insurance", row, "view_name", p.at[person, "name"])
        out.append(
            _conflict(
                "person_name_mismatch",
                "person",
                p.at[person, "id_number"],
                "rsj_sbcb",
                "name",
                wrong,
                p.at[person, "name"],
                fixed,
            )
        )
    for j in _pick(rng, people.index, r):
        person = ins.at[j, "person"]
        rows = ins.index[rows_of[person]]
        ins.loc[rows, "view_sex"] = 3 - p.at[person, "sex"]
        out.append(
            _conflict(
                "person_sex_mismatch",
                "person",
                p.at[person, "id_number"],
                "rsj_sbcb",
                "sex",
                str(3 - p.at[person, "sex"]),
                str(p.at[person, "sex"]),
            )
        )
    for j in _pick(rng, people.index, r):
        person = ins.at[j, "person"]
        rows = ins.index[rows_of[person]]
        ins.loc[rows, "view_birth"] = p.at[person, "birth"] + int(rng.integers(40, 400))
        out.append(
            _conflict(
                "person_birth_mismatch",
                "person",
                p.at[person, "id_number"],
                "rsj_sbcb",
                "birth_date",
                str(ins.at[rows[0], "view_birth"]),
                str(p.at[person, "birth"]),
            )
        )
    dead = p.index[(p["death_day"] >= 0) & (p["death_day"] < city.start - 30) & p["resident"]]
    for d in _pick(rng, dead, r * 5):
        p.at[d, "hjrk_status"] = "0"
        fixed = _fix_day(city, rng, schedule, "persons", d, "hjrk_status", "1")
        out.append(
            _conflict(
                "death_not_deregistered",
                "person",
                p.at[d, "id_number"],
                "gaj_hjrk",
                "reg_status",
                "0",
                "1",
                fixed,
            )
        )
    pensions = ins.index[
        (ins["benefits"] == 0) & ins["person"].isin(dead) & (ins["type"].isin(["110", "120"]))
    ]
    for j in _pick(rng, pensions, r * 10):
        ins.at[j, "view_benefits"], ins.at[j, "view_status"] = 1, "2"
        out.append(
            _conflict(
                "benefit_after_death",
                "person",
                p.at[ins.at[j, "person"], "id_number"],
                "rsj_sbcb",
                "receiving_benefits",
                "1",
                "0",
            )
        )
    # people whose latest registration is at least 30 days old: 户籍 records a registration
    # within days (the rule's grace period), so a newer one is a lag, not a contradiction
    m = city.marriages
    last = pd.concat(
        [
            m[["male", "day"]].rename(columns={"male": "p"}),
            m[["female", "day"]].rename(columns={"female": "p"}),
        ]
    )
    last = last.groupby("p")["day"].max()
    registered = set(last.index[last < city.start - 30])
    wed = p.index[p["resident"] & p.index.isin(list(registered)) & (p["hjrk_status"] == "0")]
    flip = {
        "10": "20",
        "20": "10",
        "21": "40",
        "22": "10",
        "23": "10",
        "30": "20",
        "40": "20",
        "90": "20",
    }
    for person in _pick(rng, wed, r):
        old = p.at[person, "hjrk_marital"]
        p.at[person, "hjrk_marital"] = flip.get(old, "10")
        out.append(
            _conflict(
                "marital_status_mismatch",
                "person",
                p.at[person, "id_number"],
                "gaj_hjrk",
                "marital_status",
                flip.get(old, "10"),
                old,
            )
        )
    closed = e.index[e["status"] != "active"]
    for j in _pick(rng, closed, r * 5):
        e.at[j, "view_tax_status"] = "03"
        fixed = _fix_day(
            city, rng, schedule, "enterprises", j, "view_tax_status", _TAX[e.at[j, "status"]]
        )
        if not e.at[j, "tax_registered"]:  # 税务 never delivers it, so there is nothing to find
            continue  # (the draws above are kept, so the rest of the city stays the same)
        out.append(
            _conflict(
                "enterprise_status_conflict",
                "legal_person",
                e.at[j, "uscc"],
                "swj_swdj",
                "tax_status",
                "03",
                _TAX[e.at[j, "status"]],
                fixed,
            )
        )
    adults = p.index[p["resident"] & (p["death_day"] < 0)].to_numpy()
    for j in _pick(rng, e.index[e["rep"] >= 0], r):
        e.at[j, "tax_rep"] = rng.choice(adults)
        if not e.at[j, "tax_registered"]:  # as above
            continue
        out.append(
            _conflict(
                "legal_rep_mismatch",
                "legal_person",
                e.at[j, "uscc"],
                "swj_swdj",
                "legal_rep_name",
                p.at[e.at[j, "tax_rep"], "name"],
                p.at[e.at[j, "rep"], "name"],
            )
        )
    employed = ins.index[ins["employer"] >= 0]
    for j in _pick(rng, employed, r):
        fake = make_uscc(
            np.array(["91"]), np.array(["130902"]), np.array([f"{rng.integers(10**7, 10**8)}"])
        )[0]
        ins.at[j, "employer_code_override"] = fake
        out.append(
            _conflict(
                "employer_unknown", "legal_person", fake, "rsj_sbcb", "employer_uscc", fake, None
            )
        )
    births = city.births[city.births["issued_day"] < city.start - 60]
    for b in _pick(rng, births.index, r * 5):
        child = city.births.at[b, "child"]
        p.at[child, "hjrk_from"] = 10**6
        out.append(
            _conflict(
                "birth_not_registered",
                "person",
                city.births.at[b, "certificate_no"],
                "gaj_hjrk",
                "registration",
                None,
                "registered",
            )
        )
    return out


def _licence_conflicts(city: C.City, opts: GenerateOptions) -> list[dict]:
    rng, book, p = city.rng, city.licences, city.persons
    out = []
    dead = set(p.index[p["death_day"] >= 0])
    cards = [(k, ids) for k, ids in book.by_key.items() if k[0] == "card"]
    for key, ids in cards:  # the dead's social security cards are cancelled...
        if key[1] in dead:
            for i in ids:
                book.rows[i]["status"] = "2"
                if rng.random() < opts.conflict_rate * 5:  # ...except where the platform missed it
                    book.rows[i]["status"] = "1"
                    out.append(("card", i))
    closed = [
        (k, ids)
        for k, ids in book.by_key.items()
        if k[0] == "ent" and city.enterprises.at[k[1], "status"] != "active"
    ]
    for _, ids in closed:
        for i in ids:
            if rng.random() < opts.conflict_rate * 5:
                book.rows[i]["status"] = "1"
                out.append(("ent", i))
    book.assign_uids()
    found = [
        _conflict(
            "licence_status_conflict",
            "licence",
            book.rows[i]["uid"],
            "zwfw_dzzz",
            "status",
            "1",
            "2" if kind == "card" else "cancelled",
        )
        for kind, i in out
    ]
    n_unknown = (
        max(1, int(len(book.rows) * opts.conflict_rate / 10)) if opts.conflict_rate > 0 else 0
    )
    regions = np.array(["130902"] * n_unknown)
    births = np.array(
        [
            C.day_str(np.array([C.to_day(dt.date(1980, 1, 1)) + int(rng.integers(0, 9000))]))[0]
            for _ in range(n_unknown)
        ]
    )
    strangers = (
        make_ids(regions, births, np.char.zfill(rng.integers(900, 1000, n_unknown).astype(str), 3))
        if n_unknown
        else []
    )
    issued = []
    known = set(p["id_number"])
    for code in strangers:
        if code in known:
            continue
        issued.append(
            (
                book.issue(
                    city.start - int(rng.integers(10, 500)),
                    "社会保障卡",
                    f"X{code[-8:]}",
                    code,
                    "王某某",
                    "沧州市人力资源和社会保障局",
                    "111",
                ),
                code,
            )
        )
    book.assign_uids()
    for i, code in issued:
        found.append(
            _conflict(
                "licence_holder_unknown",
                "licence",
                book.rows[i]["uid"],
                "zwfw_dzzz",
                "holder_code",
                code,
                None,
            )
        )
    return found


def _write_truth(
    folder: Path, city: C.City, truth: Truth, conflicts: list[dict], opts: GenerateOptions
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(truth.files).to_csv(folder / "files.csv", index=False)
    pd.DataFrame(
        truth.row_faults,
        columns=[
            "source_id",
            "business_date",
            "file",
            "row_number",
            "fault",
            "column",
            "true_value",
            "delivered_value",
            "entity",
            "expect",
        ],
    ).to_csv(folder / "row_faults.csv", index=False)
    cf = pd.DataFrame(
        conflicts,
        columns=[
            "rule_id",
            "entity_kind",
            "entity_id",
            "source_id",
            "attribute",
            "observed",
            "expected",
            "fixed_day",
        ],
    )
    cf["fixed_on"] = [
        str(dt.date(1970, 1, 1) + dt.timedelta(days=int(d))) if d >= 0 else ""
        for d in cf["fixed_day"]
    ]
    cf.drop(columns="fixed_day").to_csv(folder / "conflicts.csv", index=False)
    p = city.persons
    ids = p["id_number"]
    ref = lambda col: np.where(p[col] >= 0, ids.reindex(p[col].clip(lower=0)).to_numpy(), None)  # noqa: E731
    persons = pd.DataFrame(
        {
            "person_id": ids,
            "name": p["name"],
            "sex": p["sex"].astype(str),
            "birth_date": pd.to_datetime(p["birth"], unit="D").dt.date,
            "ethnicity": p["ethnicity"],
            "region_code": p["region"],
            "household_no": p["household_no"],
            "marital_status": p["marital"],
            "is_deceased": p["death_day"] >= 0,
            "death_date": [
                dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) if d >= 0 else None
                for d in p["death_day"]
            ],
            "is_resident": p["resident"] & (p["reg_status"] == "0"),
            "spouse_id": ref("spouse"),
            "mother_id": ref("mother"),
            "father_id": ref("father"),
        }
    )
    persons.to_parquet(folder / "persons.parquet", index=False)
    e = city.enterprises
    pd.DataFrame(
        {
            "uscc": e["uscc"],
            "reg_no": e["reg_no"],
            "name": e["name"],
            "reg_status": e["status"],
            "cancelled_on": [
                dt.date(1970, 1, 1) + dt.timedelta(days=int(d))
                if e_s != "active" and d >= 0
                else None
                for d, e_s in zip(e["cancel_day"], e["status"], strict=True)
            ],
            "legal_rep_id": np.where(
                e["rep"] >= 0, ids.reindex(e["rep"].clip(lower=0)).to_numpy(), e["rep_passport"]
            ),
        }
    ).to_parquet(folder / "enterprises.parquet", index=False)
    m = city.marriages
    pd.DataFrame(
        {
            "reg_type": m["reg_type"],
            "date": pd.to_datetime(m["day"], unit="D").dt.date,
            "male_id": ids.reindex(m["male"]).to_numpy(),
            "female_id": ids.reindex(m["female"]).to_numpy(),
            "certificate_no": m["certificate_no"],
        }
    ).to_parquet(folder / "marriages.parquet", index=False)
    b = city.births
    pd.DataFrame(
        {
            "certificate_no": b["certificate_no"],
            "child_id": ids.reindex(b["child"]).to_numpy(),
            "issued_on": pd.to_datetime(b["issued_day"], unit="D").dt.date,
        }
    ).to_parquet(folder / "births.parquet", index=False)
    (folder / "params.json").write_text(
        json.dumps({k: str(v) for k, v in asdict(opts).items()}, indent=1)
    )
