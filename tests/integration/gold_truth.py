"""Ground truth of the theme libraries for a generated city: spouses, children, representatives.

What a profile can know is what some delivery shows. The truth therefore counts
* a spouse when the couple's marriage is registered (婚姻登记) or they live in one 户籍 household,
  and the spouse is alive;
* a child when the child is a person of the base library (a child whose only record was lost
  to an injected fault is nobody's child in the data);
as the city's ``_truth`` says them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from deltalake import DeltaTable


def _table(lake: Path, name: str, columns=None) -> list[dict]:
    layer, table = name.split(".")
    return DeltaTable(str(Path(lake) / layer / table)).to_pyarrow_table(columns=columns).to_pylist()


def relation_accuracy(city: Path, lake: Path) -> dict[str, float]:
    truth = Path(city) / "_truth"
    people = pd.read_parquet(truth / "persons.parquet").set_index("person_id")
    marriages = pd.read_parquet(truth / "marriages.parquet")
    registered = set(zip(marriages["male_id"], marriages["female_id"], strict=True))
    registered |= {(b, a) for a, b in registered}
    known = {r["person_id"] for r in _table(lake, "silver.person", ["person_id"])}
    children: dict[str, set] = {}
    for pid, mother, father in zip(
        people.index, people["mother_id"], people["father_id"], strict=True
    ):
        if pid not in known:
            continue
        for parent in (mother, father):
            if isinstance(parent, str):
                children.setdefault(parent, set()).add(pid)
    profiles = _table(lake, "gold.person_profile", ["person_id", "marriage", "children"])
    n = spouse_ok = child_ok = 0
    for r in profiles:
        pid = r["person_id"]
        if pid not in people.index:
            continue
        n += 1
        spouse = people.at[pid, "spouse_id"]
        spouse = spouse if isinstance(spouse, str) else None
        if spouse is not None:
            alive = spouse in people.index and not bool(people.at[spouse, "is_deceased"])
            hh = people.at[pid, "household_no"]
            together = (
                spouse in people.index and bool(hh) and hh == people.at[spouse, "household_no"]
            )
            if not alive or not ((pid, spouse) in registered or together):
                spouse = None
        spouse_ok += r["marriage"]["spouse_id"] == spouse
        child_ok += {c["person_id"] for c in r["children"]} == children.get(pid, set())
    enterprises = pd.read_parquet(truth / "enterprises.parquet").set_index("uscc")
    firms = _table(lake, "gold.enterprise_profile", ["uscc", "legal_representative"])
    m = rep_ok = 0
    for r in firms:
        if r["uscc"] not in enterprises.index:
            continue
        m += 1
        rep = r["legal_representative"]
        # a foreign representative's passport number is the delivered number itself
        rep_ok += (rep["person_id"] or rep["id_delivered"]) == enterprises.at[
            r["uscc"], "legal_rep_id"
        ]
    return {
        "persons": n,
        "spouse": spouse_ok / n,
        "children": child_ok / n,
        "enterprises": m,
        "legal_rep": rep_ok / m,
    }
