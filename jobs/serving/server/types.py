"""Arrow types as PostgreSQL types: OIDs, values in text format, and the few binary formats.

Results go out in text format unless a client asks for binary; binary is supported for
bool, int2/4/8, float4/8, text, json and bytea, and refused (0A000) for any other type.
Nested values (struct, list, map) are sent as json (OID 114).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import struct

import pyarrow as pa

BOOL, BYTEA, INT8, INT2, INT4, TEXT, JSON = 16, 17, 20, 21, 23, 25, 114
FLOAT4, FLOAT8, UNKNOWN, VARCHAR, DATE, TIME = 700, 701, 705, 1043, 1082, 1083
TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC = 1114, 1184, 1186, 1700
OID, UUID = 26, 2950

# typlen for RowDescription (-1: variable)
_TYPLEN = {BOOL: 1, INT2: 2, INT4: 4, INT8: 8, FLOAT4: 4, FLOAT8: 8, DATE: 4, TIME: 8}
_TYPLEN |= {TIMESTAMP: 8, TIMESTAMPTZ: 8, OID: 4}


class UnsupportedFormat(ValueError):
    """A binary format the server does not implement (SQLSTATE 0A000)."""


def pg_oid(t: pa.DataType) -> int:
    if pa.types.is_boolean(t):
        return BOOL
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return INT2
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return INT4
    if pa.types.is_integer(t):
        return INT8 if not pa.types.is_uint64(t) else NUMERIC
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return FLOAT4
    if pa.types.is_floating(t):
        return FLOAT8
    if pa.types.is_decimal(t):
        return NUMERIC
    if pa.types.is_date(t):
        return DATE
    if pa.types.is_timestamp(t):
        return TIMESTAMPTZ if t.tz else TIMESTAMP
    if pa.types.is_time(t):
        return TIME
    if pa.types.is_duration(t) or pa.types.is_interval(t):
        return INTERVAL
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return BYTEA
    if pa.types.is_nested(t) or pa.types.is_map(t):
        return JSON
    return TEXT


def typlen(oid: int) -> int:
    return _TYPLEN.get(oid, -1)


def _json_default(v):
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    if isinstance(v, dt.timedelta):
        return _interval(v)
    return str(v)


def _jsonable(v):
    # a map arrives from Arrow as a list of (key, value) pairs
    if isinstance(v, list) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
        return {str(k): _jsonable(x) for k, x in v}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)


def _interval(v: dt.timedelta) -> str:
    seconds = v.seconds + v.microseconds / 1e6
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{v.days} days {int(h):02d}:{int(m):02d}:{s:09.6f}"


def to_text(v, oid: int) -> bytes | None:
    """A value in PostgreSQL's text format (None: SQL NULL)."""
    if v is None:
        return None
    if oid == BOOL:
        return b"t" if v else b"f"
    if oid in (FLOAT4, FLOAT8):
        return _float(v).encode()
    if oid == BYTEA:
        return b"\\x" + bytes(v).hex().encode()
    if oid == JSON:
        return json.dumps(_jsonable(v), default=_json_default, ensure_ascii=False).encode()
    if oid == TIMESTAMPTZ:
        return v.astimezone(dt.UTC).isoformat(sep=" ").replace("+00:00", "+00").encode()
    if oid == TIMESTAMP:
        return v.isoformat(sep=" ").encode()
    if oid == INTERVAL and isinstance(v, dt.timedelta):
        return _interval(v).encode()
    if isinstance(v, dt.date | dt.time):
        return v.isoformat().encode()
    return str(v).encode()


_BINARY_OUT = {
    INT2: lambda v: struct.pack("!h", v),
    INT4: lambda v: struct.pack("!i", v),
    INT8: lambda v: struct.pack("!q", v),
    FLOAT4: lambda v: struct.pack("!f", v),
    FLOAT8: lambda v: struct.pack("!d", v),
    BOOL: lambda v: b"\x01" if v else b"\x00",
    BYTEA: bytes,
}


def to_binary(v, oid: int) -> bytes | None:
    if v is None:
        return None
    if oid in _BINARY_OUT:
        return _BINARY_OUT[oid](v)
    if oid in (TEXT, VARCHAR, JSON):
        return to_text(v, oid)
    raise UnsupportedFormat(f"binary format is not supported for type OID {oid}")


def check_binary(oid: int) -> None:
    if oid not in _BINARY_OUT and oid not in (TEXT, VARCHAR, JSON):
        raise UnsupportedFormat(f"binary format is not supported for type OID {oid}")


_BINARY_IN = {
    INT2: lambda b: struct.unpack("!h", b)[0],
    INT4: lambda b: struct.unpack("!i", b)[0],
    INT8: lambda b: struct.unpack("!q", b)[0],
    FLOAT4: lambda b: struct.unpack("!f", b)[0],
    FLOAT8: lambda b: struct.unpack("!d", b)[0],
    BOOL: lambda b: b == b"\x01",
    BYTEA: bytes,
}

_TEXT_IN = {
    INT2: int,
    INT4: int,
    INT8: int,
    OID: int,
    FLOAT4: float,
    FLOAT8: float,
    NUMERIC: decimal.Decimal,
    BOOL: lambda s: s.strip().lower() in ("t", "true", "1", "on", "yes", "y"),
    DATE: dt.date.fromisoformat,
    TIMESTAMP: dt.datetime.fromisoformat,
    TIMESTAMPTZ: dt.datetime.fromisoformat,
    TIME: dt.time.fromisoformat,
    BYTEA: lambda s: bytes.fromhex(s[2:]) if s.startswith("\\x") else s.encode(),
}


def param_from_wire(raw: bytes | None, oid: int, *, fmt: int):
    """A Bind parameter as a Python value, by its declared type (0/unknown: text)."""
    if raw is None:
        return None
    if fmt == 1:
        if oid in _BINARY_IN:
            return _BINARY_IN[oid](raw)
        if oid in (0, TEXT, VARCHAR, UNKNOWN, JSON):
            return raw.decode("utf-8")
        raise UnsupportedFormat(f"binary parameters are not supported for type OID {oid}")
    text = raw.decode("utf-8")
    convert = _TEXT_IN.get(oid)
    return convert(text) if convert else text
