"""Ground truth of the quality rules for a generated city: what each rule must find on a date.

The truth of a rule on a business date is
* every contradiction the generator injected for it (``_truth/conflicts.csv``) and not yet fixed
  by that date, and
* every injected row fault that the rule must report: an ID number delivered with a wrong check
  character (``id_checksum_invalid``); a platform licence whose holder number was emptied, or
  whose holder's only record was corrupted or quarantined (``licence_holder_unknown``); a marriage
  registration or a child's 户籍 record lost to a fault (``marital_status_mismatch``,
  ``birth_not_registered``).
Findings are compared by (entity, responsible source); ID findings by (delivered number, source).

The truth is what the rules can observe, as the pipeline's spec says they judge: a contradiction
in a record lost to quarantine, within a grace period, or in a statement that links to no person
is not there to find; where 户籍 states no name, the rule's vote over what each source delivered
decides. Which sources hold a person and which table versions a date published are read from
the lake (membership only: every value judged comes from the ground truth).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from deltalake import DeltaTable

from jobs.pipeline.quality.rules import rule_settings
from jobs.platform import publication, settings
from jobs.platform.config import extract_schema
from samplecity.codes import id_check_chars

ID_FAULTS = {"id_wrong_check", "id_digit_typo", "id_transposition"}
# sources that deliver one record per entity (a person's 户籍, an enterprise's registration, a
# certificate); 人社 (one row per insurance), 民政's registrations and the platform's licences
# may hold several
ONE_RECORD_EACH = {"gaj_hjrk", "scjgj_qydj", "swj_swdj", "wjw_swzm", "wjw_cszm", "mzj_shzz"}
PERSON_STATEMENTS = ("person_name_mismatch", "person_sex_mismatch", "person_birth_mismatch")
HALF = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789XX")


def _norm_id(v: str) -> str:
    return str(v).translate(HALF).strip().replace("\u3000", "").upper()


def _bad_check(v: str) -> bool:
    v = _norm_id(v)
    if len(v) != 18 or not v[:17].isdigit():
        return False
    return str(id_check_chars(np.array([v[:17]]))[0]) != v[17]


def _current_faults(truth: Path, day: dt.date, expect: str = "bronze") -> pd.DataFrame:
    """Row faults kept in bronze in the records current on ``day`` (latest snapshot of full
    sources, every event of incremental ones)."""
    files = pd.read_csv(truth / "files.csv", dtype=str, keep_default_na=False)
    faults = pd.read_csv(truth / "row_faults.csv", dtype=str, keep_default_na=False)
    accepted = files[
        (files["expected_status"] == "accepted") & (files["business_date"] <= str(day))
    ]
    keep = []
    for source_id, f in accepted.groupby("source_id"):
        if extract_schema(source_id).mode == "full":
            f = f[f["business_date"] == f["business_date"].max()]
        keep.append(f[["source_id", "file"]])
    live = pd.concat(keep) if keep else pd.DataFrame(columns=["source_id", "file"])
    return faults[faults["expect"] == expect].merge(live, on=["source_id", "file"])


def _lost_holders(truth: Path, day: dt.date, lake: Path) -> set[tuple[str, str]]:
    """Platform licences of non-residents whose marriage registration (their only record in
    most cases) was corrupted, quarantined or in a rejected file, and who are therefore unknown
    to the base library."""
    faults = pd.read_csv(truth / "row_faults.csv", dtype=str, keep_default_na=False)
    faults = faults[(faults["source_id"] == "mzj_hydj") & (faults["business_date"] <= str(day))]
    whole = set(faults.loc[faults["expect"] == "quarantine", "entity"])  # both parties lost
    typo = faults[faults["fault"].isin(ID_FAULTS)]
    m = pd.read_parquet(truth / "marriages.parquet")
    # a registration in a file rejected whole (a day's events travel in that day's files; which
    # of them were in the lost file is not in the ground truth, so every one of that day's is a
    # candidate, and the base library below says which were lost)
    files = pd.read_csv(truth / "files.csv", dtype=str, keep_default_na=False)
    files = files[(files["source_id"] == "mzj_hydj") & (files["business_date"] <= str(day))]
    lost_days = {
        dt.date.fromisoformat(d)
        for d in files.loc[files["expected_status"] == "rejected", "business_date"]
    }
    first = dt.date.fromisoformat(files["business_date"].min())  # it delivers the history too
    parties = set()
    for cert, male, female, on in zip(
        m["certificate_no"], m["male_id"], m["female_id"], m["date"], strict=True
    ):
        if cert in whole or on in lost_days or (first in lost_days and on < first):
            parties |= {male, female}
    by_cert = m.set_index("certificate_no")
    for cert, column in zip(typo["entity"], typo["column"], strict=True):
        if cert in by_cert.index:
            row = by_cert.loc[[cert]].iloc[0]
            parties.add(row["male_id" if column.startswith("male") else "female_id"])
    people = pd.read_parquet(truth / "persons.parquet").set_index("person_id")
    lost = {p for p in parties if p in people.index and not bool(people.at[p, "is_resident"])}
    # ...and that no other record of any department made known (the base library says which)
    known = set(
        DeltaTable(str(Path(lake) / "silver" / "person")).to_pandas(columns=["person_id"])[
            "person_id"
        ]
    )
    lost -= known
    lic = DeltaTable(str(Path(lake) / "silver" / "licence")).to_pandas(
        columns=["licence_uid", "holder_code", "issued_by_platform"]
    )
    lic = lic[lic["issued_by_platform"] & lic["holder_code"].isin(lost)]
    return {(u, "zwfw_dzzz") for u in lic["licence_uid"]}


def _as_of(lake: Path, table: str, day: dt.date, columns: list[str]) -> pd.DataFrame:
    """A table as the lake published it for ``day``."""
    version = publication.current(Path(lake), day).version(table)
    path = Path(lake).joinpath(*table.split("."))
    return DeltaTable(str(path), version=version).to_pandas(columns=columns)


def _unobservable(truth: Path, live: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Contradictions nothing can see on ``day``: in the one record a source keeps of an entity,
    lost to quarantine; a closure or a death within the rule's grace period; a person whose marriage
    registrations include one whose type or date arrived unusable (the rule then has no
    latest registration to go by)."""
    lost = _current_faults(truth, day, expect="quarantine")
    lost = lost[lost["source_id"].isin(ONE_RECORD_EACH)]
    gone = set(zip(lost["entity"], lost["source_id"], strict=True))
    drop = [(e, s) in gone for e, s in zip(live["entity_id"], live["source_id"], strict=True)]
    live = live[~pd.Series(drop, index=live.index, dtype=bool)]
    grace = {r: rule_settings(r).grace_days for r in ("enterprise_status_conflict",)}
    firms = pd.read_parquet(truth / "enterprises.parquet").set_index("uscc")
    cutoff = day - dt.timedelta(days=grace["enterprise_status_conflict"])

    def recent_closure(uscc: str) -> bool:
        on = firms["cancelled_on"].get(uscc)
        return on is not None and not pd.isna(on) and on > cutoff

    live = live[
        ~((live["rule_id"] == "enterprise_status_conflict") & live["entity_id"].map(recent_closure))
    ]
    faults = _current_faults(truth, day)
    unusable = faults[
        (faults["source_id"] == "mzj_hydj") & faults["column"].isin(["reg_type", "reg_date"])
    ]
    m = pd.read_parquet(truth / "marriages.parquet")
    m = m[m["certificate_no"].isin(set(unusable["entity"]))]
    parties = set(m["male_id"]) | set(m["female_id"])
    return live[~((live["rule_id"] == "marital_status_mismatch") & live["entity_id"].isin(parties))]


def _recent_holders(truth: Path, day: dt.date, lake: Path) -> set[str]:
    """Platform licences whose holder died or closed within licence_status_conflict's grace."""
    cutoff = day - dt.timedelta(days=rule_settings("licence_status_conflict").grace_days)
    people = pd.read_parquet(truth / "persons.parquet")
    firms = pd.read_parquet(truth / "enterprises.parquet")
    recent = set(
        people.loc[people["death_date"].notna() & (people["death_date"] > cutoff), "person_id"]
    )
    recent |= set(
        firms.loc[firms["cancelled_on"].notna() & (firms["cancelled_on"] > cutoff), "uscc"]
    )
    lic = _as_of(lake, "silver.licence", day, ["licence_uid", "holder_code"])
    return set(lic.loc[lic["holder_code"].isin(recent), "licence_uid"])


def _name_votes(truth: Path, day: dt.date, links: pd.DataFrame, conf: pd.DataFrame):
    """person_name_mismatch for people of whom 户籍 states no name on ``day`` (not residents,
    or their record lost to quarantine or to an unrepaired number): the rule then expects the
    name most sources state (ties: the better-ranked source in conf/authority.yaml), so the
    truth is that vote over what each source really delivered (the true name, or the wrong one
    injected). Which sources hold each person is read from the day's person ``links``. Returns
    (findings to expect, people whose findings these replace)."""
    links = links.drop_duplicates()
    stated = set(links.loc[links["source_id"] == "gaj_hjrk", "person_id"])
    voted = links[~links["person_id"].isin(stated)]
    # a fix reaches the lake with the source's next complete delivery
    late = incomplete_sources(truth, day)
    unfixed = (
        (conf["fixed_on"] == "") | (conf["fixed_on"] > str(day)) | conf["source_id"].isin(late)
    )
    wrong = conf[unfixed & (conf["rule_id"] == "person_name_mismatch")]
    wrong = dict(
        zip(
            zip(wrong["entity_id"], wrong["source_id"], strict=True), wrong["observed"], strict=True
        )
    )
    names = pd.read_parquet(truth / "persons.parquet").set_index("person_id")["name"]
    order = list(settings.authority().person["name"])
    rank = {s: i for i, s in enumerate(order)}
    expect = set()
    for pid, group in voted.groupby("person_id"):
        if pid not in names.index:
            continue
        said = {s: wrong.get((pid, s), names[pid]) for s in group["source_id"]}
        tally: dict[str, list] = {}
        for source, name in said.items():
            tally.setdefault(name, []).append(rank.get(source, len(order)))
        winner = min(tally, key=lambda n: (-len(tally[n]), min(tally[n])))
        top = min(said, key=lambda s: (said[s] != winner, rank.get(s, len(order))))
        expect |= {(pid, s) for s, name in said.items() if s != top and name != winner}
    return expect, set(voted["person_id"])


def expected_findings(
    city: Path, day: dt.date, lake: Path | None = None
) -> dict[str, set[tuple[str, str]]]:
    truth = Path(city) / "_truth"
    conf = pd.read_csv(truth / "conflicts.csv", dtype=str, keep_default_na=False)
    live = conf[(conf["fixed_on"] == "") | (conf["fixed_on"] > str(day))]
    seen = _unobservable(truth, live, day)
    out: dict[str, set] = {}
    for rule_id, g in seen.groupby("rule_id"):
        out[rule_id] = set(zip(g["entity_id"], g["source_id"], strict=True))
    if lake is not None:
        recent = _recent_holders(truth, day, lake)
        out["licence_status_conflict"] = {
            k for k in out.get("licence_status_conflict", set()) if k[0] not in recent
        }
        # a source's statement about a person is checked only where it links to the person
        links = _as_of(lake, "silver.person_link", day, ["source_id", "person_id"]).dropna()
        linked = set(zip(links["person_id"], links["source_id"], strict=True))
        for rule_id in PERSON_STATEMENTS:
            out[rule_id] = {k for k in out.get(rule_id, set()) if k in linked}
        expect, voted = _name_votes(truth, day, links, conf)
        kept = {k for k in out.get("person_name_mismatch", set()) if k[0] not in voted}
        out["person_name_mismatch"] = kept | expect
    faults = _current_faults(truth, day)
    ids = faults[faults["fault"].isin(ID_FAULTS)]
    out["id_checksum_invalid"] = {
        (_norm_id(v), s)
        for v, s in zip(ids["delivered_value"], ids["source_id"], strict=True)
        if _bad_check(v)
    }
    holder = faults[
        (faults["source_id"] == "zwfw_dzzz")
        & (faults["column"] == "holder_code")
        & (faults["fault"] == "required_empty")
    ]
    out.setdefault("licence_holder_unknown", set()).update(
        (e, "zwfw_dzzz") for e in holder["entity"]
    )
    if lake is not None:
        out["licence_holder_unknown"] |= _lost_holders(truth, day, lake)
    # a child whose 户籍 row could not be parsed is missing from that day's 户籍 snapshot
    faults_all = _current_faults(truth, day, expect="quarantine")
    lost = set(faults_all.loc[faults_all["source_id"] == "gaj_hjrk", "entity"])
    # ...and so is one whose number was corrupted past repair (no other record knows the child)
    bad_ids = faults[(faults["source_id"] == "gaj_hjrk") & faults["fault"].isin(ID_FAULTS)]
    lost |= {
        e
        for e, v in zip(bad_ids["entity"], bad_ids["delivered_value"], strict=True)
        if _bad_check(v)
    }
    births = pd.read_parquet(truth / "births.parquet")
    out.setdefault("birth_not_registered", set()).update(
        (c, "gaj_hjrk")
        for c, k, issued in zip(
            births["certificate_no"], births["child_id"], births["issued_on"], strict=True
        )
        if k in lost and issued <= day - dt.timedelta(days=60)
    )
    out.setdefault("marital_status_mismatch", set()).update(_lost_marriage_events(truth, day))
    return out


CATEGORY = {"10": "single", "20": "married", "21": "married", "22": "married", "23": "married"}
CATEGORY.update({"30": "widowed", "40": "divorced"})


def _lost_marriage_events(truth: Path, day: dt.date) -> set[tuple[str, str]]:
    """People whose latest registration was quarantined: the registry delivered shows an older
    event, so 户籍 (right) contradicts what was delivered."""
    lost_faults = _current_faults(truth, day, expect="quarantine")
    lost = set(lost_faults.loc[lost_faults["source_id"] == "mzj_hydj", "entity"])
    if not lost:
        return set()
    m = pd.read_parquet(truth / "marriages.parquet")
    m = m[m["reg_type"].isin(["IA", "IB"]) & (m["date"] <= day)]
    people = pd.read_parquet(truth / "persons.parquet").set_index("person_id")
    ev = pd.concat(
        [
            m.rename(columns={"male_id": "p", "female_id": "spouse"}),
            m.rename(columns={"female_id": "p", "male_id": "spouse"}),
        ]
    )[["p", "spouse", "reg_type", "date", "certificate_no"]]
    ev = ev.sort_values(["p", "date"])
    out = set()
    for pid, g in ev.groupby("p"):
        if g["certificate_no"].iloc[-1] not in lost or pid not in people.index:
            continue
        if not bool(people.at[pid, "is_resident"]):  # no 户籍 record to contradict
            continue
        rest = g[~g["certificate_no"].isin(lost)]
        if rest.empty or (day - rest["date"].iloc[-1]).days < 30:
            continue
        last = rest.iloc[-1]
        spouse_dead = last["spouse"] in people.index and bool(
            people.at[last["spouse"], "is_deceased"]
        )
        implied = (
            "divorced" if last["reg_type"] == "IB" else "widowed" if spouse_dead else "married"
        )
        if CATEGORY.get(str(people.at[pid, "marital_status"])) != implied:
            out.add((pid, "gaj_hjrk"))
    return out


def found_findings(lake: Path, day: dt.date) -> dict[str, set[tuple[str, str]]]:
    hist = DeltaTable(str(Path(lake) / "quality" / "finding_history")).to_pandas()
    h = hist[hist["_business_date"] == day]
    out: dict[str, set] = {}
    for rule_id, g in h.groupby("rule_id"):
        key = g["observed"] if rule_id == "id_checksum_invalid" else g["entity_id"]
        out[rule_id] = set(zip(key, g["source_id"], strict=True))
    return out


def incomplete_sources(truth: Path, day: dt.date) -> set[str]:
    """Full sources whose latest delivery on or before ``day`` lost a part: their state on the
    day mixes that delivery with records carried forward from an older one (docs/decisions.md
    8), which the per-file ground truth cannot follow row by row."""
    files = pd.read_csv(truth / "files.csv", dtype=str, keep_default_na=False)
    files = files[(files["business_date"] <= str(day)) & (files["expected_status"] != "superseded")]
    out = set()
    for source_id, f in files.groupby("source_id"):
        if extract_schema(source_id).mode != "full":
            continue
        accepted = f[f["expected_status"] == "accepted"]
        if accepted.empty:
            continue
        latest = f[f["business_date"] == accepted["business_date"].max()]
        if (latest["expected_status"] == "rejected").any():
            out.add(source_id)
    return out


def precision_recall(city: Path, lake: Path, day: dt.date) -> pd.DataFrame:
    want, got = expected_findings(city, day, lake), found_findings(lake, day)
    # not where the responsible source's state mixes two deliveries: whether a fault or its fix
    # was in the lost part is not in the ground truth
    skip = incomplete_sources(Path(city) / "_truth", day)
    for d in (want, got):
        for rule_id in d:
            d[rule_id] = {k for k in d[rule_id] if k[1] not in skip}
    rows = []
    for rule_id in sorted(set(want) | set(got)):
        w, g = want.get(rule_id, set()), got.get(rule_id, set())
        tp = len(w & g)
        rows.append(
            {
                "rule_id": rule_id,
                "truth": len(w),
                "found": len(g),
                "precision": tp / len(g) if g else 1.0,
                "recall": tp / len(w) if w else 1.0,
                "false_positives": sorted(g - w)[:5],
                "missed": sorted(w - g)[:5],
            }
        )
    return pd.DataFrame(rows)
