"""Attacks on a real hub run as root, as on a fresh server or in CI.

A hostile user of the hub tries, from their kernel and their terminal, to become root, read
the hub's state and process environment, read another user's folder, server environment or
token, and write the shared data; anonymous clients try cross-site approval, admin-name
squatting with case variants and look-alikes, locking the admin out with wrong passwords, mass
sign-ups and every route family. Each attack must fail; ``docs/hub.md`` has the threat model.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")
websocket = pytest.importorskip("websocket")
from test_hub import Hub  # noqa: E402  (the real-hub helpers)

pytestmark = [
    pytest.mark.hub, pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the hub isolates users only when run as root"),
]

LOOK_ALIKES = ["QImadmin", "QIMADMIN", "qim\u0430dmin", "\uff51\uff49\uff4d\uff41\uff44\uff4d\uff49\uff4e",
               "qimadmin\u200b", "\u200bqimadmin", "qimadmin ", "qimadm\u0456n"]


def _lax_state(state: Path) -> None:
    """A state folder left readable by an older hub or a careless copy."""
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    for name in ("jupyterhub.sqlite", "cookie_secret"):
        (state / name).write_bytes(b"" if name.endswith("sqlite") else secrets.token_hex(32).encode())
        (state / name).chmod(0o644)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp("hub"), admin_password_file=False, before_start=_lax_state)
    yield h
    h.stop()


def test_state_folder_and_database_are_private(hub):
    assert stat.S_IMODE(hub.state.stat().st_mode) == 0o700
    for name in ("jupyterhub.sqlite", "cookie_secret", "proxy_token", "jupyterhub.pid"):
        assert stat.S_IMODE((hub.state / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(hub.homes.stat().st_mode) == 0o711  # reach your folder, list none


def test_first_admin_cannot_be_squatted(hub):
    password = secrets.token_urlsafe(16)
    for name in [*LOOK_ALIKES, hub.admin]:  # the plain name, without the one-time link, too
        r = hub.sign_up(name, password, source="127.0.0.5")
        assert r.status_code == 200 and "alert-danger" in r.text, (name, r.text[-1500:])
        _, r = hub.log_in(name, password, source="127.0.0.5")
        assert r.status_code != 302, name
    hub.admin_password = secrets.token_urlsafe(16)
    r = hub.sign_up(hub.admin, hub.admin_password, path=hub.admin_signup_link())
    assert r.status_code == 200 and "successful" in r.text, r.text[-1500:]
    admin, _ = hub.user(hub.admin)  # signing up again with the same password: success
    users = hub.api(admin, "GET", "/users").json()
    assert [(u["name"], u["admin"]) for u in users] == [(hub.admin, True)]
    page = admin.get(f"{hub.url}/hub/authorize", timeout=30).text
    assert [n for n in LOOK_ALIKES if f">{n}<" in page] == []  # none was stored
    r = hub.sign_up("mallory", password, path=hub.admin_signup_link())
    assert "alert-info" in r.text  # the link makes nobody else admin ...
    _, r = hub.log_in("mallory", password)
    assert r.status_code != 302  # ... nor approved


def test_cross_site_get_does_not_approve_or_discard(hub):
    admin, _ = hub.user(hub.admin)
    password = secrets.token_urlsafe(16)
    assert hub.sign_up("pending", password).status_code == 200
    for action in ("authorize", "discard"):  # what a link or <img> on another site sends
        r = admin.get(f"{hub.url}/hub/{action}/pending", timeout=30, allow_redirects=False,
                      headers={"Referer": "https://evil.example/", "Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 405, (action, r.status_code)
        r = admin.post(f"{hub.url}/hub/{action}/pending", timeout=30, allow_redirects=False)
        assert r.status_code == 403, action  # a cross-site form has no XSRF token
    _, r = hub.log_in("pending", password)
    assert r.status_code != 302 and "not been authorized" in r.text  # still pending, not deleted
    assert hub.approve("pending").status_code == 302  # the admin's own form works
    _, r = hub.log_in("pending", password)
    assert r.status_code == 302
    attributes = {c.split("=")[0]: {a.strip() for a in c.split(";")[1:]}
                  for c in r.raw.headers.getlist("Set-Cookie")}
    assert {"jupyterhub-hub-login", "jupyterhub-session-id"} <= set(attributes)
    assert all("SameSite=Lax" in a for a in attributes.values()), attributes
    assert "HttpOnly" in attributes["jupyterhub-hub-login"] & attributes["jupyterhub-session-id"]


def test_wrong_passwords_do_not_lock_the_admin_out(hub):
    hub.user(hub.admin)
    spoof = {"X-Real-Ip": "10.9.9.9", "X-Forwarded-For": "10.9.9.9"}
    for i in range(5):
        s = hub.session("127.0.0.3", headers=spoof if i % 2 else {})
        r = s.post(f"{hub.url}/hub/login", timeout=30, allow_redirects=False,
                   data={"username": hub.admin.upper() if i % 3 else hub.admin,
                         "password": f"guess-{i}-wrong", "_xsrf": hub.xsrf(s)})
        assert r.status_code == 200 and "Invalid username or password" in r.text
    s = hub.session("127.0.0.3", headers=spoof)  # the guesser's address is blocked for that name,
    r = s.post(f"{hub.url}/hub/login", timeout=30, allow_redirects=False,
               data={"username": hub.admin, "password": hub.admin_password, "_xsrf": hub.xsrf(s)})
    assert r.status_code != 302 and "Too many failed logins" in r.text  # even with the right
    # password and forged address headers,
    _, r = hub.log_in(hub.admin, hub.admin_password)
    assert r.status_code == 302  # the admin's address is not
    _, r = hub.log_in(hub.admin, hub.admin_password, source="127.0.0.6")
    assert r.status_code == 302


def test_sign_ups_are_rate_limited(hub):
    password = secrets.token_urlsafe(16)
    answers = [hub.sign_up(f"bulk{i}", password, source="127.0.0.4").text for i in range(14)]
    accepted = sum("Your information has been sent to the admin" in a for a in answers)
    refused = sum("Too many sign-ups" in a for a in answers)
    assert (accepted, refused) == (10, 4)
    admin, _ = hub.user(hub.admin)
    page = admin.get(f"{hub.url}/hub/authorize", timeout=30).text
    assert len(re.findall(r">bulk\d+<", page)) == 10


def _probe_cell(paths: dict) -> str:
    return f"""
import glob, json, os, pwd
p = {json.dumps(paths)}
out = {{"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
       "user": pwd.getpwuid(os.getuid()).pw_name}}
sample = sorted(glob.glob(p["data"] + "/*.tif"))[0]
attacks = {{
    "read cookie secret": lambda: open(p["state"] + "/cookie_secret").read(),
    "read database": lambda: open(p["state"] + "/jupyterhub.sqlite", "rb").read(),
    "list state folder": lambda: os.listdir(p["state"]),
    "read hub environ": lambda: open(f"/proc/{{p['hub']}}/environ", "rb").read(),
    "read proxy environ": lambda: open(f"/proc/{{p['proxy']}}/environ", "rb").read(),
    "read other server environ": lambda: open(f"/proc/{{p['other_pid']}}/environ", "rb").read(),
    "list other home": lambda: os.listdir(p["other_home"]),
    "read other notebook": lambda: open(p["other_home"] + "/notebooks/getting_started.ipynb").read(),
    "list users folder": lambda: os.listdir(p["homes"]),
    "write into data_samples": lambda: open(p["data"] + "/new.txt", "w"),
    "overwrite a sample": lambda: open(sample, "r+b"),
    "append to data README": lambda: open(p["data"] + "/README.md", "a"),
    "write into shared": lambda: open(p["shared"] + "/new.txt", "w"),
    "overwrite shared file": lambda: open(p["shared"] + "/calibration.txt", "w"),
    "chmod shared file": lambda: os.chmod(p["shared"] + "/calibration.txt", 0o666),
    "move shared file": lambda: os.rename(p["shared"] + "/calibration.txt", "stolen.txt"),
    "change hub config": lambda: open(p["config"], "a"),
    "become root": lambda: os.setuid(0),
}}
for name, attack in attacks.items():
    try:
        attack()
        out[name] = "ALLOWED"
    except (OSError, PermissionError) as e:
        out[name] = type(e).__name__
print(json.dumps(out))
"""


def _terminal(hub, name: str, command: str) -> str:
    """Type ``command`` into a new terminal of ``name``'s server; the output up to END-42."""
    _, token = hub.user(name)
    r = hub.server_api(name, "POST", "/terminals")
    assert r.status_code == 200, r.text
    term = r.json()["name"]
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{hub.port}/user/{name}/terminals/websocket/{term}",
        header=[f"Authorization: token {token}"], timeout=60)
    try:
        ws.send(json.dumps(["stdin", command + "; echo END-$((40+2))\r"]))
        text, end = "", time.monotonic() + 60
        while "END-42" not in text and time.monotonic() < end:
            msg = json.loads(ws.recv())
            if msg[0] == "stdout":
                text += msg[1]
        return text
    finally:
        ws.close()
        hub.server_api(name, "DELETE", f"/terminals/{term}")


def test_kernels_and_terminals_are_unprivileged_and_isolated(hub):
    hub.spawn("bob")
    hub.spawn("alice")
    bob = hub.account("bob")
    bob_pid = next(pid for pid in hub.server_pids() if os.stat(f"/proc/{pid}").st_uid == bob.pw_uid)
    paths = {"state": str(hub.state), "hub": hub.proc.pid,
             "proxy": int((hub.state / "proxy.pid").read_text()), "other_pid": bob_pid,
             "other_home": str(hub.homes / "bob"), "homes": str(hub.homes),
             "data": str(Path(__file__).resolve().parents[1] / "data_samples"),
             "shared": str(hub.shared), "config": str(Path(__file__).resolve().parents[1]
                                                      / "jupyterhub_config.py")}
    out = json.loads(hub.run_cells("alice", "notebooks/getting_started.ipynb",
                                   [_probe_cell(paths)])[0])
    alice = hub.account("alice")
    assert (out.pop("uid"), out.pop("gid"), out.pop("user")) == (
        alice.pw_uid, alice.pw_gid, hub.account_prefix + "alice")
    assert alice.pw_uid != 0 and out.pop("groups") in ([], [alice.pw_gid])
    print("\nkernel attacks:", out)
    assert {k: v for k, v in out.items() if v == "ALLOWED"} == {}
    home = hub.homes / "alice"
    assert (home.stat().st_uid, stat.S_IMODE(home.stat().st_mode)) == (alice.pw_uid, 0o700)

    files = [hub.state / "cookie_secret", hub.state / "jupyterhub.sqlite",
             Path(f"/proc/{hub.proc.pid}/environ"), Path(f"/proc/{bob_pid}/environ"),
             hub.homes / "bob" / "notebooks" / "getting_started.ipynb"]
    targets = [Path(paths["data"]) / "x.txt", hub.shared / "x.txt", hub.shared / "calibration.txt"]
    command = ("echo UID=$(id -u); for f in " + " ".join(map(str, files)) + "; do cat \"$f\" "
               ">/dev/null 2>&1 && echo \"READ-OK $f\" || echo \"READ-DENIED $f\"; done; for f in "
               + " ".join(map(str, targets)) + "; do touch \"$f\" 2>/dev/null && echo "
               "\"WRITE-OK $f\" || echo \"WRITE-DENIED $f\"; done")
    text = _terminal(hub, "alice", command)
    assert re.search(r"UID=(\d+)", text).group(1) == str(alice.pw_uid)
    results = {path: result for result, path in re.findall(r"((?:READ|WRITE)-\w+) (/\S+)", text)}
    print("terminal attacks:", results)
    assert results == {**{str(f): "READ-DENIED" for f in files},
                       **{str(t): "WRITE-DENIED" for t in targets}}
    assert (hub.shared / "calibration.txt").read_text() == "mu = 0.21\n"
    assert sorted(p.name for p in hub.shared.iterdir()) == ["calibration.txt"]


def test_anonymous_access_to_every_route_family_is_refused(hub):
    hub.spawn("alice")
    api = ["/hub/api/users", "/hub/api/users/alice", "/hub/api/users/alice/tokens",
           "/hub/api/proxy", "/hub/api/services", "/hub/api/groups", "/hub/api/info",
           "/hub/api/authorizations/token"]
    pages = ["/hub/home", "/hub/admin", "/hub/token", "/hub/spawn/alice", "/hub/authorize",
             "/hub/change-password", "/hub/change-password/alice", "/hub/spawn-pending/alice"]
    server = ["/user/alice/api/contents", "/user/alice/api/kernels", "/user/alice/api/terminals",
              "/user/alice/api/sessions", "/user/alice/files/notebooks/getting_started.ipynb",
              "/user/alice/lab", "/user/alice/terminals/1"]
    answers = {}
    for path in api + pages + server:
        r = requests.get(f"{hub.url}{path}", timeout=30, allow_redirects=False)
        answers[path] = (r.status_code, r.headers.get("Location", ""))
    for path in ["/hub/authorize/alice", "/hub/discard/alice", "/hub/api/users/alice/server",
                 "/hub/api/users/alice/tokens", "/user/alice/api/kernels"]:
        r = requests.post(f"{hub.url}{path}", timeout=30, allow_redirects=False, json={})
        answers[f"POST {path}"] = (r.status_code, r.headers.get("Location", ""))
    for label, url in [("proxy API", f"http://127.0.0.1:{hub.proxy_api_port}/api/routes"),
                       ("hub port", f"http://127.0.0.1:{hub.api_port}/hub/api/users")]:
        answers[label] = (requests.get(url, timeout=30).status_code, "")
    print("\nanonymous answers:", answers)
    for path, (code, location) in answers.items():
        assert code in (401, 403, 404, 405) or (
            code == 302 and ("/hub/login" in location or "/hub/api/oauth2/authorize" in location)
        ), (path, code, location)


def test_tls_option_serves_https_with_secure_cookies(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to make a test certificate")
    cert, key = tmp_path / "hub.crt", tmp_path / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    tls = Hub(tmp_path, QIMCORE_HUB_SSL_CERT=str(cert), QIMCORE_HUB_SSL_KEY=str(key))
    try:
        assert tls.url.startswith("https://")
        _, r = tls.log_in(tls.admin, tls.admin_password)
        assert r.status_code == 302
        cookies = r.raw.headers.getlist("Set-Cookie")
        assert len(cookies) >= 2 and all("Secure" in c and "SameSite=Lax" in c for c in cookies)
        with pytest.raises(requests.ConnectionError):  # no plain http on the public port
            requests.get(f"http://127.0.0.1:{tls.port}/hub/login", timeout=10)
    finally:
        tls.stop()
