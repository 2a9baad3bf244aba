//! Conformance: reads. One small world of three centres, pushed through the
//! server's own push algorithm, read back through every read of the store:
//! pull pages and cursors in each scope (checked against the access rules of
//! `sync_core`), record lists and counts with each filter and order, one
//! record, the summary and programme reports, and a record's history.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use crate::sync::minimise::Reader;
use serde_json::json;
use sync_core::{ChangeDto, Collection, Field, Key, PushStatus, Role, Value};
use uuid::Uuid;

use super::{actor, centre, change, conformance, push, Actor, Fixture};
use crate::store::{
    GroupFigures, PullPage, PullQuery, ReadScope, RecordQuery, Store, Summary, SummaryQuery,
    VolunteerFigures, WeekFigures,
};

const C1: &str = "C0001";
const C2: &str = "C0002";
/// A centre with no records.
const C3: &str = "C0003";
const VILLAGE_A: &str = "50010203";
const VILLAGE_B: &str = "50010204";
const VILLAGE_C: &str = "50020101";

/// Someone pushing, with their device's next sequence number.
struct Who {
    actor: Actor,
    seq: Cell<u64>,
}

impl Who {
    fn new(store: &dyn Store, username: &str, role: Role, centre: Option<&str>) -> Who {
        Who {
            actor: actor(store, username, role, centre),
            seq: Cell::new(0),
        }
    }

    fn id(&self) -> String {
        self.actor.principal.user_id.to_string()
    }

    fn scope(&self) -> ReadScope {
        crate::routes::read_scope(&self.actor.principal).expect("a scope")
    }
}

/// A record as the access rules judge it.
#[derive(Debug, Clone)]
struct Owner {
    collection: Collection,
    centre: String,
    volunteer: Option<String>,
}

/// What one session writes.
struct Session<'a> {
    day: &'a str,
    help_type: &'a str,
    village: &'a str,
    people: i64,
    minutes: i64,
    outcome: Option<&'a str>,
    beneficiaries: &'a [Uuid],
}

/// What the world's pushes wrote, as the tests check it.
#[derive(Default)]
struct Log {
    /// Every change pushed, in push order, with its record.
    changes: Vec<(Uuid, Uuid)>,
    /// Each change's device.
    devices: HashMap<Uuid, Uuid>,
    owners: HashMap<Uuid, Owner>,
}

impl Log {
    /// Pushes one change of `who` (alone, so records get their keys in the
    /// order they are made) and checks that it applied.
    fn write(
        &mut self,
        store: &dyn Store,
        who: &Who,
        collection: Collection,
        record: Uuid,
        fields: serde_json::Value,
    ) {
        let seq = who.seq.get() + 1;
        who.seq.set(seq);
        let dto = change(&who.actor, seq, collection.name(), record, fields);
        let outcome = push(store, &who.actor, std::slice::from_ref(&dto));
        assert_eq!(
            outcome.results[0].status,
            PushStatus::Applied,
            "{:?}",
            outcome.results[0]
        );
        let id: Uuid = dto.id.parse().expect("canonical");
        self.changes.push((id, record));
        self.devices.insert(id, who.actor.device);
        let centre = dto.fields.get("centre_id").and_then(|w| w.value.as_str());
        if let Some(centre) = centre {
            self.owners.entry(record).or_insert(Owner {
                collection,
                centre: centre.to_owned(),
                volunteer: (collection == Collection::Sessions).then(|| who.id()),
            });
        }
    }

    fn beneficiary(&mut self, store: &dyn Store, who: &Who, village: &str, name: &str) -> Uuid {
        let record = Uuid::now_v7();
        let fields = json!({
            "centre_id": {"value": who.actor.principal.centre_id},
            "village_code": {"value": village},
            "display_name": {"value": name},
            "consent": {"value": true},
        });
        self.write(store, who, Collection::Beneficiaries, record, fields);
        record
    }

    fn session(&mut self, store: &dyn Store, who: &Who, s: &Session<'_>) -> Uuid {
        let record = Uuid::now_v7();
        let mut fields = json!({
            "centre_id": {"value": who.actor.principal.centre_id},
            "volunteer_id": {"value": who.actor.principal.user_id},
            "village_code": {"value": s.village},
            "help_type": {"value": s.help_type},
            "started_at": {"value": format!("{}T09:30:00+07:00", s.day)},
            "duration_min": {"value": s.minutes},
            "people_helped": {"value": s.people},
        });
        if let Some(outcome) = s.outcome {
            fields["outcome"] = json!({ "value": outcome });
        }
        for b in s.beneficiaries {
            fields[format!("beneficiary_ids/{b}")] = json!({"value": true});
        }
        self.write(store, who, Collection::Sessions, record, fields);
        record
    }
}

fn session<'a>(
    day: &'a str,
    help_type: &'a str,
    village: &'a str,
    people: i64,
    minutes: i64,
    outcome: Option<&'a str>,
    beneficiaries: &'a [Uuid],
) -> Session<'a> {
    Session {
        day,
        help_type,
        village,
        people,
        minutes,
        outcome,
        beneficiaries,
    }
}

/// The world every test reads (see [`world`]).
struct World<'f> {
    store: &'f dyn Store,
    somchai: Who,
    somsri: Who,
    malee: Who,
    manee: Who,
    nobody: Who,
    boss: Who,
    b1: Uuid,
    b2: Uuid,
    b3: Uuid,
    s1: Uuid,
    s2: Uuid,
    s3: Uuid,
    s4: Uuid,
    s5: Uuid,
    s6: Uuid,
    log: Log,
}

impl World<'_> {
    /// Every change's id, in push order.
    fn everything(&self) -> Vec<Uuid> {
        self.log.changes.iter().map(|(id, _)| *id).collect()
    }

    /// The ids of the changes the access rules let `who` read, in log order.
    fn readable(&self, who: &Who) -> Vec<Uuid> {
        self.log
            .changes
            .iter()
            .filter(|(_, record)| {
                let o = &self.log.owners[record];
                who.actor.principal.may_read(
                    o.collection,
                    Some(o.centre.as_str()),
                    o.volunteer.as_deref(),
                )
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// The records of the changes `who` may read, sorted.
    fn readable_records(&self, who: &Who) -> Vec<Uuid> {
        let mut records: Vec<Uuid> = self
            .readable(who)
            .iter()
            .map(|id| self.log.changes.iter().find(|(c, _)| c == id).unwrap().1)
            .collect();
        records.sort();
        records.dedup();
        records
    }

    /// Every change's position in the log, from the records' histories.
    fn positions(&self) -> HashMap<Uuid, i64> {
        let mut out = HashMap::new();
        for (record, owner) in &self.log.owners {
            for entry in self
                .store
                .record_history(owner.collection, *record)
                .unwrap()
            {
                out.insert(change_id(&entry.body), entry.seq);
            }
        }
        assert_eq!(
            out.len(),
            self.log.changes.len(),
            "every change in a history"
        );
        out
    }

    /// The end of the log.
    fn end(&self) -> i64 {
        self.positions().values().copied().max().unwrap_or(0)
    }
}

fn change_id(body: &str) -> Uuid {
    let dto: ChangeDto = serde_json::from_str(body).expect("a change");
    dto.id.parse().expect("canonical id")
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

/// Three centres (the third without records), three volunteers, a manager
/// of the first centre and one of the third, an admin; three beneficiaries
/// and six sessions, one of them deleted, two of them in conflict on their
/// notes, and one beneficiary in conflict on its name.
fn world(f: &Fixture) -> World<'_> {
    let store = f.store.as_ref();
    for code in [C1, C2, C3] {
        centre(store, code);
    }
    let somchai = Who::new(store, "somchai", Role::Volunteer, Some(C1));
    let somsri = Who::new(store, "somsri", Role::Volunteer, Some(C1));
    let malee = Who::new(store, "malee", Role::Volunteer, Some(C2));
    let manee = Who::new(store, "manee", Role::Manager, Some(C1));
    let mut log = Log::default();
    let b1 = log.beneficiary(store, &somchai, VILLAGE_A, "นางมาลี ใจดี");
    let b2 = log.beneficiary(store, &somsri, VILLAGE_B, "นายสมศักดิ์ รักดี");
    let b3 = log.beneficiary(store, &malee, VILLAGE_C, "นางสาวปราณี มีสุข");
    let s1 = log.session(
        store,
        &somchai,
        &session(
            "2026-11-02",
            "digital_literacy",
            VILLAGE_A,
            2,
            30,
            Some("resolved"),
            &[b1, b2],
        ),
    );
    let s2 = log.session(
        store,
        &somchai,
        &session(
            "2026-11-08",
            "welfare_rights",
            VILLAGE_B,
            3,
            45,
            Some("referred"),
            &[b1],
        ),
    );
    let s3 = log.session(
        store,
        &somsri,
        &session(
            "2026-11-09",
            "digital_literacy",
            VILLAGE_A,
            1,
            60,
            Some("resolved"),
            &[b2],
        ),
    );
    let s4 = log.session(
        store,
        &somsri,
        &session("2026-11-10", "e_government", VILLAGE_A, 4, 20, None, &[]),
    );
    let s5 = log.session(
        store,
        &malee,
        &session("2026-11-04", "other", VILLAGE_C, 5, 15, None, &[b3]),
    );
    // The same day as s3, made after it.
    let s6 = log.session(
        store,
        &somsri,
        &session(
            "2026-11-09",
            "welfare_rights",
            VILLAGE_B,
            2,
            10,
            None,
            &[b1],
        ),
    );
    // Conflicts: the manager writes without having seen the value before.
    let notes = |text: &str| json!({"notes": {"value": text}});
    log.write(
        store,
        &somchai,
        Collection::Sessions,
        s2,
        notes("ช่วยลงทะเบียน"),
    );
    log.write(store, &manee, Collection::Sessions, s2, notes("ส่งต่ออำเภอ"));
    log.write(store, &somsri, Collection::Sessions, s4, notes("นัดใหม่"));
    log.write(store, &manee, Collection::Sessions, s4, notes("ยกเลิก"));
    let deleted = json!({"_deleted": {"value": true}});
    log.write(store, &somsri, Collection::Sessions, s4, deleted);
    let renamed = json!({"display_name": {"value": "นายสมศักดิ์ รักดีมาก"}});
    log.write(store, &manee, Collection::Beneficiaries, b2, renamed);
    World {
        store,
        somchai,
        somsri,
        malee,
        manee,
        nobody: Who::new(store, "nobody", Role::Manager, Some(C3)),
        boss: Who::new(store, "boss", Role::Admin, None),
        b1,
        b2,
        b3,
        s1,
        s2,
        s3,
        s4,
        s5,
        s6,
        log,
    }
}

fn pull(store: &dyn Store, scope: ReadScope, after: i64, limit: usize) -> PullPage {
    store
        .pull(&PullQuery {
            after_seq: after,
            limit,
            max_bytes: None,
            scope,
            exclude_device: None,
            reader: Reader::everything(),
        })
        .expect("pull")
}

fn ids(page: &PullPage) -> Vec<Uuid> {
    page.bodies.iter().map(|b| change_id(b)).collect()
}

/// Every page of a pull in pages of `query.limit`, checked page by page: a
/// page that says more follow is full and its cursor is its last change's
/// position; the last page's cursor is the end of the log.
fn pull_pages(w: &World<'_>, query: &PullQuery) -> Vec<Vec<Uuid>> {
    let positions = w.positions();
    let end = positions.values().copied().max().unwrap_or(0);
    let mut q = query.clone();
    let mut pages = Vec::new();
    loop {
        let page = w.store.pull(&q).expect("pull");
        let got = ids(&page);
        assert!(got.len() <= q.limit, "a page holds at most its limit");
        assert!(got.iter().all(|id| positions[id] > q.after_seq));
        if page.has_more {
            assert_eq!(got.len(), q.limit, "only a full page has more");
            assert_eq!(page.next_after_seq, positions[got.last().unwrap()]);
        } else {
            assert_eq!(
                page.next_after_seq, end,
                "the last page ends at the log's end"
            );
        }
        pages.push(got);
        q.after_seq = page.next_after_seq;
        if !page.has_more {
            return pages;
        }
        assert!(pages.len() < 100, "the pull ends");
    }
}

fn pages_of(limit: usize, scope: ReadScope, exclude_device: Option<Uuid>) -> PullQuery {
    PullQuery {
        after_seq: 0,
        limit,
        max_bytes: None,
        scope,
        exclude_device,
        reader: Reader::everything(),
    }
}

fn lengths(pages: &[Vec<Uuid>]) -> Vec<usize> {
    pages.iter().map(Vec::len).collect()
}

fn pulls_page_through_the_log_in_push_order(f: &Fixture) {
    let w = world(f);
    let everything = w.everything();
    assert_eq!(everything.len(), 15);
    let all = pull(w.store, ReadScope::All, 0, 1000);
    assert_eq!(ids(&all), everything);
    assert!(!all.has_more);
    assert_eq!(all.next_after_seq, w.end());
    let positions = w.positions();
    assert!(
        everything
            .windows(2)
            .all(|p| positions[&p[0]] < positions[&p[1]]),
        "positions follow push order"
    );

    let pages = pull_pages(&w, &pages_of(4, ReadScope::All, None));
    assert_eq!(lengths(&pages), [4, 4, 4, 3]);
    assert_eq!(pages.concat(), everything);
    let pages = pull_pages(&w, &pages_of(5, ReadScope::All, None));
    assert_eq!(lengths(&pages), [5, 5, 5], "no empty page after a full one");
    assert_eq!(pages.concat(), everything);
    let pages = pull_pages(&w, &pages_of(1, ReadScope::All, None));
    assert_eq!(pages.len(), 15);
    assert_eq!(pages.concat(), everything);

    // From the middle: what follows the cursor, nothing before it.
    let middle = positions[&everything[6]];
    let rest = pull(w.store, ReadScope::All, middle, 1000);
    assert_eq!(ids(&rest), everything[7..]);
    // At the end, and past it: nothing, the cursor kept.
    let end = w.end();
    let at_end = pull(w.store, ReadScope::All, end, 10);
    assert_eq!(
        (at_end.bodies.len(), at_end.has_more, at_end.next_after_seq),
        (0, false, end)
    );
    let past = pull(w.store, ReadScope::All, end + 100, 10);
    assert_eq!(
        (past.bodies.len(), past.has_more, past.next_after_seq),
        (0, false, end + 100)
    );
}

fn each_scope_pulls_what_the_access_rules_allow(f: &Fixture) {
    let w = world(f);
    for who in [
        &w.somchai, &w.somsri, &w.malee, &w.manee, &w.nobody, &w.boss,
    ] {
        let expected = w.readable(who);
        for limit in [1, 3, 1000] {
            let got = pull_pages(&w, &pages_of(limit, who.scope(), None)).concat();
            assert_eq!(
                got, expected,
                "{:?} in pages of {limit}",
                who.actor.principal
            );
        }
    }
    // The rules, spelled out: a volunteer reads their own sessions (with
    // the edits others made to them) and their centre's beneficiaries; a
    // manager their centre; another centre nothing.
    assert_eq!(
        w.readable_records(&w.somchai),
        sorted(vec![w.b1, w.b2, w.s1, w.s2])
    );
    assert_eq!(
        w.readable(&w.somchai).len(),
        7,
        "with the manager's note on s2"
    );
    assert_eq!(
        w.readable_records(&w.somsri),
        sorted(vec![w.b1, w.b2, w.s3, w.s4, w.s6])
    );
    assert_eq!(w.readable_records(&w.malee), sorted(vec![w.b3, w.s5]));
    assert_eq!(
        w.readable_records(&w.manee),
        sorted(vec![w.b1, w.b2, w.s1, w.s2, w.s3, w.s4, w.s6])
    );
    assert!(w.readable(&w.nobody).is_empty());
    assert_eq!(w.readable(&w.boss), w.everything());
    // A scope that reads nothing new still moves its cursor to the end.
    let page = pull(w.store, w.nobody.scope(), 0, 10);
    assert_eq!(
        (page.bodies.len(), page.has_more, page.next_after_seq),
        (0, false, w.end())
    );
    // malee's last change is early in the log; the rest is another centre's.
    let positions = w.positions();
    let hers = *w.readable(&w.malee).last().unwrap();
    assert!(positions[&hers] < w.end());
    let page = pull(w.store, w.malee.scope(), positions[&hers], 10);
    assert_eq!(
        (page.bodies.len(), page.has_more, page.next_after_seq),
        (0, false, w.end())
    );
}

fn a_pull_can_leave_out_the_callers_own_device(f: &Fixture) {
    let w = world(f);
    for (who, scope) in [
        (&w.somchai, ReadScope::All),
        (&w.somchai, w.somchai.scope()),
        (&w.somsri, w.somsri.scope()),
        (&w.manee, w.manee.scope()),
    ] {
        let device = who.actor.device;
        let readable = w.readable(who);
        let expected: Vec<Uuid> = w
            .everything()
            .into_iter()
            .filter(|id| w.log.devices[id] != device)
            .filter(|id| scope == ReadScope::All || readable.contains(id))
            .collect();
        assert!(!expected.is_empty());
        for limit in [2, 1000] {
            let got = pull_pages(&w, &pages_of(limit, scope.clone(), Some(device))).concat();
            assert_eq!(
                got, expected,
                "{:?} without its own device",
                who.actor.principal
            );
        }
    }
    // somchai's scope without his device: what the others wrote in it.
    let query = pages_of(1000, w.somchai.scope(), Some(w.somchai.actor.device));
    let without = w.store.pull(&query).unwrap();
    assert_eq!(
        ids(&without).len(),
        3,
        "b2, its new name and the manager's note on s2"
    );
    assert_eq!(without.next_after_seq, w.end());
    // A device the store never saw leaves nothing out.
    let query = pages_of(1000, ReadScope::All, Some(Uuid::now_v7()));
    assert_eq!(ids(&w.store.pull(&query).unwrap()), w.everything());
}

/// The ids a records query lists (in one page) and checks that it counts as
/// many, whatever its page.
fn listed(store: &dyn Store, q: &RecordQuery) -> Vec<Uuid> {
    let page = store.list_records(q).expect("list");
    assert_eq!(page.next_after_key, None, "one page");
    let ids: Vec<Uuid> = page.records.iter().map(|r| r.id).collect();
    for r in &page.records {
        assert_eq!(r.collection, q.collection);
    }
    let mut paged = q.clone();
    paged.limit = 1;
    paged.offset = 1;
    assert_eq!(
        store.count_records(&paged).expect("count"),
        ids.len() as u64,
        "count of {q:?}"
    );
    ids
}

fn records_lists_and_counts_apply_each_filter(f: &Fixture) {
    let w = world(f);
    let store = w.store;
    let (s1, s2, s3, s4, s5, s6) = (w.s1, w.s2, w.s3, w.s4, w.s5, w.s6);
    let sessions = || RecordQuery::new(Collection::Sessions, ReadScope::All, 100);
    let with = |edit: &dyn Fn(&mut RecordQuery)| {
        let mut q = sessions();
        edit(&mut q);
        listed(store, &q)
    };
    assert_eq!(
        with(&|_| {}),
        [s1, s2, s3, s4, s5, s6],
        "key order, deleted included"
    );
    // Scopes.
    assert_eq!(
        with(&|q| q.scope = ReadScope::Centre(C1.into())),
        [s1, s2, s3, s4, s6]
    );
    assert_eq!(
        with(&|q| q.scope = ReadScope::Centre(C3.into())),
        Vec::<Uuid>::new()
    );
    assert_eq!(with(&|q| q.scope = w.somchai.scope()), [s1, s2]);
    assert_eq!(with(&|q| q.scope = w.malee.scope()), [s5]);
    let beneficiaries = |scope| {
        listed(
            store,
            &RecordQuery::new(Collection::Beneficiaries, scope, 100),
        )
    };
    assert_eq!(beneficiaries(ReadScope::All), [w.b1, w.b2, w.b3]);
    assert_eq!(
        beneficiaries(w.somchai.scope()),
        [w.b1, w.b2],
        "the centre's"
    );
    assert_eq!(beneficiaries(w.malee.scope()), [w.b3]);
    assert_eq!(beneficiaries(w.nobody.scope()), Vec::<Uuid>::new());
    // Columns.
    assert_eq!(
        with(&|q| q.volunteer_id = Some(w.somsri.id())),
        [s3, s4, s6]
    );
    assert_eq!(with(&|q| q.village_code = Some(VILLAGE_B.into())), [s2, s6]);
    assert_eq!(
        with(&|q| q.from = Some("2026-11-08".into())),
        [s2, s3, s4, s6]
    );
    assert_eq!(with(&|q| q.to = Some("2026-11-04".into())), [s1, s5]);
    assert_eq!(
        with(&|q| {
            q.from = Some("2026-11-04".into());
            q.to = Some("2026-11-09".into());
        }),
        [s2, s3, s5, s6],
        "both ends included"
    );
    assert_eq!(
        with(&|q| q.help_type = Some("digital_literacy".into())),
        [s1, s3]
    );
    assert_eq!(with(&|q| q.outcome = Some("resolved".into())), [s1, s3]);
    assert_eq!(
        with(&|q| q.outcome = Some("follow_up".into())),
        Vec::<Uuid>::new()
    );
    // Conflicts and deletion.
    assert_eq!(with(&|q| q.conflicts_only = true), [s2, s4]);
    assert_eq!(
        with(&|q| {
            q.conflicts_only = true;
            q.exclude_deleted = true;
        }),
        [s2]
    );
    assert_eq!(with(&|q| q.exclude_deleted = true), [s1, s2, s3, s5, s6]);
    assert_eq!(with(&|q| q.only_deleted = true), [s4]);
    let conflicted_beneficiaries = {
        let mut q = RecordQuery::new(Collection::Beneficiaries, ReadScope::Centre(C1.into()), 100);
        q.conflicts_only = true;
        q.exclude_deleted = true;
        listed(store, &q)
    };
    assert_eq!(conflicted_beneficiaries, [w.b2]);
    // A name search's matches.
    assert_eq!(
        with(&|q| q.volunteer_ids = Some(vec![
            w.somchai.actor.principal.user_id,
            w.malee.actor.principal.user_id
        ])),
        [s1, s2, s5]
    );
    assert_eq!(
        with(&|q| q.volunteer_ids = Some(Vec::new())),
        Vec::<Uuid>::new()
    );
    // Filters combine.
    assert_eq!(
        with(&|q| {
            q.scope = w.manee.scope();
            q.help_type = Some("welfare_rights".into());
            q.exclude_deleted = true;
        }),
        [s2, s6]
    );
    assert_eq!(
        with(&|q| {
            q.scope = w.somsri.scope();
            q.village_code = Some(VILLAGE_A.into());
            q.only_deleted = true;
        }),
        [s4]
    );
}

fn newest_first_orders_by_start_date_then_key_and_skips_by_offset(f: &Fixture) {
    let w = world(f);
    let (s1, s2, s3, s4, s6) = (w.s1, w.s2, w.s3, w.s4, w.s6);
    let page = |offset, limit| {
        let mut q = RecordQuery::new(Collection::Sessions, ReadScope::Centre(C1.into()), limit);
        q.newest_first = true;
        q.offset = offset;
        let page = w.store.list_records(&q).unwrap();
        let ids: Vec<Uuid> = page.records.iter().map(|r| r.id).collect();
        (ids, page.next_after_key.is_some())
    };
    // s6 and s3 start the same day; s6 was made last.
    assert_eq!(page(0, 10), (vec![s4, s6, s3, s2, s1], false));
    assert_eq!(page(1, 2), (vec![s6, s3], true));
    assert_eq!(page(3, 2), (vec![s2, s1], false));
    assert_eq!(page(4, 2), (vec![s1], false));
    assert_eq!(page(5, 2), (vec![], false));
    // With a filter, the order holds among the matches.
    let mut q = RecordQuery::new(Collection::Sessions, ReadScope::All, 3);
    q.newest_first = true;
    q.exclude_deleted = true;
    let ids: Vec<Uuid> = w
        .store
        .list_records(&q)
        .unwrap()
        .records
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [s6, s3, s2]);
    // Beneficiaries have no start date: newest first is by key alone.
    let mut q = RecordQuery::new(Collection::Beneficiaries, ReadScope::All, 10);
    q.newest_first = true;
    let ids: Vec<Uuid> = w
        .store
        .list_records(&q)
        .unwrap()
        .records
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [w.b3, w.b2, w.b1]);
    q.offset = 1;
    q.limit = 1;
    let page = w.store.list_records(&q).unwrap();
    assert_eq!(
        page.records.iter().map(|r| r.id).collect::<Vec<_>>(),
        [w.b2]
    );
    assert!(page.next_after_key.is_some());
}

fn after_key_pages_through_records_in_key_order(f: &Fixture) {
    let w = world(f);
    let pages = |mut q: RecordQuery| {
        let mut pages = Vec::new();
        loop {
            let page = w.store.list_records(&q).unwrap();
            pages.push(page.records.iter().map(|r| r.id).collect::<Vec<_>>());
            match page.next_after_key {
                Some(key) => {
                    assert_eq!(page.records.len(), q.limit, "only a full page has more");
                    assert!(key > q.after_key);
                    q.after_key = key;
                }
                None => return pages,
            }
            assert!(pages.len() < 100);
        }
    };
    let all = RecordQuery::new(Collection::Sessions, ReadScope::All, 2);
    assert_eq!(
        pages(all),
        [vec![w.s1, w.s2], vec![w.s3, w.s4], vec![w.s5, w.s6]],
        "a last full page has no cursor"
    );
    let mut live = RecordQuery::new(Collection::Sessions, ReadScope::All, 2);
    live.exclude_deleted = true;
    assert_eq!(
        pages(live),
        [vec![w.s1, w.s2], vec![w.s3, w.s5], vec![w.s6]]
    );
    let mut centre = RecordQuery::new(Collection::Sessions, ReadScope::Centre(C1.into()), 4);
    centre.volunteer_id = Some(w.somsri.id());
    assert_eq!(pages(centre), [vec![w.s3, w.s4, w.s6]]);
    // A cursor's page counts the same as the whole list.
    let mut from_cursor = RecordQuery::new(Collection::Sessions, ReadScope::All, 2);
    from_cursor.after_key = w
        .store
        .list_records(&from_cursor)
        .unwrap()
        .next_after_key
        .unwrap();
    assert_eq!(w.store.count_records(&from_cursor).unwrap(), 6);
}

fn get_record_returns_the_merged_record(f: &Fixture) {
    let w = world(f);
    let store = w.store;
    let s2 = store
        .get_record(Collection::Sessions, w.s2)
        .unwrap()
        .expect("s2");
    assert_eq!(s2.collection, Collection::Sessions);
    assert_eq!(s2.id, w.s2);
    assert_eq!(s2.centre_id.as_deref(), Some(C1));
    assert_eq!(s2.volunteer_id, Some(w.somchai.id()));
    let text = |r: &crate::store::StoredRecord, field| {
        r.state
            .value(&Key::field(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    assert_eq!(
        text(&s2, Field::HelpType).as_deref(),
        Some("welfare_rights")
    );
    assert_eq!(
        text(&s2, Field::StartedAt).as_deref(),
        Some("2026-11-08T09:30:00+07:00")
    );
    assert_eq!(s2.state.members(Field::BeneficiaryIds), [w.b1]);
    let conflicts = s2.state.conflicts();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].key, Key::field(Field::Notes));
    assert_eq!(conflicts[0].heads.len(), 2);
    let s4 = store
        .get_record(Collection::Sessions, w.s4)
        .unwrap()
        .expect("a deleted record is kept");
    assert!(s4.state.is_deleted());
    let b2 = store
        .get_record(Collection::Beneficiaries, w.b2)
        .unwrap()
        .expect("b2");
    assert_eq!(
        (b2.centre_id.as_deref(), b2.volunteer_id.as_deref()),
        (Some(C1), None)
    );
    assert_eq!(b2.state.conflicts().len(), 1);
    assert!(
        store
            .get_record(Collection::Beneficiaries, w.s1)
            .unwrap()
            .is_none(),
        "another collection"
    );
    assert!(store
        .get_record(Collection::Sessions, Uuid::now_v7())
        .unwrap()
        .is_none());
}

fn summary(
    store: &dyn Store,
    centre: Option<&str>,
    volunteer: Option<String>,
    from: Option<&str>,
    to: Option<&str>,
) -> Summary {
    store
        .summary(&SummaryQuery {
            centre_id: centre.map(str::to_owned),
            volunteer_id: volunteer,
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        })
        .expect("summary")
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

fn the_summary_counts_live_sessions_and_open_conflicts(f: &Fixture) {
    let w = world(f);
    let everyone = summary(w.store, None, None, None, None);
    assert_eq!(
        everyone,
        Summary {
            sessions: 5,
            people_helped: 13,
            unique_beneficiaries: 3,
            active_volunteers: 3,
            by_help_type: counts(&[("digital_literacy", 2), ("welfare_rights", 2), ("other", 1)]),
            by_village: counts(&[(VILLAGE_A, 2), (VILLAGE_B, 2), (VILLAGE_C, 1)]),
            open_conflicts: 3,
        }
    );
    assert_eq!(
        summary(w.store, Some(C1), None, None, None),
        Summary {
            sessions: 4,
            people_helped: 8,
            unique_beneficiaries: 2,
            active_volunteers: 2,
            by_help_type: counts(&[("digital_literacy", 2), ("welfare_rights", 2)]),
            by_village: counts(&[(VILLAGE_A, 2), (VILLAGE_B, 2)]),
            open_conflicts: 3,
        },
        "s2's and the deleted s4's notes, b2's name"
    );
    assert_eq!(
        summary(w.store, Some(C1), Some(w.somchai.id()), None, None),
        Summary {
            sessions: 2,
            people_helped: 5,
            unique_beneficiaries: 2,
            active_volunteers: 1,
            by_help_type: counts(&[("digital_literacy", 1), ("welfare_rights", 1)]),
            by_village: counts(&[(VILLAGE_A, 1), (VILLAGE_B, 1)]),
            open_conflicts: 1,
        },
        "a volunteer's own report"
    );
    assert_eq!(
        summary(
            w.store,
            Some(C1),
            None,
            Some("2026-11-08"),
            Some("2026-11-09")
        ),
        Summary {
            sessions: 3,
            people_helped: 6,
            unique_beneficiaries: 2,
            active_volunteers: 2,
            by_help_type: counts(&[("digital_literacy", 1), ("welfare_rights", 2)]),
            by_village: counts(&[(VILLAGE_A, 1), (VILLAGE_B, 2)]),
            open_conflicts: 3,
        },
        "dates select sessions; conflicts are counted whatever the dates"
    );
    assert_eq!(
        summary(w.store, Some(C2), None, Some("2026-11-05"), None),
        Summary {
            open_conflicts: 0,
            ..Summary::default()
        }
    );
    assert_eq!(
        summary(w.store, Some(C3), None, None, None),
        Summary::default()
    );
}

fn a_records_history_is_its_changes_in_log_order(f: &Fixture) {
    let w = world(f);
    let history = w.store.record_history(Collection::Sessions, w.s2).unwrap();
    let expected: Vec<Uuid> = w
        .log
        .changes
        .iter()
        .filter(|(_, record)| *record == w.s2)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(expected.len(), 3);
    assert_eq!(
        history
            .iter()
            .map(|e| change_id(&e.body))
            .collect::<Vec<_>>(),
        expected
    );
    assert!(history.windows(2).all(|p| p[0].seq < p[1].seq));
    assert_eq!(
        history.iter().map(|e| e.device_id).collect::<Vec<_>>(),
        [
            w.somchai.actor.device,
            w.somchai.actor.device,
            w.manee.actor.device
        ]
    );
    // Its positions are the pull's.
    let all = pull(w.store, ReadScope::All, 0, 1000);
    for entry in &history {
        assert!(all.bodies.contains(&entry.body));
        let before = pull(w.store, ReadScope::All, entry.seq - 1, 1);
        assert_eq!(before.bodies, std::slice::from_ref(&entry.body));
    }
    let b2 = w
        .store
        .record_history(Collection::Beneficiaries, w.b2)
        .unwrap();
    assert_eq!(
        b2.iter().map(|e| e.device_id).collect::<Vec<_>>(),
        [w.somsri.actor.device, w.manee.actor.device]
    );
    assert!(w
        .store
        .record_history(Collection::Beneficiaries, w.s2)
        .unwrap()
        .is_empty());
    assert!(w
        .store
        .record_history(Collection::Sessions, Uuid::now_v7())
        .unwrap()
        .is_empty());
}

fn programme(
    store: &dyn Store,
    centre: Option<&str>,
    volunteer: Option<String>,
    from: Option<&str>,
    to: Option<&str>,
) -> crate::store::ProgrammeRows {
    store
        .programme(&SummaryQuery {
            centre_id: centre.map(str::to_owned),
            volunteer_id: volunteer,
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        })
        .expect("programme")
}

fn week(monday: &str, sessions: u64, people_helped: u64) -> WeekFigures {
    WeekFigures {
        monday: monday.into(),
        sessions,
        people_helped,
    }
}

fn group(value: &str, sessions: u64, people_helped: u64) -> GroupFigures {
    GroupFigures {
        value: value.into(),
        sessions,
        people_helped,
    }
}

fn the_programme_sums_weeks_groups_and_people_once(f: &Fixture) {
    let w = world(f);
    let volunteer =
        |who: &Who, sessions, people_helped, unique_beneficiaries, minutes| VolunteerFigures {
            volunteer_id: who.id(),
            sessions,
            people_helped,
            unique_beneficiaries,
            minutes,
        };
    let by_id = |mut v: Vec<VolunteerFigures>| {
        v.sort_by(|a, b| a.volunteer_id.cmp(&b.volunteer_id));
        v
    };
    let centre = programme(w.store, Some(C1), None, None, None);
    assert_eq!(
        centre.volunteers,
        by_id(vec![
            volunteer(&w.somchai, 2, 5, 2, 75),
            volunteer(&w.somsri, 2, 3, 2, 70)
        ])
    );
    // 2026-11-08 is a Sunday: s2 counts in the week of Monday 2 November.
    assert_eq!(
        centre.weeks,
        [week("2026-11-02", 2, 5), week("2026-11-09", 2, 3)]
    );
    assert_eq!(
        centre.by_help_type,
        [
            group("digital_literacy", 2, 3),
            group("welfare_rights", 2, 5)
        ],
        "ties by name"
    );
    assert_eq!(
        centre.by_village,
        [group(VILLAGE_A, 2, 3), group(VILLAGE_B, 2, 5)]
    );
    assert_eq!(
        centre.unique_beneficiaries, 2,
        "b1 is in three sessions of two volunteers"
    );

    let all = programme(w.store, None, None, None, None);
    assert_eq!(
        all.volunteers,
        by_id(vec![
            volunteer(&w.somchai, 2, 5, 2, 75),
            volunteer(&w.somsri, 2, 3, 2, 70),
            volunteer(&w.malee, 1, 5, 1, 15),
        ])
    );
    assert_eq!(
        all.weeks,
        [week("2026-11-02", 3, 10), week("2026-11-09", 2, 3)]
    );
    assert_eq!(
        all.by_help_type,
        [
            group("digital_literacy", 2, 3),
            group("welfare_rights", 2, 5),
            group("other", 1, 5)
        ],
        "biggest first"
    );
    assert_eq!(
        all.by_village,
        [
            group(VILLAGE_A, 2, 3),
            group(VILLAGE_B, 2, 5),
            group(VILLAGE_C, 1, 5)
        ]
    );
    assert_eq!(all.unique_beneficiaries, 3);

    let dated = programme(
        w.store,
        Some(C1),
        None,
        Some("2026-11-08"),
        Some("2026-11-09"),
    );
    assert_eq!(
        dated.weeks,
        [week("2026-11-02", 1, 3), week("2026-11-09", 2, 3)]
    );
    assert_eq!(dated.unique_beneficiaries, 2);
    let own = programme(w.store, Some(C1), Some(w.somsri.id()), None, None);
    assert_eq!(own.volunteers, [volunteer(&w.somsri, 2, 3, 2, 70)]);
    assert_eq!(
        own.by_help_type,
        [
            group("digital_literacy", 1, 1),
            group("welfare_rights", 1, 2)
        ]
    );
    assert_eq!(
        own.weeks,
        [week("2026-11-09", 2, 3)],
        "the deleted s4 left out"
    );
    assert_eq!(
        programme(w.store, Some(C3), None, None, None),
        crate::store::ProgrammeRows::default()
    );
}

conformance!(
    pulls_page_through_the_log_in_push_order,
    each_scope_pulls_what_the_access_rules_allow,
    a_pull_can_leave_out_the_callers_own_device,
    records_lists_and_counts_apply_each_filter,
    newest_first_orders_by_start_date_then_key_and_skips_by_offset,
    after_key_pages_through_records_in_key_order,
    get_record_returns_the_merged_record,
    the_summary_counts_live_sessions_and_open_conflicts,
    a_records_history_is_its_changes_in_log_order,
    the_programme_sums_weeks_groups_and_people_once,
);
