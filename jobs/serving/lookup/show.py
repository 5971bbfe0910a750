"""A profile as readable text (``govlake profile``), from a row its reader may see.

The row is read through the reader's SQL session (jobs/serving/sql/session.py), so it is already
masked, filtered to a district reader's division and audited by the one policy; this module
only lays it out.
"""

from __future__ import annotations

import datetime as dt

TABLES = {
    "person": ("gold.person_profile", "person_id"),
    "enterprise": ("gold.enterprise_profile", "uscc"),
}


def _v(value) -> str:
    return "" if value is None else str(value)


def render_profile(r: dict, kind: str, *, as_of: dt.date | None, held: dt.date) -> str:
    """The profile ``r`` (a row of gold.person_profile or gold.enterprise_profile) as text."""
    table, _ = TABLES[kind]
    out = [f"{table}" + (f" as of {as_of}" if as_of else "") + f" (published for {held})"]
    if kind == "person":
        i = r["identity"]
        out += [
            f"一人一档 {_v(r['person_id'])}",
            f"  identity    {_v(i['name'])}, sex {_v(i['sex'])}, born {_v(i['birth_date'])}, "
            f"ethnicity {_v(i['ethnicity'])}, region {_v(i['region_code'])}",
            f"              address {_v(i['address'])}; resident {i['is_resident']}; "
            f"deceased {i['is_deceased']}" + (f" on {i['death_date']}" if i["death_date"] else ""),
        ]
        h = r["household"]
        out.append(f"  household   {_v(h['household_no'])} ({len(h['members'])} members)")
        for m in h["members"]:
            out.append(
                f"              - {_v(m['person_id'])} {_v(m['name'])} relation {_v(m['relation'])}"
            )
        mar = r["marriage"]
        out.append(
            f"  marriage    status {_v(mar['marital_status'])}; spouse {_v(mar['spouse_id']) or '-'}"
            + (f" (from {mar['spouse_source']})" if mar["spouse_source"] else "")
        )
        for e in mar["history"]:
            out.append(
                f"              - {_v(e['date'])} {_v(e['event'])} with {_v(e['spouse_id']) or '?'} ({_v(e['certificate_no'])})"
            )
        out.append(f"  children    {len(r['children'])}")
        for c in r["children"]:
            out.append(
                f"              - {_v(c['person_id'])} {_v(c['name'])} born {_v(c['birth_date'])} (from {', '.join(c['via'])})"
            )
        out.append(f"  insurance   {len(r['insurance'])}")
        for e in r["insurance"]:
            out.append(
                f"              - type {_v(e['insurance_type'])} {_v(e['status'])} employer {_v(e['employer_uscc'])} since {_v(e['enrolled_on'])}"
            )
        out.append(f"  licences    {len(r['licences'])}")
        for lic in r["licences"]:
            out.append(
                f"              - {_v(lic['licence_type'])} {_v(lic['licence_no'])} {_v(lic['status'])} issued {_v(lic['issued_on'])}"
            )
        out.append(f"  legal rep.  {len(r['legal_representative_of'])}")
        for e in r["legal_representative_of"]:
            out.append(
                f"              - {_v(e['uscc'] or e['entity_id'])} {_v(e['name'])} ({_v(e['reg_status'])})"
            )
    else:
        g = r["registration"]
        rep = r["legal_representative"]
        out += [
            f"一企一档 {r['uscc']}",
            f"  registration {_v(g['name'])} ({_v(g['org_kind'])}), founded {_v(g['founded_on'])}, "
            f"status {_v(g['reg_status'])}, region {_v(g['region_code'])}, reg. no {_v(g['reg_no'])}",
            f"  tax status   {_v(r['tax_status'])}",
            f"  legal rep.   {_v(rep['name'])} {_v(rep['person_id']) or _v(rep['id_delivered']) or ''}",
            f"  insured employees {r['insured_employees']}",
            f"  licences     {len(r['licences'])}",
        ]
        for lic in r["licences"]:
            out.append(
                f"               - {_v(lic['licence_type'])} {_v(lic['licence_no'])} {_v(lic['status'])}"
            )
        out.append(f"  related (same representative) {len(r['related_by_representative'])}")
        for e in r["related_by_representative"]:
            out.append(f"               - {_v(e['uscc'] or e['entity_id'])} {_v(e['name'])}")
    out.append(f"  open findings {len(r['open_findings'])}")
    for f in r["open_findings"]:
        out.append(f"              - {f['rule_id']} {f['attribute']} at {f['source_id']}")
    return "\n".join(out)
