#!/usr/bin/env python3
"""Schemathesis against a real asa-server, once per role.

For each of admin, manager and volunteer: a fresh server on 127.0.0.1:0
over a new data directory (so a run's destructive calls, such as disabling
users, cannot spoil the next one), a centre with a manager, a volunteer and
some of their data, then `schemathesis run` over every operation of
/openapi.json with that role's token. Exits non-zero if any run fails.

Usage: run.py SERVER_BINARY SCHEMATHESIS_BINARY [SECONDS_PER_RUN]
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ADMIN_PASSWORD = "schemathesis admin password"
PASSWORD = "schemathesis user password"


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


def login(base, username, password):
    device = str(uuid.uuid4())
    answer = call(base, "POST", "/v1/auth/login",
                  {"username": username, "password": password, "device_id": device})
    return answer["access_token"], device, answer["user"]["id"]


def hlc(device, counter):
    ms = int(datetime.now(timezone.utc).timestamp() * 1000)
    return f"{ms:013d}-{counter:04x}-{device}"


def seed(base):
    """A centre, its manager and volunteer, a session and a beneficiary."""
    admin, _, _ = login(base, "admin", ADMIN_PASSWORD)
    call(base, "POST", "/v1/admin/centres",
         {"code": "C0001", "name": "ศูนย์ดิจิทัลชุมชนบ้านแม่ริม",
          "province": "เชียงใหม่", "district": "แม่ริม"}, admin)
    for role in ("manager", "volunteer"):
        call(base, "POST", "/v1/admin/users",
             {"username": role + "1", "password": PASSWORD, "role": role,
              "centre_id": "C0001", "display_name": "ผู้ใช้ " + role}, admin)
    token, device, me = login(base, "volunteer1", PASSWORD)
    person = str(uuid.uuid4())
    changes = [
        {"id": str(uuid.uuid4()), "device_seq": 1, "collection": "beneficiaries",
         "record_id": person, "hlc": hlc(device, 1),
         "fields": {"centre_id": {"value": "C0001"}, "village_code": {"value": "50010203"},
                    "display_name": {"value": "นางมาลี ใจดี"}, "phone": {"value": "0812345678"},
                    "consent": {"value": True}}},
        {"id": str(uuid.uuid4()), "device_seq": 2, "collection": "sessions",
         "record_id": str(uuid.uuid4()), "hlc": hlc(device, 2),
         "fields": {"centre_id": {"value": "C0001"}, "volunteer_id": {"value": me},
                    "village_code": {"value": "50010203"}, "help_type": {"value": "welfare_rights"},
                    "started_at": {"value": "2026-11-28T09:30:00+07:00"},
                    "duration_min": {"value": 45}, "people_helped": {"value": 2},
                    "notes": {"value": "ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ"},
                    "beneficiary_ids/" + person: {"value": True}}},
    ]
    call(base, "POST", "/v1/sync/push",
         {"device_id": device, "device_time": datetime.now(timezone.utc).isoformat(),
          "changes": changes}, token)


def start(binary, data_dir):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ASA_DATA_DIR": data_dir,
        "ASA_DATABASE_URL": "sqlite://" + os.path.join(data_dir, "asa.db") + "?synchronous=normal",
        "ASA_BIND": "127.0.0.1:0",
        "ASA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "RUST_LOG": "error",
    }
    server = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    for line in server.stdout:
        if line.startswith("asa-server listening on port "):
            return server, "http://127.0.0.1:" + line.split()[-1]
    server.kill()
    raise SystemExit("asa-server did not start")


def main():
    binary, schemathesis = sys.argv[1], sys.argv[2]
    seconds = sys.argv[3] if len(sys.argv) > 3 else "60"
    failed = []
    for role, username, password in (("admin", "admin", ADMIN_PASSWORD),
                                     ("manager", "manager1", PASSWORD),
                                     ("volunteer", "volunteer1", PASSWORD)):
        with tempfile.TemporaryDirectory() as data_dir:
            server, base = start(binary, data_dir)
            try:
                seed(base)
                token, _, _ = login(base, username, password)
                print(f"== schemathesis as {role} against {base}", flush=True)
                run = subprocess.run(
                    [schemathesis, "--config-file", os.path.join(HERE, "schemathesis.toml"),
                     "--no-color", "run", base + "/openapi.json",
                     "--header", "Authorization: Bearer " + token,
                     "--max-time", seconds,
                     "--seed", os.environ.get("ASA_SCHEMATHESIS_SEED", "1"),
                     "--workers", "1"],
                    check=False)
                if run.returncode != 0:
                    failed.append(role)
            finally:
                server.terminate()
                server.wait(timeout=30)
    if failed:
        raise SystemExit("schemathesis failed as: " + ", ".join(failed))
    print("schemathesis passed as admin, manager and volunteer")


if __name__ == "__main__":
    main()
