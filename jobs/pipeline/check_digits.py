"""Identifier check characters (vectorised over numpy arrays) and the GB/T 2260 division codes.

* 公民身份号码 GB 11643 (MOD 11-2), 组织机构代码 GB 11714, 统一社会信用代码 GB 32100 (MOD 31),
  and ISO 7064 MOD 37,36 for electronic licence identifiers (GB/T 36904).
* The scalar reference implementations are python-stdnum's; tests check that these vectorised
  versions agree with it on random inputs. They check millions of identifiers in seconds, where
  a per-item Python call would take minutes.
* The division codes are python-stdnum's copy of GB/T 2260 (its ``cn/loc.dat``).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

import numpy as np

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])
ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _char_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """An (n, width) array of code points from an array of fixed-width strings."""
    b = np.asarray(values, dtype=f"U{width}")
    return b.view(np.uint32).reshape(len(b), width)


def _values(points: np.ndarray, alphabet: str) -> np.ndarray:
    lut = np.full(128, -1, dtype=np.int8)  # small: millions of characters at a time
    for i, ch in enumerate(alphabet):
        lut[ord(ch)] = i
    out = lut[np.minimum(points, 127)]
    if (out < 0).any():
        raise ValueError(f"characters outside {alphabet!r}")
    return out


class _Scheme:
    """A weighted-sum check character: the body's character values times the weights, summed,
    modulo ``modulus``, index the scheme's table of check characters."""

    def __init__(self, alphabet: str, weights: np.ndarray, modulus: int, checks: str):
        self.alphabet, self.weights, self.modulus = alphabet, weights, modulus
        self.chars = np.array(list(checks))
        self.bytes = np.frombuffer(checks.encode(), dtype=np.uint8)

    def index(self, points: np.ndarray) -> np.ndarray:
        """Indices into the table for an (n, width) array of character points or bytes."""
        return (_values(points, self.alphabet) * self.weights).sum(axis=1) % self.modulus


# GB 11643: ISO 7064 MOD 11-2. GB 11714: 11 - sum % 11, with 10 → X and 11 → 0. GB 32100:
# (31 - sum % 31) % 31 in the credit-code alphabet. Each table is indexed by sum % modulus.
ID = _Scheme("0123456789", ID_WEIGHTS, 11, "10X98765432")
ORG = _Scheme(ALNUM36, ORG_WEIGHTS, 11, "0X987654321")
USCC = _Scheme(
    USCC_ALPHABET, USCC_WEIGHTS, 31, "".join(USCC_ALPHABET[(31 - r) % 31] for r in range(31))
)


def id_check_chars(bodies: np.ndarray) -> np.ndarray:
    """GB 11643 (ISO 7064 MOD 11-2) check characters for 17-digit ID number bodies."""
    return ID.chars[ID.index(_char_matrix(bodies, 17))]


def org_check_chars(bodies: np.ndarray) -> np.ndarray:
    """GB 11714 organisation code check characters for 8-character bodies."""
    return ORG.chars[ORG.index(_char_matrix(bodies, 8))]


def uscc_check_chars(bodies: np.ndarray) -> np.ndarray:
    """GB 32100 (MOD 31) check characters for 17-character credit code bodies."""
    return USCC.chars[USCC.index(_char_matrix(bodies, 17))]


def check_bytes(scheme: _Scheme, bodies: np.ndarray) -> np.ndarray:
    """A scheme's check characters, as ASCII bytes, for an (n, width) uint8 array of ASCII
    bodies (what a vectorised reader gives without building Python strings)."""
    return scheme.bytes[scheme.index(bodies)]


def _mod_37_36(v: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 37,36 check values (0-35) for an (n, width) array of character values.
    One step of the recurrence depends only on (carry, character value), both below 36: it is
    a table, and each character position costs one lookup over small integers."""
    m = 36
    carry = np.arange(m)
    step = ((np.where(carry == 0, m, carry) * 2 % (m + 1))[:, None] + carry[None, :]) % m
    step = step.astype(np.uint16).ravel()  # step[carry * 36 + value]
    check = np.full(len(v), m // 2, dtype=np.uint16)
    for value in np.ascontiguousarray(v.T, dtype=np.uint16):
        check = step[check * m + value]
    return (1 - np.where(check == 0, m, check).astype(np.int64) * 2 % (m + 1)) % m


def mod_37_36_check_chars(bodies: np.ndarray, width: int) -> np.ndarray:
    """ISO 7064 MOD 37,36 check characters (GB/T 36904 licence identifiers)."""
    return np.array(list(ALNUM36))[_mod_37_36(_values(_char_matrix(bodies, width), ALNUM36))]


def mod_37_36_check_bytes(bodies: np.ndarray) -> np.ndarray:
    """The same check characters, as ASCII bytes, for an (n, width) uint8 array of ASCII bodies
    of ``0-9A-Z`` (what a vectorised reader gives without building Python strings)."""
    return np.frombuffer(ALNUM36.encode(), dtype=np.uint8)[_mod_37_36(_values(bodies, ALNUM36))]


@lru_cache(maxsize=1)
def division_codes() -> dict[str, str]:
    """Current county-level GB/T 2260 codes → names, from python-stdnum's cn/loc.dat."""
    import stdnum

    path = os.path.join(os.path.dirname(stdnum.__file__), "cn", "loc.dat")
    out: dict[str, str] = {}
    province = None
    for line in open(path, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        code, _, rest = line.strip().partition(" ")
        m = re.match(r'county="(?:\[(\d{4})?-(\d{4})?\])?(.*)"', rest)
        if not m or m.group(2) or code.endswith("00") or code.endswith("01"):
            continue  # abolished, or a prefecture / 市辖区 placeholder
        out[province + code] = m.group(3)
    return out
