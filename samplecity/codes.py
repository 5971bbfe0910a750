"""The sample city's identifiers and its county codes.

The check algorithms are production's (jobs/pipeline/check_digits.py); the generator only
composes valid identifiers from them.
"""

from __future__ import annotations

import numpy as np

from jobs.pipeline.check_digits import (  # noqa: F401  (re-exported for the generator's modules)
    ALNUM36,
    ID_WEIGHTS,
    ORG_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    division_codes,
    id_check_chars,
    mod_37_36_check_chars,
    org_check_chars,
    uscc_check_chars,
)

# 沧州市 (130900) and its districts and counties (spec/extracts.md)
CITY_CODE = "130900"
CITY_COUNTIES = {
    "130902": "新华区",
    "130903": "运河区",
    "130921": "沧县",
    "130922": "青县",
    "130923": "东光县",
    "130924": "海兴县",
    "130925": "盐山县",
    "130926": "肃宁县",
    "130927": "南皮县",
    "130928": "吴桥县",
    "130929": "献县",
    "130930": "孟村回族自治县",
    "130981": "泊头市",
    "130982": "任丘市",
    "130983": "黄骅市",
    "130984": "河间市",
}


def make_uscc(prefix2: np.ndarray, region: np.ndarray, org8: np.ndarray) -> np.ndarray:
    """Complete credit codes from a 2-character prefix, a division code and an org-code body."""
    org9 = np.char.add(org8, org_check_chars(org8))
    body = np.char.add(np.char.add(prefix2, region), org9)
    return np.char.add(body, uscc_check_chars(body))


def make_ids(region: np.ndarray, birth_yyyymmdd: np.ndarray, seq3: np.ndarray) -> np.ndarray:
    body = np.char.add(np.char.add(region, birth_yyyymmdd), seq3)
    return np.char.add(body, id_check_chars(body))
