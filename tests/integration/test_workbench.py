"""The workbench over HTTP (`govlake serve web`'s application, in process): logins, every
transition of the 数据异议 / 整改 loop and every permission, forbidden ones included, masking,
downloads and the audit trail, on a copy of the sample city's lake."""

from __future__ import annotations

import csv
import io
import re
import shutil

import pytest
from deltalake import DeltaTable
from starlette.testclient import TestClient

from jobs.serving.auth import users
from jobs.serving.web.app import WebConfig, build_app
from jobs.serving.web.security import LOGIN_COOKIE, SESSION_COOKIE

PASSWORDS = {
    "officer": ("quality_officer", None, None),
    "liaison-gaj": ("department_liaison", None, "gaj"),
    "liaison-rsj": ("department_liaison", None, "rsj"),
    "analyst": ("city_analyst", None, None),
    "district": ("district_analyst", "130902", None),
    "admin": ("platform_admin", None, None),
    "guessed": ("city_analyst", None, None),  # the rate limit's target
}


def _pw(name: str) -> str:
    return f"pw-{name}-long-enough"


@pytest.fixture(scope="module")
def site(city_lake_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    lake = root / "lake"
    shutil.copytree(city_lake_path, lake, ignore=shutil.ignore_patterns("_staging", "_gx"))
    path = root / "users.json"
    for name, (role, division, department) in PASSWORDS.items():
        users.add(
            path, name=name, role=role, division=division, department=department,
            password=_pw(name),
        )  # fmt: skip
    app = build_app(WebConfig(lake=lake, users_file=path))
    return app, lake, path


def client(site, name: str | None = None) -> TestClient:
    app = site[0]
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    if name:
        r = login(c, name, _pw(name))
        assert r.status_code == 303, r.text
    return c


def login(c: TestClient, name: str, password: str):
    form = c.get("/login")
    tok = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    return c.post("/login", data={"username": name, "password": password, "login_token": tok})


def csrf(c: TestClient, path: str = "/") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(path).text).group(1)


def act(c: TestClient, fid: str, action: str, note: str = "理由 reason", token: str | None = None):
    return c.post(
        f"/findings/{fid}/act",
        data={"action": action, "note": note, "csrf": token or csrf(c)},
        headers={"accept": "application/json"},
    )


def open_finding(c: TestClient, department: str, n: int = 0, rule: str | None = None) -> str:
    q = f"/findings?department={department}&status=open" + (f"&rule={rule}" if rule else "")
    ids = [
        f["finding_id"] for f in c.get(q, headers={"accept": "application/json"}).json()["findings"]
    ]
    return ids[n]


def state(c: TestClient, fid: str) -> str:
    return c.get(f"/api/findings/{fid}").json()["finding"]["state"]


def test_pages_need_a_login_and_logins_are_checked(site):
    c = client(site)
    r = c.get("/findings")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/api/findings/x").status_code == 401
    assert login(c, "officer", "wrong password!").status_code == 401
    assert login(c, "nobody", "whatever password").status_code == 401
    # the login form's own token (login CSRF)
    r = c.post("/login", data={"username": "officer", "password": _pw("officer")})
    assert r.status_code == 400 and SESSION_COOKIE not in r.cookies
    r = login(c, "officer", _pw("officer"))
    assert r.status_code == 303
    set_cookie = r.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in set_cookie.lower()
    assert c.get("/").status_code == 200
    # an open redirect is not offered
    c2 = client(site)
    form = c2.get("/login?next=//evil.example/")
    assert 'value="/"' in form.text and "evil" not in form.text
    logins = DeltaTable(str(site[1] / "audit/logins")).to_pyarrow_table().to_pylist()
    web = [r for r in logins if r["application_name"] == "govlake web"]
    assert {"accepted", "refused"} <= {r["outcome"] for r in web}
    assert all(
        "password" not in (r["reason"] or "") or r["reason"] == "wrong password" for r in web
    )


def test_failed_logins_are_rate_limited(site):
    c = client(site)
    for _ in range(5):
        assert login(c, "guessed", "not the password").status_code == 401
    r = login(c, "guessed", _pw("guessed"))  # right, but inside the back-off
    assert r.status_code == 429 and SESSION_COOKIE not in r.cookies
    assert client(site, "officer").get("/").status_code == 200  # other users are not affected


def test_logout_ends_the_session_and_needs_the_csrf_token(site):
    c = client(site, "officer")
    assert c.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert c.post("/logout", data={"csrf": csrf(c)}).status_code == 303
    assert c.get("/").status_code == 303


def test_a_disabled_user_is_logged_out_at_once(site):
    c = client(site, "admin")
    assert c.get("/").status_code == 200
    users.set_disabled(site[2], "admin", disabled=True)
    try:
        assert c.get("/").status_code == 303
        assert login(client(site), "admin", _pw("admin")).status_code == 401
    finally:
        users.set_disabled(site[2], "admin", disabled=False)


def test_dispute_then_uphold_dismisses_and_the_score_changes(site):
    liaison, officer = client(site, "liaison-gaj"), client(site, "officer")
    fid = open_finding(officer, "gaj", rule="death_not_deregistered")
    score = lambda: float(  # noqa: E731
        re.search(
            r'id="department-score" data-score="([0-9.]+)"', officer.get("/departments/gaj").text
        ).group(1)
    )
    before, open_before = score(), _open(officer)
    r = act(liaison, fid, "dispute", "户籍已注销，见附件")
    assert r.status_code == 200 and r.json()["status"] == "disputed"
    assert act(liaison, fid, "dispute").status_code == 409  # already disputed
    assert act(liaison, fid, "uphold").status_code == 403  # a liaison does not decide
    r = act(officer, fid, "uphold", "核实户籍已注销，异议成立")
    assert r.json()["status"] == "dismissed"
    assert act(officer, fid, "reject").status_code == 409  # decided
    assert score() > before
    assert _open(officer) == open_before - 1
    detail = officer.get(f"/api/findings/{fid}").json()
    assert [a["action"] for a in detail["actions"]] == ["dispute", "uphold"]
    assert [a["actor"] for a in detail["actions"]] == ["liaison-gaj", "officer"]
    assert detail["actions"][0]["from_status"] == "open"
    assert detail["actions"][1]["to_status"] == "dismissed"


def _open(c: TestClient) -> int:
    return int(re.search(r'id="open-count">([0-9,]+)<', c.get("/").text).group(1).replace(",", ""))


def test_a_rejected_dispute_reopens_and_the_liaison_sees_why(site):
    liaison, officer = client(site, "liaison-gaj"), client(site, "officer")
    fid = open_finding(officer, "gaj", n=1)
    assert act(liaison, fid, "dispute", "我们认为无误").json()["status"] == "disputed"
    assert (
        act(officer, fid, "reject", "出生日期与身份证号不符，异议不成立").json()["status"] == "open"
    )
    page = liaison.get(f"/findings/{fid}").text
    assert "异议不成立" in page and "异议驳回" in page
    assert 'id="act-dispute"' in page  # may dispute again, with more evidence


def test_rectification_submitted(site):
    liaison = client(site, "liaison-gaj")
    fid = open_finding(liaison, "gaj", n=2)
    r = act(liaison, fid, "submit_rectification", "已更正户籍系统中的记录")
    assert r.json()["status"] == "rectification_submitted"
    assert act(liaison, fid, "submit_rectification").status_code == 409


def test_who_may_do_what(site):
    officer, liaison, other = (
        client(site, "officer"), client(site, "liaison-gaj"), client(site, "liaison-rsj")
    )  # fmt: skip
    analyst, admin, district = (
        client(site, "analyst"), client(site, "admin"), client(site, "district")
    )  # fmt: skip
    fid = open_finding(officer, "gaj", n=3)
    assert act(officer, fid, "dispute").status_code == 403  # an officer is not a liaison
    assert act(officer, fid, "submit_rectification").status_code == 403
    assert act(analyst, fid, "dispute").status_code == 403  # analysts read only
    assert act(admin, fid, "uphold").status_code == 403
    assert act(other, fid, "dispute").status_code == 404  # another department's: not shown
    assert other.get(f"/findings/{fid}").status_code == 404
    assert other.get("/departments/gaj").status_code == 404
    assert other.get("/lists/gaj.csv").status_code == 404
    listed = other.get("/findings?department=gaj", headers={"accept": "application/json"}).json()
    assert {f["department_id"] for f in listed["findings"]} <= {"rsj"}
    assert district.get("/findings").status_code == 403
    assert district.get("/").status_code == 200
    # forged or missing CSRF tokens, and posts from another site
    assert act(liaison, fid, "dispute", token="forged").status_code == 403
    r = liaison.post(
        f"/findings/{fid}/act",
        data={"action": "dispute", "note": "x", "csrf": csrf(liaison)},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert act(liaison, fid, "dispute", note="  ").status_code == 400  # a reason is required
    assert act(liaison, fid, "dispute", note="x" * 5000).status_code == 400
    assert state(officer, fid) == "open"  # none of it changed anything


def test_values_are_masked_by_role(site):
    officer, analyst = client(site, "officer"), client(site, "analyst")
    q = "/findings?rule=id_checksum_invalid"
    clear = officer.get(q, headers={"accept": "application/json"}).json()["findings"][0]
    masked = analyst.get(q, headers={"accept": "application/json"}).json()["findings"]
    (same,) = [f for f in masked if f["finding_id"] == clear["finding_id"]]
    assert re.fullmatch(r"\d{17}[\dX]", clear["entity"])
    assert same["entity"].startswith("P") and clear["entity"] not in str(same)
    assert clear["observed"] not in str(same)
    # an analyst finds a person by pseudonym
    found = analyst.get(
        f"/findings?entity={same['entity']}", headers={"accept": "application/json"}
    ).json()
    assert clear["finding_id"] in {f["finding_id"] for f in found["findings"]}
    page = analyst.get(f"/findings/{clear['finding_id']}").text
    assert clear["entity"] not in page


def test_rectification_lists_download_safe_and_scoped(site):
    liaison = client(site, "liaison-gaj")
    r = liaison.get("/lists/gaj.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert "状态 status" in rows[0] and "整改期限 due" in rows[0]
    statuses = {row[rows[0].index("状态 status")] for row in rows[1:]}
    assert statuses and statuses <= {
        "open",
        "disputed",
        "rectification_submitted",
        "rectification_failed",
    }
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    x = liaison.get("/lists/gaj.xlsx")
    assert x.status_code == 200 and x.content[:2] == b"PK"


def test_every_page_view_and_action_is_audited(site):
    c = client(site, "analyst")
    c.get("/")
    c.get("/findings?rule=employer_unknown")
    rows = DeltaTable(str(site[1] / "audit/queries")).to_pyarrow_table().to_pylist()
    mine = [r for r in rows if r["user_name"] == "analyst" and r["client"].startswith("web")]
    asked = [r["submitted_sql"] for r in mine]
    assert "GET /" in asked and "GET /findings?rule=employer_unknown" in asked
    denied = client(site, "liaison-rsj")
    denied.get("/departments/gaj")
    rows = DeltaTable(str(site[1] / "audit/queries")).to_pyarrow_table().to_pylist()
    assert any(r["user_name"] == "liaison-rsj" and r["status"] == "denied" for r in rows)


def test_security_headers_and_no_login_cookie_left(site):
    c = client(site)
    r = c.get("/login")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert LOGIN_COOKIE in r.cookies


def test_form_bodies_are_bounded(site):
    c = client(site)
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert c.post("/login", content=b"a=" + b"x" * 70_000, headers=form).status_code == 413
    chunks = (b"username=x&password=" + b"y" * 100 for _ in range(3))
    assert c.post("/login", content=chunks, headers=form).status_code == 411


def test_what_people_write_is_shown_as_text(site):
    liaison, officer = client(site, "liaison-gaj"), client(site, "officer")
    fid = open_finding(officer, "gaj", n=4)
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'"
    assert act(liaison, fid, "dispute", hostile).status_code == 200
    page = officer.get(f"/findings/{fid}").text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
