"""The true state of a synthetic 沧州市: people, households, legal persons, and their events.

Everything here is ground truth. The departments' deliveries (samplecity/deliver.py) are
views of it, each with its own lags and faults. Built column-wise with numpy so that a
million-person city takes well under a minute.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from faker.providers.person.zh_CN import Provider as ZhNames

from samplecity.codes import CITY_COUNTIES, division_codes, make_ids, make_uscc

EPOCH = np.datetime64("1970-01-01", "D")
NO_DAY = -999_999  # "no date" (days are signed: births before 1970 are negative)

ETHNICITIES = ["01", "03", "11", "02", "10", "06", "04", "05", "08"]
ETHNICITY_P = [0.935, 0.045, 0.01, 0.003, 0.002, 0.002, 0.001, 0.001, 0.001]
STREETS = [
    "解放路",
    "永安大道",
    "浮阳大道",
    "新华路",
    "运河路",
    "朝阳街",
    "光荣路",
    "维明路",
    "北京路",
    "上海路",
    "黄河路",
    "渤海路",
    "清池大道",
    "华北路",
    "迎宾大道",
    "开元路",
]
INDUSTRIES = [
    "商贸",
    "建材",
    "机械制造",
    "五金",
    "物流",
    "食品",
    "服装",
    "电子科技",
    "化工",
    "农业开发",
    "管道装备",
    "汽车配件",
    "印刷",
    "餐饮管理",
    "信息技术",
    "建筑工程",
]
ENTERPRISE_TYPES = [
    "有限责任公司(自然人投资或控股)",
    "有限责任公司(自然人独资)",
    "股份有限公司(非上市)",
    "有限责任公司(国有独资)",
    "个人独资企业",
    "普通合伙企业",
]
SCOPES = [
    "一般项目：{x}产品销售；技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广",
    "许可项目：道路货物运输（不含危险货物）。（依法须经批准的项目，经相关部门批准后方可开展经营活动）\n一般项目：{x}",
    '{x}的研发、生产、销售；货物进出口；"互联网+"服务，（不得从事"非法集资"）',
    "{x}，五金产品批发，日用百货销售\n（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
]
HOSPITALS = [
    "沧州市人民医院",
    "沧州市中心医院",
    "沧州市妇幼保健院",
    "河间市人民医院",
    "任丘市人民医院",
    "黄骅市人民医院",
    "泊头市医院",
    "献县人民医院",
]
ICD10 = ["I21.9", "I63.9", "C34.9", "J44.9", "I10", "E11.9", "C16.9", "K74.6", "J18.9", "V89.2"]
SURNAMES = list(ZhNames.last_names.keys())
SURNAME_P = np.array(list(ZhNames.last_names.values()), dtype=float)
SURNAME_P /= SURNAME_P.sum()


def to_day(d: dt.date) -> int:
    return (np.datetime64(d, "D") - EPOCH).astype(int)


def day_str(days: np.ndarray, fmt: str = "%Y%m%d") -> np.ndarray:
    """Day numbers as text; the contract's fixed formats go through numpy (50x pandas strftime)."""
    iso = (EPOCH + np.asarray(days, dtype="int64").astype("timedelta64[D]")).astype("U10")
    if fmt == "%Y-%m-%d":
        return iso.astype(object)
    if fmt in ("%Y%m%d", "%Y%m"):
        compact = np.char.replace(iso, "-", "")
        return (compact if fmt == "%Y%m%d" else compact.astype("U6")).astype(object)
    s = pd.to_datetime(np.asarray(days, dtype="int64"), unit="D").strftime(fmt)
    return np.asarray(s, dtype=object)


@dataclass
class City:
    """The truth. Days are integers (days since 1970-01-01)."""

    start: int
    days: int
    rng: np.random.Generator
    persons: pd.DataFrame = field(default=None)
    enterprises: pd.DataFrame = field(default=None)
    social_orgs: pd.DataFrame = field(default=None)
    marriages: pd.DataFrame = field(default=None)  # IA/IB/ICA/ICB events
    births: pd.DataFrame = field(default=None)
    deaths: pd.DataFrame = field(default=None)
    insurance: pd.DataFrame = field(default=None)
    agencies: dict = field(default_factory=dict)

    @property
    def business_days(self) -> list[int]:
        return [self.start + i for i in range(self.days)]


def _given_names(rng: np.random.Generator, sex: np.ndarray) -> np.ndarray:
    """Given names from Faker's zh_CN lists: one character, two, or one of its two-character names."""
    n = len(sex)
    pools = {}
    for k, names in ((1, ZhNames.first_names_male), (2, ZhNames.first_names_female)):
        pools[k] = (
            np.array([x for x in names if len(x) == 1]),
            np.array([x for x in names if len(x) == 2]),
        )

    def pick(i: int) -> np.ndarray:
        return np.where(sex == 1, rng.choice(pools[1][i], n), rng.choice(pools[2][i], n)).astype(
            str
        )

    a, b, whole = pick(0), pick(0), pick(1)
    r = rng.random(n)
    return np.where(r < 0.5, np.char.add(a, b), np.where(r < 0.75, a, whole)).astype(object)


def _unique_ids(rng, region, birth, sex, taken: set | None = None) -> np.ndarray:
    """Valid 18-character ID numbers, unique, odd sequence digit for men."""
    taken = set() if taken is None else taken
    n = len(region)
    out = np.empty(n, dtype=object)
    todo = np.arange(n)
    births = day_str(birth)
    while len(todo):
        seq = rng.integers(0, 500, len(todo)) * 2 + (sex[todo] == 1)
        ids = make_ids(
            region[todo].astype(str), births[todo].astype(str), np.char.zfill(seq.astype(str), 3)
        )
        again = []
        for i, v in zip(todo, ids, strict=True):
            if v in taken:
                again.append(i)
            else:
                taken.add(v)
                out[i] = v
        todo = np.array(again, dtype=int)
    return out


def build_population(city: City, n_persons: int) -> None:
    """Households of 沧州 residents, plus non-residents (spouses and workers from elsewhere)."""
    rng, start = city.rng, city.start
    counties = np.array(list(CITY_COUNTIES))
    county_p = rng.dirichlet(np.ones(len(counties)) * 4)
    other_regions = np.array([c for c in division_codes() if not c.startswith("1309")])

    n_households = int(n_persons / 2.9) + 1
    hh_region = rng.choice(counties, n_households, p=county_p)
    head_age = rng.integers(22, 88, n_households)
    has_spouse = rng.random(n_households) < np.where(head_age < 28, 0.4, 0.78)
    n_children = rng.choice([0, 1, 2, 3], n_households, p=[0.3, 0.38, 0.27, 0.05])
    has_parent = (rng.random(n_households) < 0.12) & (head_age < 55)
    head_sex = np.where(rng.random(n_households) < 0.72, 1, 2)
    person_hh, relation, sex, age_days, couple_of, mother_of, father_of = [], [], [], [], [], [], []
    for h in range(n_households):
        if len(person_hh) >= n_persons:
            break
        base = len(person_hh)
        hs, ha = head_sex[h], int(head_age[h]) * 365 + int(rng.integers(0, 365))
        person_hh.append(h), relation.append("02"), sex.append(hs), age_days.append(ha)
        couple_of.append(-1), mother_of.append(-1), father_of.append(-1)
        spouse = -1
        if has_spouse[h]:
            spouse = len(person_hh)
            sa = max(20 * 365, ha + int(rng.normal(0, 3 * 365)))
            person_hh.append(h), relation.append("10"), sex.append(3 - hs), age_days.append(sa)
            couple_of.append(base), mother_of.append(-1), father_of.append(-1)
            couple_of[base] = spouse
        mother, father = (base, spouse) if hs == 2 else (spouse, base)
        youngest_parent = min(age_days[base], age_days[spouse] if spouse >= 0 else 10**9)
        for _ in range(n_children[h] if youngest_parent > 19 * 365 else 0):
            ca = youngest_parent - int(rng.integers(20 * 365, 38 * 365))
            if ca < 0:
                continue
            cs = int(rng.integers(1, 3))
            person_hh.append(h), relation.append("20" if cs == 1 else "30"), sex.append(cs)
            age_days.append(ca), couple_of.append(-1)
            mother_of.append(mother), father_of.append(father)
        if has_parent[h]:
            person_hh.append(h), relation.append("50"), sex.append(int(rng.integers(1, 3)))
            age_days.append(ha + int(rng.integers(22 * 365, 35 * 365))), couple_of.append(-1)
            mother_of.append(-1), father_of.append(-1)

    n = len(person_hh)
    p = pd.DataFrame(
        {
            "household": np.array(person_hh),
            "relation": np.array(relation, dtype=object),
            "sex": np.array(sex, dtype=np.int8),
            "spouse": np.array(couple_of),
            "mother": np.array(mother_of),
            "father": np.array(father_of),
        }
    )
    p["birth"] = start - np.array(age_days) - 30
    p["region"] = hh_region[p["household"]]
    local = rng.random(n) < np.where(p["birth"] > to_day(dt.date(1985, 1, 1)), 0.85, 0.7)
    p["birth_region"] = np.where(local, p["region"], rng.choice(other_regions, n))
    p["id_number"] = _unique_ids(
        rng, p["birth_region"].to_numpy(), p["birth"].to_numpy(), p["sex"].to_numpy()
    )
    _names_and_ethnicity(p, rng)
    p["household_no"] = (rng.choice(900_000_000, n_households, replace=False) + 100_000_000)[
        p["household"]
    ].astype(str)
    house = rng.integers(1, 300, n_households)
    p["address"] = [
        f"河北省沧州市{CITY_COUNTIES[r]}{STREETS[h % len(STREETS)]}{house[h]}号"
        for r, h in zip(p["region"], p["household"], strict=True)
    ]
    p["resident"] = True
    p["reg_status"] = "0"
    p["dereg_day"] = NO_DAY
    p["death_day"] = NO_DAY
    _marital_status(p, rng)
    city.persons = p


def _names_and_ethnicity(p: pd.DataFrame, rng) -> None:
    n = len(p)
    surname = rng.choice(np.array(SURNAMES, dtype=object), n, p=SURNAME_P)
    eth = rng.choice(ETHNICITIES, n, p=ETHNICITY_P).astype(object)
    # children take the father's surname and ethnicity
    kids = np.flatnonzero(p["father"].to_numpy() >= 0)
    surname[kids] = surname[p["father"].to_numpy()[kids]]
    eth[kids] = eth[p["father"].to_numpy()[kids]]
    p["name"] = surname + _given_names(rng, p["sex"].to_numpy())
    p["ethnicity"] = eth


def _marital_status(p: pd.DataFrame, rng) -> None:
    n = len(p)
    age = (p["birth"].max() - p["birth"]) // 365
    married = p["spouse"].to_numpy() >= 0
    ms = np.full(n, "10", dtype=object)
    ms[married] = rng.choice(["20", "21", "22", "23"], married.sum(), p=[0.6, 0.33, 0.06, 0.01])
    single_adult = ~married & (age.to_numpy() >= 25)
    r = rng.random(n)
    ms[single_adult & (r < 0.35) & (age.to_numpy() >= 65)] = "30"
    ms[single_adult & (r >= 0.35) & (r < 0.55)] = "40"
    p["marital"] = ms


def add_persons(city: City, sex, birth, region, resident: bool, name=None) -> np.ndarray:
    """Append people (non-residents, newborns) to the truth; returns their row indices."""
    rng, p = city.rng, city.persons
    n = len(sex)
    new = pd.DataFrame(
        {
            "sex": np.asarray(sex, dtype=np.int8),
            "birth": np.asarray(birth),
            "region": np.asarray(region, dtype=object),
        }
    )
    new["birth_region"] = new["region"]
    new["id_number"] = _unique_ids(
        rng,
        new["region"].to_numpy(),
        new["birth"].to_numpy(),
        new["sex"].to_numpy(),
        set(p["id_number"]),
    )
    new["household"], new["relation"], new["household_no"], new["address"] = -1, "", "", ""
    new["spouse"], new["mother"], new["father"] = -1, -1, -1
    surname = rng.choice(np.array(SURNAMES, dtype=object), n, p=SURNAME_P)
    new["name"] = name if name is not None else surname + _given_names(rng, new["sex"].to_numpy())
    new["ethnicity"] = "01"
    new["resident"], new["reg_status"], new["dereg_day"], new["death_day"] = (
        resident,
        "0",
        NO_DAY,
        NO_DAY,
    )
    new["hjrk_status"], new["hjrk_marital"], new["hjrk_from"] = "0", "10", 0
    new["marital"] = "10"
    start = len(p)
    new.index = np.arange(start, start + n)
    city.persons = pd.concat([p, new])
    return new.index.to_numpy()


def build_history(city: City) -> None:
    """Past deaths, moves, marriages and births up to the first business date (the backlog)."""
    rng, p, start = city.rng, city.persons, city.start
    n = len(p)
    age = (start - p["birth"].to_numpy()) / 365.25
    # deaths between 2016 and a week before the start; the dead stay in 户籍 as 死亡注销
    dead = (rng.random(n) < np.clip((age - 55) / 400, 0, 0.12)) & (p["relation"] != "")
    death_day = rng.integers(to_day(dt.date(2016, 1, 1)), start - 7, n)
    p.loc[dead, "death_day"] = death_day[dead]
    p.loc[dead, "reg_status"] = "1"
    p.loc[dead, "dereg_day"] = np.minimum(
        death_day[dead] + rng.integers(1, 20, dead.sum()), start - 1
    )
    widowed = p["spouse"].to_numpy()[dead.to_numpy()]
    widowed = widowed[widowed >= 0]
    p.loc[widowed, "marital"] = "30"
    # moves out of the city
    moved = ~dead & (rng.random(n) < 0.01) & (age > 18)
    p.loc[moved, "reg_status"] = "2"
    p.loc[moved, "dereg_day"] = rng.integers(start - 3000, start - 1, moved.sum())
    # non-resident spouses: a share of couples have one partner registered elsewhere
    couples = p.index[(p["relation"] == "10") & (p["spouse"] >= 0)].to_numpy()
    away = couples[rng.random(len(couples)) < 0.08]
    p.loc[away, "resident"] = False
    p.loc[away, "relation"] = ""
    p.loc[away, "region"] = rng.choice(
        [c for c in division_codes() if not c.startswith("1309")], len(away)
    )
    p.loc[away, "household_no"] = ""
    p.loc[away, "address"] = ""
    city.persons = p
    _marriage_backlog(city)
    _birth_and_death_backlog(city)


def _marriage_backlog(city: City) -> None:
    """IA for current couples married since 2005; IA+IB for the divorced, IA,IB,IA for 再婚."""
    rng, p, start = city.rng, city.persons, city.start
    ev = []
    husbands = p.index[(p["sex"] == 1) & (p["spouse"] >= 0)].to_numpy()
    wives = p.loc[husbands, "spouse"].to_numpy()
    younger_birth = np.maximum(
        p.loc[husbands, "birth"].to_numpy(), p.loc[wives, "birth"].to_numpy()
    )
    wed = younger_birth + rng.integers(22 * 365, 33 * 365, len(husbands))
    wed = np.minimum(wed, start - 1)
    current: dict[int, int] = {}  # husband → index in ev of the current marriage's IA
    for h, w, d in zip(husbands, wives, wed, strict=True):
        if d >= to_day(dt.date(2005, 1, 1)):
            current[int(h)] = len(ev)
            ev.append(("IA", int(d), int(h), int(w)))
    # divorced (40) and remarried (22) people had an earlier marriage to someone from elsewhere
    prior = p.index[p["marital"].isin(["40", "22"]) & (p["relation"] != "")].to_numpy()
    ex_sex = 3 - p.loc[prior, "sex"].to_numpy()
    ex_birth = p.loc[prior, "birth"].to_numpy() + rng.integers(-1500, 1500, len(prior))
    others = [c for c in division_codes() if not c.startswith("1309")]
    ex_region = np.where(
        rng.random(len(prior)) < 0.5,
        p.loc[prior, "region"].to_numpy(),
        rng.choice(others, len(prior)),
    )
    exes = add_persons(city, ex_sex, ex_birth, ex_region, resident=False)
    p = city.persons
    p.loc[exes, "resident"] = False
    birth, sex = p["birth"].to_numpy(), p["sex"].to_numpy()
    marital, spouse = p["marital"].to_numpy(), p["spouse"].to_numpy()
    adult = np.maximum(birth[prior], birth[exes]) + 22 * 365
    first = rng.integers(adult, np.maximum(adult + 1, start - 400))
    keep = first < start - 400
    split = np.where(keep, rng.integers(np.minimum(first + 180, start - 31), start - 30), 0)
    for person, ex, f, sp_day in zip(
        prior[keep], exes[keep], first[keep], split[keep], strict=True
    ):
        h, w = (person, ex) if sex[person] == 1 else (ex, person)
        ev.append(("IA", int(f), int(h), int(w)))
        ev.append(("IB", int(sp_day), int(h), int(w)))
        if marital[person] == "22":  # the current marriage came after the divorce
            sp = int(spouse[person])
            husband = person if sex[person] == 1 else sp
            i = current.get(int(husband), -1) if sp >= 0 else -1
            if i >= 0 and ev[i][1] <= sp_day:
                ev[i] = ("IA", int(rng.integers(sp_day + 30, start)), ev[i][2], ev[i][3])
            elif i < 0 and sp >= 0:  # the remarriage is registered after the divorce
                wife = sp if husband == person else person
                current[int(husband)] = len(ev)
                ev.append(("IA", int(rng.integers(sp_day + 30, start)), int(husband), int(wife)))
    p.loc[exes[keep], "marital"] = "40"
    # a few reissued certificates
    ia = [e for e in ev if e[0] == "IA"]
    for e in (
        [ia[i] for i in rng.choice(len(ia), size=min(len(ia), len(ia) // 50 + 1), replace=False)]
        if ia
        else []
    ):
        ev.append(
            (
                "ICA",
                int(rng.integers(e[1] + 1, start + 1)) if e[1] + 1 < start else e[1],
                e[2],
                e[3],
            )
        )
    city.marriages = _marriage_frame(city, ev)


def _marriage_frame(city: City, ev: list[tuple]) -> pd.DataFrame:
    rng, p = city.rng, city.persons
    df = pd.DataFrame(ev, columns=["reg_type", "day", "male", "female"])
    region = p.loc[df["male"], "region"].to_numpy()
    region = np.where(
        pd.Series(region).str.startswith("1309"), region, p.loc[df["female"], "region"].to_numpy()
    )
    region = np.where(pd.Series(region).str.startswith("1309"), region, "130902")
    df["registrar_region"] = region
    years = pd.to_datetime(df["day"], unit="D").dt.year.astype(str).to_numpy()
    prefix = np.where(df["reg_type"].isin(["IA", "ICA"]), "J", "L")
    serial = np.char.zfill(rng.integers(1, 999_999, len(df)).astype(str), 6)
    df["certificate_no"] = (
        pd.Series(prefix) + region.astype(str) + "-" + years + "-" + serial
    ).to_numpy(dtype=object)
    return df.sort_values("day", kind="stable").reset_index(drop=True)


def _birth_and_death_backlog(city: City) -> None:
    rng, p = city.rng, city.persons
    kids = p.index[(p["birth"] >= to_day(dt.date(2016, 1, 1))) & (p["mother"] >= 0)].to_numpy()
    city.births = _birth_frame(
        city, kids, p.loc[kids, "birth"].to_numpy() + rng.integers(0, 10, len(kids))
    )
    dead = p.index[p["death_day"] >= 0].to_numpy()
    city.deaths = _death_frame(city, dead)


def _birth_frame(city: City, kids: np.ndarray, issued: np.ndarray) -> pd.DataFrame:
    rng, p = city.rng, city.persons
    n = len(kids)
    letters = np.array(list("NOPQRS"))
    return pd.DataFrame(
        {
            "child": kids,
            "mother": p.loc[kids, "mother"].to_numpy(),
            "father": p.loc[kids, "father"].to_numpy(),
            "certificate_no": np.char.add(
                rng.choice(letters, n),
                np.char.zfill(
                    rng.choice(10**9 - 1, n, replace=False).astype(str)
                    if n
                    else np.array([], dtype=str),
                    9,
                ),
            ).astype(object),
            "minute": rng.integers(0, 1440, n),
            "issued_day": issued,
            "hospital": rng.choice(HOSPITALS, n),
            "named": rng.random(n) < 0.93,
        }
    )


def _death_frame(city: City, dead: np.ndarray) -> pd.DataFrame:
    rng, p = city.rng, city.persons
    n = len(dead)
    d = p.loc[dead, "death_day"].to_numpy()
    years = pd.to_datetime(d, unit="D").year.to_numpy() if n else np.array([], dtype=int)
    return pd.DataFrame(
        {
            "person": dead,
            "death_day": d,
            "reported_day": d + rng.integers(0, 4, n),
            "certificate_no": [
                f"1309{y}{int(s):07d}"
                for y, s in zip(years, rng.integers(0, 10**7, n), strict=True)
            ],
            "cause": rng.choice(ICD10, n),
            "place": rng.choice(HOSPITALS + ["家中"], n),
            "reporter": rng.choice(HOSPITALS, n),
        }
    )


def build_legal_persons(city: City) -> None:
    """Enterprises (市场监管) and social organisations (民政) with legal representatives."""
    rng, p, start = city.rng, city.persons, city.start
    n_pers = int((p["resident"] & (p["reg_status"] == "0")).sum())
    ne, ns = max(20, n_pers * 6 // 100), max(5, n_pers // 500)
    adults = p.index[
        p["resident"] & (p["reg_status"] == "0") & (start - p["birth"] > 25 * 365)
    ].to_numpy()
    counties = np.array(list(CITY_COUNTIES))

    region = rng.choice(counties, ne)
    org8 = np.array([f"{x:08X}"[-8:] for x in rng.choice(16**7, ne, replace=False) + 0x10000000])
    org8 = np.char.replace(np.char.replace(org8.astype(str), "I", "J"), "O", "P")
    e = pd.DataFrame(
        {"uscc": make_uscc(np.full(ne, "91"), region, org8).astype(object), "region": region}
    )
    e["org9"] = [u[8:17] for u in e["uscc"]]
    e["founded_day"] = rng.integers(to_day(dt.date(1995, 1, 1)), start - 30, ne)
    legacy = e["founded_day"] < to_day(dt.date(2015, 10, 1))
    e["reg_no"] = np.where(
        legacy,
        [f"{r}{int(s):09d}" for r, s in zip(region, rng.integers(0, 10**9, ne), strict=True)],
        "",
    )
    from stdnum.iso7064 import mod_11_10

    e["reg_no"] = [r + mod_11_10.calc_check_digit(r) if r else "" for r in e["reg_no"]]
    # old records: the registry holds only the registration number for some, both for others
    e["uscc_delivered"] = np.where(legacy & (rng.random(ne) < 0.25), "", e["uscc"])
    rep_kind = rng.random(ne)
    e["rep"] = np.where(rep_kind < 0.97, rng.choice(adults, ne), -1)
    e["rep_passport"] = [f"E{int(x):08d}" for x in rng.integers(0, 10**8, ne)]
    e["rep_foreign_name"] = rng.choice(["JOHN SMITH", "KIM MINJUN", "TANAKA HIROSHI", "陈家明"], ne)
    # a few people represent several enterprises (related enterprises)
    multi = rng.random(ne) < 0.08
    e.loc[multi & (e["rep"] >= 0), "rep"] = rng.choice(
        adults[: max(1, len(adults) // 50)], (multi & (e["rep"] >= 0)).sum()
    )
    e["name"] = [
        f"沧州{n}{ind}有限公司"
        for n, ind in zip(_trade_names(rng, ne), rng.choice(INDUSTRIES, ne), strict=True)
    ]
    e["name"] = e["name"].where(
        ~e["name"].duplicated(), e["name"] + "(" + pd.Series(np.arange(ne)).astype(str) + ")"
    )
    e["type"] = rng.choice(ENTERPRISE_TYPES, ne, p=[0.55, 0.2, 0.08, 0.02, 0.1, 0.05])
    e["capital"] = rng.choice([10, 50, 100, 200, 500, 1000, 3000], ne).astype(int)
    st = rng.random(ne)
    e["status"] = np.where(st < 0.86, "active", np.where(st < 0.91, "revoked", "cancelled"))
    e["cancel_day"] = np.where(
        e["status"] != "active", rng.integers(e["founded_day"] + 30, start), NO_DAY
    )
    e["approved_day"] = np.maximum(e["founded_day"], e["cancel_day"])
    e["tax_registered"] = rng.random(ne) < 0.95
    e["scope"] = [
        SCOPES[i % len(SCOPES)].format(x=ind)
        for i, ind in zip(rng.integers(0, 4, ne), rng.choice(INDUSTRIES, ne), strict=True)
    ]
    e["address"] = [
        f"河北省沧州市{CITY_COUNTIES[r]}{STREETS[i % len(STREETS)]}{i % 500 + 1}号"
        for i, r in enumerate(region)
    ]
    e["term_to"] = np.where(rng.random(ne) < 0.6, NO_DAY, e["founded_day"] + 365 * 30)
    city.enterprises = e

    sr = rng.choice(counties, ns)
    kinds = rng.choice(["51", "52", "53"], ns, p=[0.45, 0.5, 0.05])
    sorg8 = np.array([f"{x:08d}" for x in rng.choice(10**8, ns, replace=False)])
    s = pd.DataFrame(
        {
            "uscc": make_uscc(kinds, sr, sorg8).astype(object),
            "region": sr,
            "kind": np.where(
                kinds == "51", "社会团体", np.where(kinds == "52", "民办非企业单位", "基金会")
            ),
        }
    )
    s["name"] = [
        f"沧州市{ind}{'协会' if k == '社会团体' else ('服务中心' if k == '民办非企业单位' else '基金会')}"
        for ind, k in zip(rng.choice(INDUSTRIES, ns), s["kind"], strict=True)
    ]
    s["name"] = s["name"].where(
        ~s["name"].duplicated(), s["name"] + pd.Series(np.arange(ns)).astype(str)
    )
    s["rep"] = rng.choice(adults, ns)
    s["founded_day"] = rng.integers(to_day(dt.date(2000, 1, 1)), start - 30, ns)
    s["status"] = rng.choice(["正常", "撤销", "注销"], ns, p=[0.9, 0.04, 0.06])
    s["supervisor"] = rng.choice(
        ["沧州市民政局", "沧州市教育局", "沧州市科学技术局", "沧州市商务局"], ns
    )
    s["address"] = [
        f"河北省沧州市{CITY_COUNTIES[r]}{STREETS[i % len(STREETS)]}{i + 1}号"
        for i, r in enumerate(sr)
    ]
    city.social_orgs = s


def _trade_names(rng, n: int) -> np.ndarray:
    chars = list("华鑫恒泰盛达宏兴瑞丰源通隆昌德润嘉诚信和祥安永康宇辰博远金海亿")
    a, b = rng.choice(chars, n), rng.choice(chars, n)
    return np.char.add(a, b)


def build_insurance(city: City) -> None:
    """Social insurance enrolments: employees (several types), rural residents, pensioners."""
    rng, p, e, start = city.rng, city.persons, city.enterprises, city.start
    age = (start - p["birth"].to_numpy()) / 365.25
    alive = p["death_day"].to_numpy() < 0
    active_emp = e.index[e["status"] == "active"].to_numpy()
    weights = 1.0 / (np.arange(len(active_emp)) + 5.0)
    weights /= weights.sum()
    rows = []
    emp = (p["resident"].to_numpy() | (rng.random(len(p)) < 0.3)) & (age >= 18) & (age < 60)
    employed = np.flatnonzero(emp & (rng.random(len(p)) < 0.55))
    employer = rng.choice(active_emp, len(employed), p=weights)
    for person, firm in zip(employed, employer, strict=True):
        for t, pr in (("110", 1.0), ("310", 0.95), ("210", 0.8), ("410", 0.7)):
            if rng.random() < pr:
                rows.append((person, t, "1", int(firm), 0))
    rural = np.flatnonzero(
        p["resident"].to_numpy()
        & (age >= 18)
        & ~np.isin(np.arange(len(p)), employed)
        & (rng.random(len(p)) < 0.5)
        & alive
    )
    rows += [(r, "170", "1", -1, int(age[r] >= 60)) for r in rural]
    retired = np.flatnonzero(
        p["resident"].to_numpy()
        & (age >= 60)
        & (rng.random(len(p)) < 0.45)
        & ~np.isin(np.arange(len(p)), rural)
    )
    rows += [
        (r, "110" if rng.random() < 0.85 else "120", "2" if alive[r] else "3", -1, int(alive[r]))
        for r in retired
    ]
    ins = pd.DataFrame(rows, columns=["person", "type", "status", "employer", "benefits"])
    ins["enrolled_day"] = np.maximum(
        p.loc[ins["person"], "birth"].to_numpy() + 18 * 365,
        start - rng.integers(30, 9000, len(ins)),
    )
    ins["insured_no"] = "1309" + pd.Series(ins["person"]).map(lambda x: f"{x:010d}")
    ins["mobile"] = [
        f"1{a}{b:09d}"
        for a, b in zip(
            rng.choice(list("3578"), len(ins)), rng.integers(0, 10**9, len(ins)), strict=True
        )
    ]
    city.insurance = ins
