"""The Python side of benches/bindings.rs: one round of timed saves and one
timed sync through the bindings, handed to the harness as figures."""

import json
import os
import sys
import time
import uuid

import asa_sdk as asa


def ask(op, **args):
    print(json.dumps({"op": op, **args}), flush=True)
    return json.loads(sys.stdin.readline())


def session(i):
    return asa.NewSession(
        village_code=f"500102{i % 100:02}",
        help_type="welfare_rights",
        started_at="2026-11-28T09:30:00+07:00",
        duration_min=30 + i % 60,
        people_helped=1 + i % 5,
        outcome="resolved",
        notes=f"ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ ครั้งที่ {i}",
    )


def main():
    warmup, saves = int(os.environ["ASA_WARMUP"]), int(os.environ["ASA_SAVES"])
    who = ask("account", role="volunteer", centre="C0001")
    path = os.path.join(os.environ["ASA_SCRATCH"], f"python-{uuid.uuid4()}.db")
    client = asa.AsaClient.open(path, asa.ClientConfig(server_url=os.environ["ASA_SERVER"]))
    client.login(who["username"], who["password"])
    for i in range(warmup):
        client.create_session(session(i))
    client.sync()
    # The inputs are made before the clock starts, as in the Rust round: the
    # figure is the call, the binding's conversions and the save.
    inputs = [session(i) for i in range(saves)]
    timings = []
    for s in inputs:
        start = time.perf_counter_ns()
        client.create_session(s)
        timings.append(time.perf_counter_ns() - start)
    start = time.perf_counter_ns()
    report = client.sync()
    sync_ns = time.perf_counter_ns() - start
    assert report.acked == saves, report
    ask("figures", saves_ns=timings, sync_ns=[sync_ns])


if __name__ == "__main__":
    main()
