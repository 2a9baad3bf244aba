"""The Python bindings against a real server, run by
client-sdk-ffi/tests/bindings/python.rs (`cargo test -p client-sdk-ffi`).

The harness gives the server's address in ASA_SERVER and a scratch directory
in ASA_SCRATCH, and answers requests written as JSON lines on standard
output (accounts, the server's clock, disabling a user). This program's own
output goes to standard error.
"""

import datetime
import json
import os
import sys
import threading
import traceback
import uuid

import asa_sdk as asa

SERVER = os.environ["ASA_SERVER"]
SCRATCH = os.environ["ASA_SCRATCH"]
DAY_MS = 24 * 3600 * 1000


def ask(op, **args):
    """One request to the harness, one answer back."""
    print(json.dumps({"op": op, **args}), flush=True)
    return json.loads(sys.stdin.readline())


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def config(url=SERVER, **overrides):
    # Short backoffs, so that retries do not slow the tests.
    return asa.ClientConfig(server_url=url, backoff_base_ms=2, backoff_max_ms=20, **overrides)


def device(account, **overrides):
    """A new phone: its own database file, logged in as `account`."""
    path = os.path.join(SCRATCH, f"{uuid.uuid4()}.db")
    client = asa.AsaClient.open(path, config(**overrides))
    client.login(account["username"], account["password"])
    return client, path


def new_session(notes, **overrides):
    started = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7)))
    fields = dict(
        village_code="10010001",
        help_type="e_government",
        started_at=started.replace(microsecond=0).isoformat(),
        duration_min=30,
        people_helped=2,
        outcome="resolved",
        notes=notes,
    )
    fields.update(overrides)
    return asa.NewSession(**fields)


def text(value):
    assert isinstance(value, asa.FieldValue.TEXT), value
    return value.value


def raises(kind, code, call):
    """Runs `call`, which must raise AsaError of `kind` with `code`."""
    try:
        call()
    except kind as e:
        assert e.code == code, (e.code, e.detail)
        assert isinstance(e, asa.AsaError)
        return e
    raise AssertionError(f"expected {kind.__name__} {code}")


class Progress(asa.SyncObserver):
    """The app's side of a sync: every report it is told."""

    def __init__(self):
        self.reports = []

    def progress(self, report):
        self.reports.append(report)


class Broken(asa.SyncObserver):
    """An observer with a bug: it throws every time."""

    def __init__(self):
        self.calls = 0

    def progress(self, report):
        self.calls += 1
        raise RuntimeError("the progress bar is gone")


def test_offline_edits_reach_the_server_once_synced():
    vol = ask("account", role="volunteer", centre="C0001")
    boss = ask("account", role="manager", centre="C0001")
    phone, path = device(vol)
    user = phone.user()
    assert user.username == vol["username"] and user.role == asa.Role.VOLUNTEER
    assert user.centre_id == "C0001"
    del phone

    # In the field: the same database with no server in reach. Saving works;
    # a sync says the server is unreachable, and that trying later may help.
    offline = asa.AsaClient.open(path, config("http://127.0.0.1:9", max_attempts=2))
    sid = offline.create_session(new_session("ช่วยลงทะเบียนบัตรสวัสดิการ"))
    offline.edit(
        asa.Collection.SESSIONS,
        sid,
        [asa.FieldEdit(key=asa.Key.FIELD(name="duration_min"), value=asa.FieldValue.INT(value=45))],
    )
    assert offline.status(asa.Collection.SESSIONS, sid) == asa.SyncStatus.PENDING
    assert offline.pending_count() == 2
    e = raises(asa.AsaError.Unreachable, "unreachable", offline.sync)
    assert e.is_retryable
    del offline

    # Back in signal: everything saved goes up once, with a running report.
    phone = asa.AsaClient.open(path, config())
    progress = Progress()
    report = phone.sync_with(asa.SyncOptions(), progress)
    assert (report.pushed, report.acked, report.pending) == (2, 2, 0), report
    assert progress.reports, "the observer was told"
    assert progress.reports[-1].acked == report.acked
    assert all(a.bytes_sent <= b.bytes_sent for a, b in zip(progress.reports, progress.reports[1:]))
    record = phone.record(asa.Collection.SESSIONS, sid)
    assert record.status == asa.SyncStatus.SYNCED
    assert record.fields["duration_min"] == asa.FieldValue.INT(value=45)
    assert text(record.fields["notes"]) == "ช่วยลงทะเบียนบัตรสวัสดิการ"

    # The manager's phone gets it, and a second sync of the volunteer's is empty.
    manager, _ = device(boss)
    assert manager.sync().pulled == 2
    seen = manager.record(asa.Collection.SESSIONS, sid)
    assert seen.fields["duration_min"] == asa.FieldValue.INT(value=45)
    again = phone.sync()
    assert (again.pushed, again.pulled) == (0, 0), again

    # An observer that throws does not stop the sync.
    phone.create_session(new_session("ผู้สังเกตพัง"))
    broken = Broken()
    report = phone.sync_with(asa.SyncOptions(), broken)
    assert report.acked == 1 and broken.calls > 0, (report, broken.calls)


def test_a_conflict_made_by_two_phones_is_shown_and_resolved_everywhere():
    vol = ask("account", role="volunteer", centre="C0002")
    boss = ask("account", role="manager", centre="C0002")
    a, _ = device(vol)
    m, _ = device(boss)
    sid = a.create_session(new_session("เดิม"))
    a.sync()
    m.sync()
    notes = asa.Key.FIELD(name="notes")
    a.edit(asa.Collection.SESSIONS, sid, [asa.FieldEdit(key=notes, value=asa.FieldValue.TEXT(value="จากอาสา"))])
    m.edit(asa.Collection.SESSIONS, sid, [asa.FieldEdit(key=notes, value=asa.FieldValue.TEXT(value="จากผู้จัดการ"))])
    a.sync()
    assert m.sync().conflicts == 1
    a.sync()
    for phone in (a, m):
        [conflict] = phone.conflicts()
        assert conflict.key == notes and conflict.record_id == sid
        values = sorted(text(h.value) for h in conflict.heads)
        assert values == ["จากผู้จัดการ", "จากอาสา"], values
        assert {h.author for h in conflict.heads} == {vol["id"], boss["id"]}

    # Nothing to resolve on a key that is not in conflict: a typed error.
    raises(
        asa.AsaError.NotFound,
        "no_conflict",
        lambda: m.resolve(asa.Collection.SESSIONS, sid, asa.Key.FIELD(name="duration_min"), asa.FieldValue.INT(value=5)),
    )
    m.resolve(asa.Collection.SESSIONS, sid, notes, asa.FieldValue.TEXT(value="ตกลงกันแล้ว"))
    m.sync()
    a.sync()
    for phone in (a, m):
        assert phone.conflicts() == []
        assert text(phone.record(asa.Collection.SESSIONS, sid).fields["notes"]) == "ตกลงกันแล้ว"


def test_a_change_the_server_refuses_is_listed_with_its_code():
    vol = ask("account", role="volunteer", centre="C0003")
    phone, _ = device(vol)
    year = datetime.date.today().year
    # The phone is in this year; the server's clock is a year and more
    # behind, so a person born this year is, to the server, born in its future.
    ask("set_clock", offset_ms=-400 * DAY_MS)
    try:
        baby = phone.create_beneficiary(
            asa.NewBeneficiary(village_code="10010001", display_name="เด็กเกิดใหม่", birth_year=year, consent=True)
        )
        adult = phone.create_beneficiary(asa.NewBeneficiary(village_code="10010001", display_name="ผู้ใหญ่", consent=True))
        report = phone.sync()
    finally:
        ask("set_clock", offset_ms=0)
    assert (report.acked, report.rejected) == (2, 1), report
    [rejected] = phone.rejected()
    assert rejected.record_id == baby and rejected.code == "out_of_range", rejected
    assert "birth_year" in rejected.detail
    assert phone.status(asa.Collection.BENEFICIARIES, baby) == asa.SyncStatus.REJECTED
    assert phone.status(asa.Collection.BENEFICIARIES, adult) == asa.SyncStatus.SYNCED
    assert phone.dismiss_rejected(rejected.change_id)
    assert phone.rejected() == []


def test_a_data_budget_is_a_ceiling_and_the_rest_follows_later():
    vol = ask("account", role="volunteer", centre="C0004")
    phone, _ = device(vol, batch_size=10)
    for i in range(40):
        phone.create_session(new_session(f"บันทึกที่ {i} " + "ข้อมูล" * (i % 9)))
    budget = 3000
    acked, syncs = 0, 0
    while True:
        progress = Progress()
        report = phone.sync_with(asa.SyncOptions(byte_budget=budget), progress)
        for r in progress.reports + [report]:
            assert r.bytes_sent + r.bytes_received <= budget, r
        acked += report.acked
        assert report.pending == 40 - acked, report
        syncs += 1
        if not report.budget_exhausted:
            break
        assert syncs < 40, "every sync makes progress"
    assert syncs > 2, syncs
    assert phone.pending_count() == 0


def test_errors_are_typed_exceptions_with_stable_codes():
    vol = ask("account", role="volunteer", centre="C0005")
    phone, _ = device(vol)
    e = raises(asa.AsaError.Invalid, "invalid_value", lambda: phone.create_session(new_session("x", village_code="12")))
    assert not e.is_retryable and "village_code" in e.detail
    raises(
        asa.AsaError.Invalid,
        "consent_required",
        lambda: phone.create_beneficiary(asa.NewBeneficiary(village_code="10010001", display_name="ไม่ยินยอม", consent=False)),
    )
    raises(asa.AsaError.InvalidArgument, "invalid_id", lambda: phone.record(asa.Collection.SESSIONS, "not-a-uuid"))
    raises(asa.AsaError.NotFound, "not_found", lambda: phone.delete(asa.Collection.SESSIONS, str(uuid.uuid4())))
    # A set member is a typed key; its id must be one.
    sid = phone.create_session(new_session("ลิงก์"))
    person = phone.create_beneficiary(asa.NewBeneficiary(village_code="10010001", display_name="สมศรี", consent=True))
    raises(
        asa.AsaError.InvalidArgument,
        "invalid_id",
        lambda: phone.edit(asa.Collection.SESSIONS, sid, [asa.FieldEdit(key=asa.Key.MEMBER(set="beneficiary_ids", id="x"), value=asa.FieldValue.BOOL(value=True))]),
    )
    # Search before create: the same person, written with a title and a slip.
    [similar] = phone.similar_beneficiaries("นางสมศรี", "10010001", None)
    assert similar.record.id == person and similar.reason == asa.Likeness.SIMILAR_NAME, similar
    assert phone.similar_beneficiaries("ประยุทธ", "10010001", None) == []
    phone.link_beneficiary(sid, person, True)
    assert phone.record(asa.Collection.SESSIONS, sid).sets["beneficiary_ids"] == [person]
    wrong = asa.AsaClient.open(os.path.join(SCRATCH, "wrong.db"), config())
    raises(asa.AsaError.Login, "invalid_credentials", lambda: wrong.login(vol["username"], "not the password"))
    raises(asa.AsaError.Login, "not_logged_in", wrong.sync)
    raises(asa.AsaError.InvalidArgument, "invalid_server_url", lambda: asa.AsaClient.open(os.path.join(SCRATCH, "x.db"), config("ftp://x")))
    assert "e_government" in asa.help_types() and "resolved" in asa.outcomes()


def test_one_client_is_shared_by_threads():
    vol = ask("account", role="volunteer", centre="C0006")
    phone, _ = device(vol, batch_size=5)
    errors = []

    def save(worker):
        try:
            for i in range(10):
                phone.create_session(new_session(f"เธรด {worker} ครั้ง {i}"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    workers = [threading.Thread(target=save, args=(w,)) for w in range(4)]
    for w in workers:
        w.start()
    synced = 0
    while any(w.is_alive() for w in workers):
        synced += phone.sync().acked
    for w in workers:
        w.join()
    synced += phone.sync().acked
    assert errors == [], errors
    assert synced == 40 and phone.pending_count() == 0, synced
    assert len(phone.records(asa.Collection.SESSIONS, asa.Query())) == 40


def test_a_revoked_login_keeps_what_the_phone_saved():
    vol = ask("account", role="volunteer", centre="C0007")
    phone, _ = device(vol)
    phone.create_session(new_session("ก่อนถูกระงับ"))
    phone.sync()
    assert ask("disable", id=vol["id"])["status"] == 200
    phone.create_session(new_session("หลังถูกระงับ"))
    e = raises(asa.AsaError.Login, "token_revoked", phone.sync)
    assert not e.is_retryable
    assert phone.pending_count() == 1, "the outbox is kept"
    raises(asa.AsaError.Login, "account_disabled", lambda: phone.login(vol["username"], vol["password"]))


def test_an_expired_login_is_refreshed_then_asks_to_log_in_again():
    # Last: it moves the server's clock two months on.
    vol = ask("account", role="volunteer", centre="C0008")
    phone, _ = device(vol)
    phone.create_session(new_session("ก่อนออฟไลน์"))
    phone.sync()
    # Three days offline: the access token is long dead, refreshed unseen.
    ask("advance", ms=3 * DAY_MS)
    phone.create_session(new_session("หลังออฟไลน์"))
    assert phone.sync().acked == 1
    # Past the refresh token's 60 days the user must log in; nothing is lost.
    ask("advance", ms=61 * DAY_MS)
    phone.create_session(new_session("นานมาก"))
    raises(asa.AsaError.Login, "refresh_token_expired", phone.sync)
    assert phone.pending_count() == 1
    phone.login(vol["username"], vol["password"])
    assert phone.sync().acked == 1


def main():
    tests = [(name, f) for name, f in globals().items() if name.startswith("test_")]
    failed = []
    for name, test in tests:
        try:
            test()
            log(f"python: {name} ... ok")
        except Exception:  # noqa: BLE001 - every failure is reported
            failed.append(name)
            log(f"python: {name} ... FAILED")
            traceback.print_exc(file=sys.stderr)
    log(f"python: {len(tests) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
