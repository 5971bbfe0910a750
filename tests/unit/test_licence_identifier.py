import numpy as np
import pandas as pd
from stdnum.iso7064 import mod_37_36

from jobs.pipeline.identifiers import licence_ok
from samplecity.events import licence_uids

PREFIX = "1.2.156.3005.2."


def _stdnum_ok(value) -> bool:
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return False
    parts = value[len(PREFIX) :].split(".")
    if len(parts) != 5 or len(parts[1]) != 18 or len(parts[3]) != 3:
        return False
    try:
        return bool(mod_37_36.is_valid("".join(parts)))
    except Exception:
        return False


def test_licence_identifier_check_agrees_with_python_stdnum():
    rng = np.random.default_rng(3)
    n = 400
    uids = licence_uids(
        rng.choice(["11100000948328254G011", "11100000601498158A031", "1110000067036054XM001"], n),
        rng.choice(["11130900147926043U", "11130923816736416Q"], n),
        rng.integers(1, 10**7, n),
    )
    values = list(uids)
    for u in uids[:100]:  # one changed character, a dropped dot, a lower-case letter
        i = int(rng.integers(15, len(u)))
        values.append(u[:i] + ("7" if u[i] != "7" else "8") + u[i + 1 :])
    values += [uids[0].replace(".", "", 1), uids[1].lower(), "", None, "garbage", uids[2][:-1]]
    values += [uids[3] + "\n", " " + uids[4], uids[5] + "．"]  # no trailing line end, no padding
    got = licence_ok(pd.Series(values, dtype=object))
    want = [_stdnum_ok(v) for v in values]
    assert got.tolist() == want
    assert sum(want) >= n  # every generated identifier is valid
