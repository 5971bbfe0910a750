"""The SQL server's users file and the SCRAM-SHA-256 exchange (jobs/serving/server/users.py, scram.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat

import pytest
from click.testing import CliRunner

from jobs.serving.auth import users as users_file
from jobs.serving.auth.scram import ScramError, ScramServer, Verifier, make_verifier

PASSWORD = "a long enough password"


def _client_exchange(server: ScramServer, password: str, *, gs2: str = "n,,") -> str:
    """What libpq does: an empty user name (n=), then the proof; returns the server's final."""
    client_nonce = base64.b64encode(os.urandom(18)).decode()
    bare = f"n=,r={client_nonce}"
    server_first = server.first(gs2 + bare)
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    assert attrs["r"].startswith(client_nonce)
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c={base64.b64encode(gs2.encode()).decode()},r={attrs['r']}"
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server_final = server.final(f"{without_proof},p={base64.b64encode(proof).decode()}")
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expected = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    assert server_final == "v=" + base64.b64encode(expected).decode()
    return server_final


def test_verifier_text_round_trip_and_exchange():
    verifier = make_verifier(PASSWORD)
    text = verifier.text()
    assert text.startswith("SCRAM-SHA-256$4096:") and PASSWORD not in text
    parsed = Verifier.parse(text)
    assert parsed == verifier
    _client_exchange(ScramServer(parsed), PASSWORD)
    _client_exchange(ScramServer(parsed), PASSWORD, gs2="y,,")


def test_a_wrong_password_or_a_tampered_exchange_fails():
    verifier = make_verifier(PASSWORD)
    with pytest.raises(ScramError):
        _client_exchange(ScramServer(verifier), "not the password")
    server = ScramServer(verifier)
    server.first("n,,n=,r=abc")
    with pytest.raises(ScramError):  # the server's nonce part missing
        server.final("c=biws,r=abc,p=" + base64.b64encode(b"x" * 32).decode())
    with pytest.raises(ScramError):
        ScramServer(verifier).first("p=tls-server-end-point,,n=,r=abc")
    with pytest.raises(ScramError):
        ScramServer(verifier).final("c=biws,r=abc,p=AAAA")  # out of order
    for bad in ("", "MD5$x", "SCRAM-SHA-256$4096:c2FsdA==$short:short"):
        with pytest.raises(ValueError):
            Verifier.parse(bad)


def test_users_file_is_written_0600_atomically_and_holds_no_password(tmp_path):
    path = tmp_path / "users.json"
    users_file.add(path, name="wang.li", role="city_analyst", division=None, password=PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_text()
    assert PASSWORD not in raw
    entry = json.loads(raw)["users"][0]
    assert set(entry) == {
        "name",
        "role",
        "division",
        "verifier",
        "disabled",
        "created_at",
        "updated_at",
        "department",
    }
    users_file.set_password(path, "wang.li", password="another long password")
    users_file.set_disabled(path, "wang.li", disabled=True)
    assert [p.name for p in tmp_path.iterdir()] == ["users.json"]  # no temporary file left
    user = users_file.load(path)["wang.li"]
    assert user.disabled and user.updated_at >= user.created_at
    _client_exchange(ScramServer(Verifier.parse(user.verifier)), "another long password")


def test_unsafe_users_files_are_refused(tmp_path):
    path = tmp_path / "users.json"
    users_file.add(path, name="ana", role="city_analyst", division=None, password=PASSWORD)
    for mode in (0o644, 0o620, 0o604):
        path.chmod(mode)
        with pytest.raises(users_file.UsersFileError, match="chmod 600"):
            users_file.load(path)
    path.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(path)
    with pytest.raises(users_file.UsersFileError, match="symbolic link"):
        users_file.load(link)
    with pytest.raises(users_file.UsersFileError, match="symbolic link"):
        users_file.set_disabled(link, "ana", disabled=True)
    with pytest.raises(users_file.UsersFileError, match="no such users file"):
        users_file.load(tmp_path / "missing.json")


def test_names_passwords_roles_and_divisions_are_validated(tmp_path):
    path = tmp_path / "users.json"
    with pytest.raises(users_file.UsersFileError, match="user name"):
        users_file.add(
            path, name="Robert'); --", role="city_analyst", division=None, password=PASSWORD
        )
    with pytest.raises(users_file.UsersFileError, match="12 characters"):
        users_file.add(path, name="ana", role="city_analyst", division=None, password="short")
    with pytest.raises(users_file.UsersFileError, match="unknown role"):
        users_file.add(path, name="ana", role="superuser", division=None, password=PASSWORD)
    with pytest.raises(users_file.UsersFileError, match="division"):
        users_file.add(path, name="ana", role="district_analyst", division=None, password=PASSWORD)
    users_file.add(path, name="ana", role="district_analyst", division="130902", password=PASSWORD)
    with pytest.raises(users_file.UsersFileError, match="exists already"):
        users_file.add(path, name="ana", role="city_analyst", division=None, password=PASSWORD)


def test_the_users_commands(tmp_path):
    from jobs.serving.cli import main

    path = str(tmp_path / "users.json")
    runner = CliRunner()
    done = runner.invoke(
        main,
        ["users", "add", "ana", "--role", "city_analyst", "--users", path, "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        main,
        ["users", "passwd", "ana", "--users", path],
        input="another long password\nanother long password\n",
    )
    assert done.exit_code == 0, done.output
    assert runner.invoke(main, ["users", "disable", "ana", "--users", path]).exit_code == 0
    listed = runner.invoke(main, ["users", "list", "--users", path])
    assert "ana\tcity_analyst\t-\tdisabled" in listed.output
    assert "SCRAM" not in listed.output
    assert runner.invoke(main, ["users", "enable", "ana", "--users", path]).exit_code == 0
    refused = runner.invoke(
        main,
        ["serve", "sql", "--lake", str(tmp_path), "--users", path, "--require-tls"],
    )
    assert refused.exit_code != 0 and "--require-tls needs" in refused.output


def test_users_added_at_the_same_time_are_all_kept(tmp_path):
    import threading

    path = tmp_path / "users.json"
    names = [f"user{i}" for i in range(6)]
    threads = [
        threading.Thread(
            target=users_file.add,
            args=(path,),
            kwargs={"name": n, "role": "city_analyst", "division": None, "password": "p" * 12},
        )
        for n in names
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(users_file.load(path)) == names


def test_a_liaison_is_bound_to_one_known_department(tmp_path):
    path = tmp_path / "users.json"
    user = users_file.add(
        path, name="li.gaj", role="department_liaison", division=None, department="gaj",
        password="a long enough password",
    )  # fmt: skip
    assert user.department == "gaj"
    for department, why in ((None, "answers for one department"), ("xyz", "one of")):
        with pytest.raises(users_file.UsersFileError, match=why):
            users_file.add(
                path, name="li.x", role="department_liaison", division=None,
                department=department, password="a long enough password",
            )  # fmt: skip
    with pytest.raises(users_file.UsersFileError, match="not bound to a department"):
        users_file.add(
            path, name="off", role="quality_officer", division=None, department="gaj",
            password="a long enough password",
        )  # fmt: skip


def test_a_users_file_written_before_departments_still_loads(tmp_path):
    path = tmp_path / "users.json"
    users_file.add(
        path, name="old", role="city_analyst", division=None, password="a long enough password"
    )
    doc = json.loads(path.read_text())
    del doc["users"][0]["department"]
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    assert users_file.load(path)["old"].department is None


def test_a_login_form_password_is_checked_against_the_verifier():
    from jobs.serving.auth.scram import make_verifier, verify_password

    v = make_verifier("the right password")
    assert verify_password(v, "the right password")
    assert not verify_password(v, "the wrong password")
