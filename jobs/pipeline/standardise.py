"""Standardisation (标准化) as Spark column expressions: ID numbers, credit codes, dates, code
tables and names. The check characters that build identifiers (a legacy number's upgrade, a
credit code from a taxpayer number) are expressions; the validity checks of ID numbers and
credit codes are vectorised pandas UDFs (jobs/pipeline/identifiers.py), whose plans Sail makes
in milliseconds where the equivalent expressions took up to half a second.

Casts of delivered text use ``try_cast``: under ANSI semantics (Spark 4's default) a plain cast
of ``''`` or ``'X'`` raises, and Sail evaluates every branch of a CASE WHEN, so guarding a
cast with ``when`` is not enough.

Each function takes and returns a :class:`pyspark.sql.Column`. Tests compare them with
python-stdnum on generated identifiers and with the standards' own rules.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.pipeline.identifiers import checked
from jobs.platform import settings
from jobs.platform.config import extract_schema

FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F))  # ！ … ～
HALFWIDTH = "".join(chr(c) for c in range(0x21, 0x7F))  # ! … ~
SPACES = "[\\s\u3000\u00a0\u2002\u2003\u2009\u200b\ufeff]"
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def balanced_sum(cols: list[Column]) -> Column:
    """The sum of columns as a balanced tree: a left-deep chain of 17 additions, nested in
    further expressions, exceeds Spark Connect's protobuf nesting limit."""
    if len(cols) == 1:
        return cols[0]
    mid = len(cols) // 2
    return balanced_sum(cols[:mid]) + balanced_sum(cols[mid:])


# ------------------------------------------------------------------------------ text and names
def halfwidth(c: Column) -> Column:
    """Full-width letters, digits and punctuation → half-width; ideographic space → space."""
    return F.translate(F.translate(c, FULLWIDTH, HALFWIDTH), "\u3000", " ")


def clean_text(c: Column) -> Column:
    """Half-width, trimmed (also of ideographic and other Unicode spaces); empty → null."""
    t = F.regexp_replace(halfwidth(c), f"^{SPACES}+|{SPACES}+$", "")
    return F.when(t != "", t)


def clean_name(c: Column) -> Column:
    """Names: full-width → half-width, every space removed, nothing else altered."""
    t = F.regexp_replace(halfwidth(c), f"{SPACES}+", "")
    return F.when(t != "", t)


# a person's name: letters (any script, Han included), then letters, marks, the middle dots of
# transliterated names (买买提·艾力), apostrophes, hyphens and spaces; no digits, markup, control
# characters or spreadsheet formula triggers (= + - @)
NAME_PATTERN = r"^\p{L}[\p{L}\p{M}·•．.'’\- ]{0,63}$"


def valid_name(c: Column) -> Column:
    """Whether a delivered name is a possible person's name (false for null)."""
    return F.coalesce(clean_name(c).rlike(NAME_PATTERN), F.lit(False))


# ------------------------------------------------------------------------------ ID numbers (GB 11643)
def id_normalise(c: Column) -> Column:
    """Trimmed, half-width, internal spaces removed, ``x`` → ``X``."""
    return F.upper(clean_name(c))


def id_check_char(body17: Column) -> Column:
    """The ISO 7064 MOD 11-2 check character of a 17-digit body."""
    total = balanced_sum(
        [F.substring(body17, i + 1, 1).try_cast("int") * w for i, w in enumerate(ID_WEIGHTS)],
    )
    return F.substring(F.lit("10X98765432"), (total % 11 + 1).cast("int"), 1)


def id_birth_date(c: Column) -> Column:
    """The birth date written in an 18-character number (null when it is not a real date)."""
    return F.try_to_timestamp(F.substring(c, 7, 8), F.lit("yyyyMMdd")).cast("date")


def id_sex(c: Column) -> Column:
    """``1`` for an odd sequence digit (men), ``2`` for even (women)."""
    return F.when(F.substring(c, 17, 1).try_cast("int") % 2 == 1, "1").otherwise("2")


def id_is_valid(c: Column, as_of: Column | None = None) -> Column:
    """18 characters, 17 digits and the right check character, and a real birth date in
    [1890-01-01, as_of]; false for null. ``c`` must be normalised already. Vectorised
    (jobs/pipeline/identifiers.py): as an expression, Sail took up to half a second to plan it."""
    ok = checked("id_number", c)
    if as_of is not None:
        ok = ok & F.coalesce(id_birth_date(c) <= as_of, F.lit(False))
    return ok


def id_upgrade_15(c: Column) -> Column:
    """A legacy 15-digit number as its 18-character form (birth year 19yy, check added)."""
    body = F.concat(F.substring(c, 1, 6), F.lit("19"), F.substring(c, 7, 9))
    return F.when(c.rlike("^[0-9]{15}$"), F.concat(body, id_check_char(body)))


# ------------------------------------------------------------------------------ credit codes (GB 32100)
def _index_in(alphabet: str, ch: Column) -> Column:
    return F.instr(F.lit(alphabet), ch) - 1


def uscc_check_char(body17: Column) -> Column:
    """The GB 32100 check character (MOD 31) of a credit code's first 17 characters."""
    total = balanced_sum(
        [
            _index_in(USCC_ALPHABET, F.substring(body17, i + 1, 1)) * w
            for i, w in enumerate(USCC_WEIGHTS)
        ],
    )
    return F.substring(F.lit(USCC_ALPHABET), ((F.lit(31) - total % 31) % 31 + 1).cast("int"), 1)


def uscc_normalise(c: Column) -> Column:
    """A delivered credit code trimmed, half-width and upper-cased."""
    return F.upper(clean_name(c))


def uscc_is_valid(c: Column) -> Column:
    """Alphabet, the MOD 31 check character and the embedded GB 11714 organisation code check;
    false for null. Vectorised (jobs/pipeline/identifiers.py), as ``id_is_valid``."""
    return checked("uscc", c)


# ------------------------------------------------------------------------------ dates
_DIRECTIVES = {
    "%Y": r"(\d{4})",
    "%m": r"(\d{1,2})",
    "%d": r"(\d{1,2})",
    "%H": r"(\d{1,2})",
    "%M": r"(\d{2})",
    "%S": r"(\d{2})",
}
_FIELDS = {"%Y": "year", "%m": "month", "%d": "day", "%H": "hour", "%M": "minute", "%S": "second"}


@lru_cache(maxsize=64)
def _format_regex(fmt: str) -> tuple[str, tuple[str, ...]]:
    """A strftime-like format as an anchored regex and the order of its fields."""
    compact = not re.sub(r"%[YmdHMS]", "", fmt)  # e.g. %Y%m%d: fixed widths
    parts, fields, i = [], [], 0
    while i < len(fmt):
        d = fmt[i : i + 2]
        if d in _DIRECTIVES:
            parts.append(r"(\d{2})" if compact and d != "%Y" else _DIRECTIVES[d])
            fields.append(_FIELDS[d])
            i += 2
        else:
            parts.append(re.escape(fmt[i]))
            i += 1
    return "^" + "".join(parts) + "$", tuple(fields)


def parse_timestamp(c: Column, formats: list[str]) -> Column:
    """The first of ``formats`` (``%Y %m %d %H %M %S``) that reads ``c`` as a real moment, else
    null. Impossible dates (2023-02-30, month 13) are null, not rolled over."""
    t = clean_text(c)
    tries = []
    for fmt in formats:
        regex, fields = _format_regex(fmt)
        part = {f: F.regexp_extract(t, regex, k + 1).try_cast("int") for k, f in enumerate(fields)}
        ts = F.try_make_timestamp(
            part["year"],
            part["month"],
            part.get("day", F.lit(1)),
            part.get("hour", F.lit(0)),
            part.get("minute", F.lit(0)),
            part.get("second", F.lit(0)).cast("decimal(16,6)"),
        )
        tries.append(F.when(t.rlike(regex), ts))
    return F.coalesce(*tries)


def parse_date(c: Column, formats: list[str]) -> Column:
    """A date from text in any of ``formats`` (strptime style); null when none fits."""
    return parse_timestamp(c, formats).cast("date")


def delivered(source_id: str, column: str) -> Column:
    """A delivered bronze field parsed as its extract schema says: dates and timestamps by their
    formats, codes through their code table, anything else as cleaned text."""
    spec = next(c for c in extract_schema(source_id).columns if c.column == column)
    if spec.parser.startswith("date:"):
        return parse_date(F.col(column), date_formats(spec.parser))
    if spec.parser.startswith("timestamp:"):
        return parse_timestamp(F.col(column), date_formats(spec.parser))
    if spec.parser.startswith("code:"):
        return map_code(F.col(column), spec.parser.split(":", 1)[1])
    return clean_text(F.col(column))


def date_formats(parser: str) -> list[str]:
    """The formats of a schema parser such as ``date:%Y-%m-%d|%Y年%m月%d日``."""
    return parser.split(":", 1)[1].split("|")


# ------------------------------------------------------------------------------ code tables
def code_table(name: str) -> dict[str, str]:
    """One code table of conf/codes.yaml (delivered code → canonical code)."""
    return settings.codes().table(name)


def marital_category(c: Column) -> Column:
    """The category (single, married, widowed, divorced, unknown) of a GB/T 2261.2 marital
    status code (conf/codes.yaml ``marital_category``)."""
    pairs = settings.codes().marital_category.items()
    return F.create_map(*[x for k, v in pairs for x in (F.lit(k), F.lit(v))])[c]


def map_code(c: Column, table: str) -> Column:
    """The canonical code for a delivered one (null when outside the table: see code_invalid)."""
    # keys get the same normalisation as values (e.g. the full-width brackets of 存续（…）)
    norm = str.maketrans(FULLWIDTH + "\u3000", HALFWIDTH + " ")
    pairs = [
        x
        for k, v in code_table(table).items()
        for x in (F.lit(k.translate(norm).strip()), F.lit(v))
    ]
    return F.create_map(*pairs)[clean_text(c)]  # a missing key is null, also under ANSI


def code_invalid(c: Column, table: str) -> Column:
    """True when a value was delivered but is not in its code table."""
    return clean_text(c).isNotNull() & map_code(c, table).isNull()
