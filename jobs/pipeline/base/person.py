"""silver.person (人口库): one row per natural person, each attribute from its authority.

People are those linked by a valid or repaired number in any source other than the e-licence
platform, residents and non-residents alike. Attributes come from conf/authority.yaml; marital
status follows the marriage-registration rule described there and in docs/base-libraries.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.base.authority import CLAIM_COLUMNS, pick, wide
from jobs.pipeline.base.link import LICENCE_SOURCE
from jobs.pipeline.stage import Checkpoint, no_checkpoint
from jobs.platform import settings
from jobs.platform.settings import EventAuthority, fallback_of

ATTRIBUTES = [
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "region_code",
    "household_no",
    "address",
    "marital_status",
    "is_deceased",
    "death_date",
]
WITH_SOURCE = ["name", "sex", "birth_date", "marital_status", "is_deceased", "address"]


def _claim(df: DataFrame, attribute: str, source, value) -> DataFrame:
    """Claims (entity_id, attribute, source_id, value, _business_date) from rows with person_id."""
    src = F.lit(source) if isinstance(source, str) else source
    return df.select(
        F.col("person_id").alias("entity_id"),
        F.lit(attribute).alias("attribute"),
        src.alias("source_id"),
        value.cast("string").alias("value"),
        "_business_date",
    )


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out


def _claims_from_links(links: DataFrame) -> DataFrame:
    """Name, sex and birth date as each source states them, and as the ID number implies.

    Only sources that some authority list names contribute, and only values that exist: at a
    million people this keeps millions of useless rows out of the pick.
    """
    person = settings.authority().person
    used = sorted({s for v in person.values() if not isinstance(v, EventAuthority) for s in v})
    linked = links.filter(F.col("person_id").isNotNull() & F.col("source_id").isin(used))
    day_precision = F.coalesce(F.col("birth_precision"), F.lit("day")) == "day"
    stated = [
        _claim(linked, "name", F.col("source_id"), F.col("name")),
        _claim(linked, "sex", F.col("source_id"), F.col("sex")),
        _claim(
            linked, "birth_date", F.col("source_id"), F.when(day_precision, F.col("birth_date"))
        ),
    ]
    ids = linked.groupBy("person_id").agg(F.max("_business_date").alias("_business_date"))
    implied = [
        _claim(ids, "sex", "id_number", S.id_sex(F.col("person_id"))),
        _claim(ids, "birth_date", "id_number", S.id_birth_date(F.col("person_id"))),
    ]
    return _union([df.filter(F.col("value").isNotNull()) for df in stated] + implied)


def subject_rows(rows: DataFrame, links: DataFrame, *, source_id: str) -> DataFrame:
    """A source's rows with the person_id their subject was linked to."""
    subj = links.filter((F.col("source_id") == source_id) & F.col("person_id").isNotNull()).select(
        "_file", "_row_number", "person_id"
    )
    return rows.join(subj, ["_file", "_row_number"])


def _claims_from_hjrk(hjrk: DataFrame, links: DataFrame) -> DataFrame:
    """户籍 attributes of each linked resident record."""
    rows = subject_rows(hjrk, links, source_id="gaj_hjrk")
    status = S.map_code(F.col("reg_status"), "person_reg_status")
    values = {
        "ethnicity": S.map_code(F.col("ethnicity"), "ethnicity"),
        "region_code": F.when(
            S.clean_text(F.col("region_code")).rlike("^[0-9]{6}$"),
            S.clean_text(F.col("region_code")),
        ),
        "household_no": S.clean_text(F.col("household_no")),
        "address": S.clean_text(F.col("address")),
        "marital_status": S.map_code(F.col("marital_status"), "marital_status"),
        "is_deceased": F.when(
            status.isNotNull(), F.when(status == "deceased", "true").otherwise("false")
        ),
        "death_date": F.when(
            status == "deceased", S.parse_date(F.col("deregistered_on"), ["%Y%m%d"])
        ),
        "reg_status": status,
    }
    return _union([_claim(rows, a, "gaj_hjrk", v) for a, v in values.items()])


def _claims_from_deaths(swzm: DataFrame, links: DataFrame, as_of: dt.date) -> DataFrame:
    rows = subject_rows(swzm, links, source_id="wjw_swzm").withColumn(
        "d", S.parse_date(F.col("death_date"), ["%Y-%m-%d"])
    )
    rows = rows.withColumn(
        "d", F.when(F.col("d") <= F.lit(as_of), F.col("d"))
    )  # future: flagged, not used
    return _union(
        [
            _claim(rows, "death_date", "wjw_swzm", F.col("d")),
            _claim(rows, "is_deceased", "wjw_swzm", F.lit("true")),
        ]
    )


def birth_certificate_homes(certs: DataFrame, links: DataFrame, *, person: DataFrame) -> DataFrame:
    """Where each newborn should be registered: (cert, birth_date, sex, issued_on, parent_id,
    household_no) for each birth certificate (wjw_cszm rows) and each linked parent, mother or
    father, who has a 户籍 household."""
    rows = certs.select(
        "_file",
        "_row_number",
        S.clean_name(F.col("certificate_no")).alias("cert"),
        F.to_date(S.delivered("wjw_cszm", "birth_time")).alias("birth_date"),
        S.delivered("wjw_cszm", "newborn_sex").alias("sex"),
        S.delivered("wjw_cszm", "issued_on").alias("issued_on"),
    )
    parents = links.filter(
        (F.col("source_id") == "wjw_cszm")
        & F.col("role").isin("mother", "father")
        & F.col("person_id").isNotNull()
    ).select("_file", "_row_number", F.col("person_id").alias("parent_id"))
    homes = person.filter(F.col("household_no").isNotNull()).select(
        F.col("person_id").alias("parent_id"), "household_no"
    )
    return (
        rows.join(parents, ["_file", "_row_number"])
        .join(homes, "parent_id")
        .drop("_file", "_row_number")
    )


def latest_marriage_events(hydj: DataFrame, links: DataFrame, *, as_of: dt.date) -> DataFrame:
    """(person_id, event, event_date, spouse_id) of each person's latest IA/IB registration.

    A person with a registration whose type is outside the code table, or an IA/IB whose date is
    missing, unparsable or in the future, has no certain latest event and is left out (户籍's
    value stands, and no marital finding is raised).
    """
    party = links.filter(
        (F.col("source_id") == "mzj_hydj") & F.col("person_id").isNotNull()
    ).select("_file", "_row_number", "role", "person_id")
    ev = hydj.select(
        "_file",
        "_row_number",
        S.map_code(F.col("reg_type"), "marriage_reg_type").alias("event"),
        S.parse_date(F.col("reg_date"), ["%Y-%m-%d"]).alias("event_date"),
    )
    marriage = F.col("event").isin("IA", "IB")
    ev = ev.withColumn(
        "_unsure",
        F.col("event").isNull()
        | (marriage & F.coalesce(F.col("event_date") > F.lit(as_of), F.lit(True))),
    )
    male = party.filter(F.col("role") == "male").select(
        "_file", "_row_number", F.col("person_id").alias("male")
    )
    female = party.filter(F.col("role") == "female").select(
        "_file", "_row_number", F.col("person_id").alias("female")
    )
    pairs = ev.join(male, ["_file", "_row_number"], "left").join(
        female, ["_file", "_row_number"], "left"
    )
    both = (
        pairs.select(
            F.col("male").alias("person_id"),
            F.col("female").alias("spouse_id"),
            "event",
            "event_date",
            "_unsure",
        )
        .unionByName(
            pairs.select(
                F.col("female").alias("person_id"),
                F.col("male").alias("spouse_id"),
                "event",
                "event_date",
                "_unsure",
            )
        )
        .filter(F.col("person_id").isNotNull())
    )
    unsure = F.max(F.col("_unsure").cast("int")).over(Window.partitionBy("person_id"))
    both = both.withColumn("_unsure", unsure).filter(
        (F.col("_unsure") == 0) & F.col("event").isin("IA", "IB")
    )
    both = both.drop("_unsure")
    w = Window.partitionBy("person_id").orderBy(F.col("event_date").desc(), F.col("event").desc())
    return both.withColumn("_n", F.row_number().over(w)).filter(F.col("_n") == 1).drop("_n")


def _marital(picked_wide: DataFrame, events: DataFrame) -> DataFrame:
    """Marital status by the latest-event rule, with its source."""
    spouse = picked_wide.select(
        F.col("entity_id").alias("spouse_id"), F.col("death_date").alias("spouse_death")
    )
    e = events.join(spouse, "spouse_id", "left")
    implied = (
        # the spouse of the latest marriage has died (a registration dated after the spouse's
        # death is an error of dates, not a marriage to the dead)
        F.when((F.col("event") == "IA") & F.col("spouse_death").isNotNull(), "30")
        .when(F.col("event") == "IA", "20")
        .when(F.col("event") == "IB", "40")
    )
    e = e.select(F.col("person_id").alias("entity_id"), implied.alias("implied"))
    df = picked_wide.join(e, "entity_id", "left")
    same = S.marital_category(F.col("marital_status")) == S.marital_category(F.col("implied"))
    return (
        df.withColumn(
            "marital_status_source",
            F.when(F.col("implied").isNull() | same, F.col("marital_status_source")).otherwise(
                "mzj_hydj"
            ),
        )
        .withColumn(
            "marital_status",
            F.when(F.col("implied").isNull() | same, F.col("marital_status")).otherwise(
                F.col("implied")
            ),
        )
        .drop("implied")
    )


def build_person(
    *,
    links: DataFrame,
    current: Mapping[str, DataFrame],
    as_of: dt.date,
    checkpoint: Checkpoint = no_checkpoint,
) -> DataFrame:
    """silver.person for ``as_of`` from the links and the sources' current rows (户籍, deaths,
    marriages).

    The picked attributes are materialised (``checkpoint``) before the marital rule: it reads
    them twice (the person and the spouse), and Sail would pick every attribute twice.
    """
    person = settings.authority().person
    order = {a: list(v) for a, v in person.items() if not isinstance(v, EventAuthority)}
    order["marital_status"] = list(fallback_of(person["marital_status"]))
    order["reg_status"] = ["gaj_hjrk"]
    hjrk = current["gaj_hjrk"]
    claims = (
        _claims_from_links(links)
        .unionByName(_claims_from_hjrk(hjrk, links))
        .unionByName(_claims_from_deaths(current["wjw_swzm"], links, as_of))
        .select(*CLAIM_COLUMNS)
    )
    people = (
        links.filter(
            F.col("match_method").isin("exact_id", "repaired_id")
            & (F.col("source_id") != LICENCE_SOURCE)
        )
        .select(F.col("person_id").alias("entity_id"))
        .distinct()
    )
    claims = claims.join(people, "entity_id", "left_semi")
    w = wide(pick(claims, order), [*ATTRIBUTES, "reg_status"], with_source=WITH_SOURCE)
    w = checkpoint(people.join(w, "entity_id", "left"), "person-attributes")
    w = _marital(w, latest_marriage_events(current["mzj_hydj"], links, as_of=as_of))
    return w.select(
        F.col("entity_id").alias("person_id"),
        "name",
        "sex",
        F.col("birth_date").cast("date").alias("birth_date"),
        "ethnicity",
        "region_code",
        "household_no",
        "address",
        "marital_status",
        F.coalesce(F.col("is_deceased") == "true", F.lit(False)).alias("is_deceased"),
        F.col("death_date").cast("date").alias("death_date"),
        F.coalesce(F.col("reg_status") == "active", F.lit(False)).alias("is_resident"),
        *[F.col(f"{a}_source") for a in WITH_SOURCE],
    )
