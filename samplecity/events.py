"""Daily life of the city: births, deaths, marriages, divorces, enterprises opening and closing.

Each event changes the truth at once and schedules what each department's system shows, and
when (公安 deregisters a death some days after 卫健 certifies it; 税务 cancels an enterprise
some days after 市场监管). Licences (电子证照) are issued as records of the e-licence platform.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np
import pandas as pd

from samplecity.city import CITY_COUNTIES, NO_DAY, City, _birth_frame, _death_frame, add_persons
from samplecity.codes import make_uscc, mod_37_36_check_chars

# per 10,000 residents (or enterprises) per day; scaled by the generator's --event-scale
RATES = {
    "birth": 2.0,
    "death": 2.0,
    "marriage": 1.5,
    "divorce": 0.6,
    "enterprise_open": 4.0,
    "enterprise_close": 3.0,
}

_seq = itertools.count()


class Schedule:
    """Changes to a department's view of an entity, effective from a day (a min-heap)."""

    def __init__(self):
        self.heap: list = []

    def add(self, day: int, frame: str, row: int, column: str, value) -> None:
        heapq.heappush(self.heap, (int(day), next(_seq), frame, int(row), column, value))

    def apply_until(self, city: City, day: int) -> None:
        while self.heap and self.heap[0][0] <= day:
            _, _, frame, row, column, value = heapq.heappop(self.heap)
            getattr(city, frame).at[row, column] = value


def agencies(rng) -> dict[str, str]:
    """Issuing authorities and ministries with valid credit codes (11 = 机关)."""
    names = {
        "市场监管总局": "100000",
        "民政部": "100000",
        "国家卫生健康委员会": "100000",
        "人力资源和社会保障部": "100000",
        "沧州市卫生健康委员会": "130900",
        "沧州市人力资源和社会保障局": "130900",
        "沧州市民政局": "130900",
    }
    for code, county in CITY_COUNTIES.items():
        names[f"{county}市场监督管理局"] = code
        names[f"{county}民政局婚姻登记处"] = code
    org = np.array([f"{i:08d}" for i in rng.choice(10**8, len(names), replace=False)])
    codes = make_uscc(np.full(len(names), "11"), np.array(list(names.values())), org)
    return dict(zip(names, codes.tolist(), strict=True))


LICENCE_TYPES = {  # 证照名称 → (competent ministry, 3-digit suffix)
    "营业执照": ("市场监管总局", "001"),
    "结婚证": ("民政部", "011"),
    "离婚证": ("民政部", "012"),
    "出生医学证明": ("国家卫生健康委员会", "021"),
    "社会保障卡": ("人力资源和社会保障部", "031"),
    "社会团体法人登记证书": ("民政部", "041"),
}


def licence_uids(type_codes: np.ndarray, issuers: np.ndarray, serials: np.ndarray) -> np.ndarray:
    """GB/T 36904 identifiers: 1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>."""
    version = np.full(len(type_codes), "001")
    ser = np.char.zfill(serials.astype(str), 8)
    body = np.char.add(
        np.char.add(np.char.add(type_codes.astype(str), issuers.astype(str)), ser), version
    )
    check = mod_37_36_check_chars(body, 50)
    parts = [
        np.full(len(body), "1.2.156.3005.2."),
        type_codes.astype(str),
        ".",
        issuers.astype(str),
        ".",
        ser,
        ".",
        version,
        ".",
        check,
    ]
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(out, p)
    return out.astype(object)


class LicenceBook:
    """The e-licence platform's records; every issue or status change is a delivered record."""

    def __init__(self, city: City):
        self.city = city
        self.rows: list[dict] = []  # current state, by index
        self.events: list[tuple[int, int]] = []  # (delivery day, licence index)
        self.serial = itertools.count(1)
        self.by_key: dict[tuple, list[int]] = {}
        self.pending: list[int] = []  # licences still without an identifier

    def issue(
        self,
        day: int,
        kind: str,
        no: str,
        holder_code: str,
        holder_name: str,
        issuer: str,
        holder_type: str,
        valid_to: int = NO_DAY,
        status: str = "1",
        key=None,
    ) -> int:
        ministry, suffix = LICENCE_TYPES[kind]
        i = len(self.rows)
        self.rows.append(
            {
                "kind": kind,
                "type_code": self.city.agencies[ministry] + suffix,
                "no": no,
                "holder_code": holder_code,
                "holder_name": holder_name,
                "issuer": issuer,
                "issuer_code": self.city.agencies[issuer],
                "issued_day": int(day),
                "valid_to": int(valid_to),
                "status": status,
                "holder_type": holder_type,
                "serial": next(self.serial),
                "uid": None,
            }
        )
        self.events.append((int(day), i))
        self.pending.append(i)
        if key is not None:
            self.by_key.setdefault(key, []).append(i)
        return i

    def change_status(self, day: int, key, status: str) -> None:
        for i in self.by_key.get(key, []):
            if self.rows[i]["status"] != status:
                self.rows[i] = {**self.rows[i], "status": status}
                self.events.append((int(day), i))

    def assign_uids(self) -> None:
        todo, self.pending = self.pending, []
        if not todo:
            return
        rows = [self.rows[i] for i in todo]
        uids = licence_uids(
            np.array([r["type_code"] for r in rows]),
            np.array([r["issuer_code"] for r in rows]),
            np.array([r["serial"] for r in rows]),
        )
        for i, u in zip(todo, uids, strict=True):
            self.rows[i]["uid"] = u

    def delivered(self, day: int, first_day: int) -> pd.DataFrame:
        """Licence records delivered on ``day`` (the first delivery carries the backlog).

        A licence changed twice in one day is delivered once, in its latest state; the state
        is the one of the moment of delivery (later changes are later deliveries).
        """
        self.assign_uids()
        idx = sorted({i for d, i in self.events if d == day or (day == first_day and d < day)})
        return pd.DataFrame([self.rows[i] for i in idx]) if idx else pd.DataFrame()


def backlog_licences(city: City, book: LicenceBook) -> None:
    """Licences issued before the first business date (the platform's historical backlog)."""
    p, e, s = city.persons, city.enterprises, city.social_orgs
    status = {"active": "1", "cancelled": "2", "revoked": "3"}
    for r in e.itertuples():
        county = CITY_COUNTIES[r.region]
        book.issue(
            r.founded_day,
            "营业执照",
            r.uscc,
            r.uscc,
            r.name,
            f"{county}市场监督管理局",
            "001",
            r.term_to,
            status[r.status],
            key=("ent", r.Index),
        )
    for r in s[s["kind"] == "社会团体"].itertuples():
        book.issue(
            r.founded_day,
            "社会团体法人登记证书",
            r.uscc,
            r.uscc,
            r.name,
            "沧州市民政局",
            "001",
            status="1" if r.status == "正常" else "2",
            key=("org", r.Index),
        )
    ids, names = p["id_number"].to_numpy(), p["name"].to_numpy()  # positional = index here
    for m in city.marriages.itertuples():
        issue_marriage_licences(
            city,
            book,
            m.day,
            m.reg_type,
            m.male,
            m.female,
            m.certificate_no,
            m.registrar_region,
            ids,
            names,
        )
    for b in city.births.itertuples():
        if b.mother >= 0:
            book.issue(
                b.issued_day,
                "出生医学证明",
                b.certificate_no,
                ids[b.mother],
                names[b.mother],
                "沧州市卫生健康委员会",
                "111",
            )
    first = city.insurance.drop_duplicates("person")
    for r in first.itertuples():
        book.issue(
            r.enrolled_day,
            "社会保障卡",
            r.insured_no,
            ids[r.person],
            names[r.person],
            "沧州市人力资源和社会保障局",
            "111",
            key=("card", r.person),
        )


def issue_marriage_licences(
    city, book, day, reg_type, male, female, cert, region, ids=None, names=None
) -> None:
    if ids is None:
        ids, names = city.persons["id_number"].to_numpy(), city.persons["name"].to_numpy()
    kind = {"IA": "结婚证", "ICA": "结婚证", "IB": "离婚证", "ICB": "离婚证"}[reg_type]
    issuer = f"{CITY_COUNTIES[region]}民政局婚姻登记处"
    if reg_type == "IB":  # the marriage certificates end with the divorce
        book.change_status(day, ("marriage", male, female), "2")
    for who in (male, female):
        book.issue(
            day,
            kind,
            cert,
            ids[who],
            names[who],
            issuer,
            "111",
            key=("marriage", male, female) if kind == "结婚证" else None,
        )


def simulate_day(city: City, book: LicenceBook, schedule: Schedule, day: int, scale: float) -> None:
    """One business day of events."""
    rng = city.rng
    p = city.persons
    residents = p.index[p["resident"] & (p["reg_status"] == "0") & (p["death_day"] < 0)].to_numpy()
    n_res = max(1, len(residents))

    def count(kind: str, base: int) -> int:
        return int(rng.poisson(RATES[kind] * scale * base / 10_000))

    _births(city, book, schedule, day, count("birth", n_res))
    _deaths(city, book, schedule, day, count("death", n_res))
    _marriages(city, book, schedule, day, count("marriage", n_res))
    _divorces(city, book, schedule, day, count("divorce", n_res))
    _enterprises(
        city,
        book,
        schedule,
        day,
        count("enterprise_open", len(city.enterprises)),
        count("enterprise_close", len(city.enterprises)),
    )


def _births(city, book, schedule, day, n) -> None:
    rng, p = city.rng, city.persons
    age = (day - p["birth"]) / 365.25
    mothers = p.index[
        (p["sex"] == 2)
        & p["resident"]
        & (p["death_day"] < 0)
        & (p["spouse"] >= 0)
        & (age > 21)
        & (age < 42)
    ].to_numpy()
    if n == 0 or len(mothers) == 0:
        return
    moms = rng.choice(mothers, min(n, len(mothers)), replace=False)
    dads = p.loc[moms, "spouse"].to_numpy()
    sex = rng.integers(1, 3, len(moms))
    kids = add_persons(
        city,
        sex,
        day - rng.integers(1, 6, len(moms)),
        p.loc[moms, "region"].to_numpy(),
        resident=True,
    )
    p = city.persons
    for k, m, f in zip(kids, moms, dads, strict=True):
        surname = p.at[f, "name"][0] if p.at[f, "resident"] else p.at[m, "name"][0]
        p.at[k, "name"] = surname + p.at[k, "name"][1:]
        for col in ("household", "household_no", "address", "region"):
            p.at[k, col] = p.at[m, col]
        p.at[k, "mother"], p.at[k, "father"] = m, f
        p.at[k, "relation"] = "20" if p.at[k, "sex"] == 1 else "30"
        p.at[k, "hjrk_from"] = day + int(rng.integers(1, 30))  # 户籍 registration follows birth
    births = _birth_frame(city, kids, np.full(len(kids), day))
    city.births = pd.concat([city.births, births], ignore_index=True)
    for b in births.itertuples():
        book.issue(
            day,
            "出生医学证明",
            b.certificate_no,
            p.at[b.mother, "id_number"],
            p.at[b.mother, "name"],
            "沧州市卫生健康委员会",
            "111",
        )


def _deaths(city, book, schedule, day, n) -> None:
    rng, p = city.rng, city.persons
    alive = p.index[p["resident"] & (p["reg_status"] == "0") & (p["death_day"] < 0)].to_numpy()
    if n == 0 or len(alive) == 0:
        return
    w = np.clip((day - p.loc[alive, "birth"].to_numpy()) / 365.25 - 40, 0.1, None) ** 3
    dead = rng.choice(alive, min(n, len(alive)), replace=False, p=w / w.sum())
    ins = city.insurance
    rows_of = ins.index[ins["person"].isin(dead)].groupby(
        ins.loc[ins["person"].isin(dead), "person"]
    )
    for d in dead:
        p.at[d, "death_day"] = day - int(rng.integers(0, 3))
        p.at[d, "reg_status"] = "1"
        p.at[d, "dereg_day"] = day + int(rng.integers(1, 8))
        schedule.add(p.at[d, "dereg_day"], "persons", d, "hjrk_status", "1")
        sp = p.at[d, "spouse"]
        if sp >= 0:
            p.at[sp, "marital"] = "30"
            p.at[sp, "spouse"] = -1
            schedule.add(day + int(rng.integers(1, 10)), "persons", sp, "hjrk_marital", "30")
        for i in rows_of.get(d, []):
            schedule.add(day + int(rng.integers(1, 20)), "insurance", i, "view_status", "3")
            schedule.add(day + int(rng.integers(1, 20)), "insurance", i, "view_benefits", 0)
        book.change_status(day + 1, ("card", d), "2")
    deaths = _death_frame(city, dead)
    deaths["reported_day"] = day
    city.deaths = pd.concat([city.deaths, deaths], ignore_index=True)


def _marriages(city, book, schedule, day, n) -> None:
    rng, p = city.rng, city.persons
    age = (day - p["birth"]) / 365.25
    single = (
        p["resident"]
        & (p["death_day"] < 0)
        & (p["reg_status"] == "0")
        & (p["spouse"] < 0)
        & (age > 22)
        & (age < 60)
    )
    men, women = (
        p.index[single & (p["sex"] == 1)].to_numpy(),
        p.index[single & (p["sex"] == 2)].to_numpy(),
    )
    k = min(n, len(men), len(women))
    if k == 0:
        return
    men, women = rng.choice(men, k, replace=False), rng.choice(women, k, replace=False)
    outsiders = rng.random(k) < 0.25  # a partner registered outside the city
    if outsiders.any():
        new = add_persons(
            city,
            np.full(outsiders.sum(), 2),
            p.loc[men[outsiders], "birth"].to_numpy() + 700,
            np.full(outsiders.sum(), "110105"),
            resident=False,
        )
        women[outsiders] = new
        p = city.persons
    for m, w in zip(men, women, strict=True):
        for a, b in ((m, w), (w, m)):
            new_status = "22" if p.at[a, "marital"] in ("30", "40") else "20"
            p.at[a, "marital"], p.at[a, "spouse"] = new_status, b
            schedule.add(day + int(rng.integers(1, 10)), "persons", a, "hjrk_marital", new_status)
    ev = pd.DataFrame({"reg_type": "IA", "day": day, "male": men, "female": women})
    _add_marriage_events(city, book, ev)


def _divorces(city, book, schedule, day, n) -> None:
    rng, p = city.rng, city.persons
    husbands = p.index[
        (p["sex"] == 1) & (p["spouse"] >= 0) & (p["death_day"] < 0) & p["resident"]
    ].to_numpy()
    if n == 0 or len(husbands) == 0:
        return
    men = rng.choice(husbands, min(n, len(husbands)), replace=False)
    women = p.loc[men, "spouse"].to_numpy()
    for m, w in zip(men, women, strict=True):
        for a in (m, w):
            p.at[a, "marital"], p.at[a, "spouse"] = "40", -1
            schedule.add(day + int(rng.integers(1, 10)), "persons", a, "hjrk_marital", "40")
    ev = pd.DataFrame({"reg_type": "IB", "day": day, "male": men, "female": women})
    _add_marriage_events(city, book, ev)


def _add_marriage_events(city, book, ev: pd.DataFrame) -> None:
    from samplecity.city import _marriage_frame

    frame = _marriage_frame(
        city, list(ev[["reg_type", "day", "male", "female"]].itertuples(index=False))
    )
    city.marriages = pd.concat([city.marriages, frame], ignore_index=True)
    for m in frame.itertuples():
        issue_marriage_licences(
            city, book, m.day, m.reg_type, m.male, m.female, m.certificate_no, m.registrar_region
        )


def _enterprises(city, book, schedule, day, n_open, n_close) -> None:
    rng, e = city.rng, city.enterprises
    active = e.index[(e["status"] == "active") & (e["founded_day"] < day)].to_numpy()
    for i in rng.choice(active, min(n_close, len(active)), replace=False) if len(active) else []:
        e.at[i, "status"], e.at[i, "cancel_day"], e.at[i, "approved_day"] = "cancelled", day, day
        schedule.add(day + int(rng.integers(1, 15)), "enterprises", i, "view_tax_status", "07")
        book.change_status(day, ("ent", i), "2")
    if n_open == 0:
        return
    new = e.sample(n_open, random_state=int(rng.integers(0, 2**31)), replace=True).copy()
    org8 = np.array([f"{x:08d}" for x in rng.integers(10**7, 10**8, n_open)])
    new["uscc"] = make_uscc(np.full(n_open, "91"), new["region"].to_numpy(), org8).astype(object)
    new["uscc_delivered"] = new["uscc"]
    new["org9"] = [u[8:17] for u in new["uscc"]]
    new["reg_no"], new["status"], new["cancel_day"] = "", "active", NO_DAY
    new["founded_day"], new["approved_day"] = day, day
    new["name"] = (
        new["name"].str.replace("有限公司", "")
        + "新"
        + pd.Series(np.arange(n_open), index=new.index).astype(str)
        + "有限公司"
    )
    new["view_tax_status"] = "03"
    new["tax_from"] = day + rng.integers(1, 10, n_open)
    new.index = np.arange(len(e), len(e) + n_open)
    city.enterprises = pd.concat([e, new])
    for r in new.itertuples():
        book.issue(
            day,
            "营业执照",
            r.uscc,
            r.uscc,
            r.name,
            f"{CITY_COUNTIES[r.region]}市场监督管理局",
            "001",
            r.term_to,
            "1",
            key=("ent", r.Index),
        )
