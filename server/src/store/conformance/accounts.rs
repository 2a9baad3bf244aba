//! Conformance: users, centres, login throttling, devices, refresh tokens
//! and console sessions, through the [`Store`](crate::store::Store) trait
//! only, so that both stores are held to the same answers.

use std::collections::{HashMap, HashSet};
use std::sync::{Barrier, Mutex};

use sync_core::Role;
use uuid::Uuid;

use super::{conformance, Fixture};
use crate::store::{
    AttemptCounts, BindOutcome, Centre, CentrePatch, CreateUser, DeviceUpdate, LoginState,
    NewRejection, PushWrites, RotateOutcome, UpdateUser, User, UserPatch, UserQuery,
};

const HOUR: i64 = 3600;

fn new_user(username: &str, role: Role, centre: Option<&str>) -> User {
    User {
        id: Uuid::new_v4(),
        username: username.to_owned(),
        display_name: format!("{username} (display)"),
        password_hash: format!("hash of {username}"),
        role,
        centre_id: centre.map(str::to_owned),
        disabled: false,
    }
}

fn centre(code: &str) -> Centre {
    Centre {
        code: code.to_owned(),
        name: format!("Centre {code}"),
        province: "Province".to_owned(),
        district: "District".to_owned(),
    }
}

/// Creates the user, which must not be refused.
fn create(f: &Fixture, user: User) -> User {
    match f.store.create_user(&user).unwrap() {
        CreateUser::Created(created) => {
            assert_eq!(created, user);
            created
        }
        other => panic!("{} refused: {other:?}", user.username),
    }
}

fn create_centre(f: &Fixture, code: &str) {
    assert!(
        f.store.create_centre(&centre(code)).unwrap(),
        "{code} is new"
    );
}

fn volunteer(f: &Fixture, username: &str, centre: &str) -> User {
    create(f, new_user(username, Role::Volunteer, Some(centre)))
}

fn bind(f: &Fixture, device: Uuid, user: &User, now: i64) -> BindOutcome {
    f.store.bind_device(device, user, now, &|_| false).unwrap()
}

fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

/// A login (refresh token family) of `user` on `device`, valid for an hour.
fn login(f: &Fixture, token: u8, user: &User, device: Uuid, now: i64) -> i64 {
    f.store
        .create_refresh_token(&hash(token), user.id, device, now + HOUR, now)
        .unwrap()
}

fn state(f: &Fixture, family: i64) -> LoginState {
    f.store.login_state(family).unwrap().expect("login exists")
}

/// Records a push of `device` that acknowledges `acked_seq` and rejects
/// one change at `rejected_at`.
fn push_ack(f: &Fixture, device: Uuid, acked_seq: u64, rejected_at: Option<i64>) {
    f.store
        .push(&mut |tx| {
            assert!(tx.device(device)?.is_some(), "the device is bound");
            let rejections = rejected_at
                .map(|at| NewRejection {
                    device_seq: acked_seq,
                    change_id: "not-a-uuid",
                    code: "invalid",
                    detail: "test".to_owned(),
                    body: "{}",
                    at,
                })
                .into_iter()
                .collect();
            tx.write(&PushWrites {
                device_id: device,
                changes: Vec::new(),
                rejections,
                records: Vec::new(),
                device: Some(DeviceUpdate {
                    acked_seq,
                    clock_offset_ms: -250,
                    now: rejected_at.unwrap_or(0),
                }),
                server_clock: None,
            })
        })
        .unwrap();
}

fn users_are_found_by_name_without_regard_to_case(f: &Fixture) {
    create_centre(f, "C1");
    assert_eq!(f.store.count_users().unwrap(), 0);
    let somchai = volunteer(f, "Somchai", "C1");
    let admin = create(f, new_user("root", Role::Admin, None));
    for name in ["Somchai", "somchai", "SOMCHAI", "sOmChAi"] {
        assert_eq!(
            f.store.user_by_name(name).unwrap().as_ref(),
            Some(&somchai),
            "{name}"
        );
    }
    assert_eq!(f.store.user_by_name("somcha").unwrap(), None);
    assert_eq!(f.store.user_by_name("somchai2").unwrap(), None);
    // Case is folded for ASCII letters only (as SQLite's NOCASE): a dotted
    // capital I or a Kelvin sign is not an i or a k.
    assert_eq!(f.store.user_by_name("ROOT").unwrap().as_ref(), Some(&admin));
    assert_eq!(f.store.user_by_name("SOMCHAİ").unwrap(), None);
    assert_eq!(f.store.user_by_name("\u{212a}oot").unwrap(), None);
    assert_eq!(f.store.user_by_id(somchai.id).unwrap(), Some(somchai));
    assert_eq!(f.store.user_by_id(admin.id).unwrap(), Some(admin));
    assert_eq!(f.store.user_by_id(Uuid::new_v4()).unwrap(), None);
    assert_eq!(f.store.count_users().unwrap(), 2);
}

fn a_username_taken_in_any_case_is_refused(f: &Fixture) {
    let alice = create(f, new_user("Alice", Role::Admin, None));
    for name in ["Alice", "alice", "ALICE"] {
        assert_eq!(
            f.store
                .create_user(&new_user(name, Role::Admin, None))
                .unwrap(),
            CreateUser::UsernameTaken,
            "{name}"
        );
    }
    assert_eq!(f.store.count_users().unwrap(), 1);
    assert_eq!(f.store.user_by_name("alice").unwrap(), Some(alice));
}

fn a_user_of_an_unknown_centre_is_refused(f: &Fixture) {
    create_centre(f, "C1");
    let stray = new_user("stray", Role::Volunteer, Some("C2"));
    assert_eq!(
        f.store.create_user(&stray).unwrap(),
        CreateUser::UnknownCentre
    );
    // Centre codes are compared exactly.
    let lower = new_user("lower", Role::Volunteer, Some("c1"));
    assert_eq!(
        f.store.create_user(&lower).unwrap(),
        CreateUser::UnknownCentre
    );
    assert_eq!(f.store.user_by_name("stray").unwrap(), None);
    assert_eq!(f.store.count_users().unwrap(), 0);
    volunteer(f, "kept", "C1");
    assert_eq!(f.store.count_users().unwrap(), 1);
}

fn concurrent_creations_of_one_username_make_one_user(f: &Fixture) {
    let barrier = Barrier::new(8);
    let names = ["dup", "DUP", "Dup", "dUp", "duP", "DUp", "dUP", "DuP"];
    let outcomes: Vec<CreateUser> = std::thread::scope(|s| {
        let threads: Vec<_> = names
            .iter()
            .map(|name| {
                let store = f.store.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    let user = new_user(name, Role::Admin, None);
                    barrier.wait();
                    store.create_user(&user).unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, CreateUser::Created(_)))
        .count();
    let taken = outcomes
        .iter()
        .filter(|o| **o == CreateUser::UsernameTaken)
        .count();
    assert_eq!((created, taken), (1, 7), "{outcomes:?}");
    assert_eq!(f.store.count_users().unwrap(), 1);
}

fn users_are_listed_by_lowercased_username_a_page_at_a_time(f: &Fixture) {
    create_centre(f, "C1");
    create_centre(f, "C2");
    // Byte order of the lowercased names: '-' < '.' < digits < '_' < letters
    // (a locale's collation would put these elsewhere).
    let names = [
        ("bob", Role::Volunteer, Some("C1")),
        ("Alice", Role::Manager, Some("C1")),
        ("a_b", Role::Volunteer, Some("C2")),
        ("a-b", Role::Volunteer, Some("C1")),
        ("a.b", Role::Volunteer, Some("C1")),
        ("A9", Role::Volunteer, Some("C2")),
        ("Zed", Role::Volunteer, Some("C1")),
        ("carol", Role::Admin, None),
    ];
    let mut by_name = HashMap::new();
    for (name, role, centre) in names {
        by_name.insert(name, create(f, new_user(name, role, centre)));
    }
    let device = Uuid::new_v4();
    assert_eq!(bind(f, device, &by_name["bob"], 1_000), BindOutcome::Bound);

    let every = |centre: Option<&str>, role: Option<Role>, limit: usize| {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = f
                .store
                .list_users(&UserQuery {
                    centre_id: centre.map(str::to_owned),
                    role,
                    after: after.clone(),
                    limit,
                })
                .unwrap();
            assert!(page.users.len() <= limit);
            for (user, devices) in &page.users {
                seen.push(user.username.clone());
                assert_eq!(Some(user), by_name.get(user.username.as_str()));
                if user.username == "bob" {
                    assert_eq!(devices.len(), 1);
                    assert_eq!(devices[0].device_id, device);
                    assert_eq!(devices[0].bound_at, Some(1_000));
                    assert_eq!(devices[0].last_seen_at, Some(1_000));
                } else {
                    assert!(devices.is_empty(), "{}", user.username);
                }
            }
            if !page.has_more {
                return seen;
            }
            assert_eq!(page.users.len(), limit, "a page with more is full");
            after = page.users.last().map(|(u, _)| u.username.to_lowercase());
        }
    };
    let all = ["a-b", "a.b", "A9", "a_b", "Alice", "bob", "carol", "Zed"];
    for limit in [1, 2, 3, 8, 100] {
        assert_eq!(every(None, None, limit), all, "limit {limit}");
    }
    assert_eq!(
        every(Some("C1"), None, 2),
        ["a-b", "a.b", "Alice", "bob", "Zed"]
    );
    assert_eq!(every(Some("C2"), None, 1), ["A9", "a_b"]);
    assert_eq!(
        every(Some("C1"), Some(Role::Volunteer), 2),
        ["a-b", "a.b", "bob", "Zed"]
    );
    assert_eq!(every(None, Some(Role::Admin), 2), ["carol"]);
    assert_eq!(every(Some("C3"), None, 2), Vec::<String>::new());

    // A full last page says there is no more.
    let page = f
        .store
        .list_users(&UserQuery {
            centre_id: None,
            role: None,
            after: Some("bob".to_owned()),
            limit: 2,
        })
        .unwrap();
    let names: Vec<&str> = page
        .users
        .iter()
        .map(|(u, _)| u.username.as_str())
        .collect();
    assert_eq!(names, ["carol", "Zed"]);
    assert!(!page.has_more);
}

fn update_user_applies_a_patch(f: &Fixture) {
    create_centre(f, "C1");
    create_centre(f, "C2");
    let user = volunteer(f, "niran", "C1");
    assert_eq!(
        f.store
            .update_user(Uuid::new_v4(), &UserPatch::default())
            .unwrap(),
        UpdateUser::NotFound
    );
    let unknown = UserPatch {
        display_name: Some("not kept".to_owned()),
        centre_id: Some(Some("C9".to_owned())),
        ..UserPatch::default()
    };
    assert_eq!(
        f.store.update_user(user.id, &unknown).unwrap(),
        UpdateUser::UnknownCentre
    );
    assert_eq!(
        f.store.user_by_id(user.id).unwrap().as_ref(),
        Some(&user),
        "a refused patch changes nothing"
    );

    let patch = UserPatch {
        display_name: Some("Niran K.".to_owned()),
        centre_id: Some(Some("C2".to_owned())),
        ..UserPatch::default()
    };
    let expected = User {
        display_name: "Niran K.".to_owned(),
        centre_id: Some("C2".to_owned()),
        ..user.clone()
    };
    assert_eq!(
        f.store.update_user(user.id, &patch).unwrap(),
        UpdateUser::Updated(expected.clone())
    );
    assert_eq!(f.store.user_by_id(user.id).unwrap(), Some(expected.clone()));

    let promote = UserPatch {
        role: Some(Role::Admin),
        centre_id: Some(None),
        password_hash: Some("new hash".to_owned()),
        disabled: Some(true),
        ..UserPatch::default()
    };
    let admin = User {
        role: Role::Admin,
        centre_id: None,
        password_hash: "new hash".to_owned(),
        disabled: true,
        ..expected
    };
    assert_eq!(
        f.store.update_user(user.id, &promote).unwrap(),
        UpdateUser::Updated(admin.clone())
    );
    assert_eq!(f.store.user_by_name("NIRAN").unwrap(), Some(admin.clone()));
    // An empty patch keeps everything.
    assert_eq!(
        f.store.update_user(user.id, &UserPatch::default()).unwrap(),
        UpdateUser::Updated(admin)
    );
}

fn disabling_a_user_revokes_every_login(f: &Fixture) {
    create_centre(f, "C1");
    let user = volunteer(f, "somsak", "C1");
    let other = volunteer(f, "other", "C1");
    let (phone, tablet, elsewhere) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    bind(f, phone, &user, 100);
    bind(f, tablet, &user, 100);
    bind(f, elsewhere, &other, 100);
    let a = login(f, 1, &user, phone, 100);
    let b = login(f, 2, &user, tablet, 100);
    let c = login(f, 3, &other, elsewhere, 100);
    f.store
        .create_web_session(&hash(10), user.id, "csrf", 100)
        .unwrap();
    f.store
        .create_web_session(&hash(11), other.id, "csrf", 100)
        .unwrap();

    // A new display name ends nothing.
    let rename = UserPatch {
        display_name: Some("Somsak".to_owned()),
        ..UserPatch::default()
    };
    f.store.update_user(user.id, &rename).unwrap();
    assert!(!state(f, a).revoked && !state(f, b).revoked);
    assert!(f.store.web_session(&hash(10), 0).unwrap().is_some());
    // Disabling ends every login and console session of the user.
    let disable = UserPatch {
        disabled: Some(true),
        ..UserPatch::default()
    };
    f.store.update_user(user.id, &disable).unwrap();
    for family in [a, b] {
        let s = state(f, family);
        assert!(s.revoked, "family {family}");
        assert!(s.user_disabled);
        assert_eq!(s.device_owner, Some(user.id));
    }
    assert!(f.store.web_session(&hash(10), 0).unwrap().is_none());
    assert_eq!(
        f.store
            .rotate_refresh_token(&hash(1), &hash(4), Some(phone), 200, 200 + HOUR, 60)
            .unwrap(),
        RotateOutcome::Revoked
    );
    // The other user keeps their login and their session.
    assert!(!state(f, c).revoked && !state(f, c).user_disabled);
    assert!(f.store.web_session(&hash(11), 0).unwrap().is_some());

    // A new password ends the logins made since, too.
    let enable = UserPatch {
        disabled: Some(false),
        ..UserPatch::default()
    };
    f.store.update_user(user.id, &enable).unwrap();
    let d = login(f, 5, &user, phone, 300);
    assert!(!state(f, d).revoked && !state(f, d).user_disabled);
    let password = UserPatch {
        password_hash: Some("another".to_owned()),
        ..UserPatch::default()
    };
    f.store.update_user(user.id, &password).unwrap();
    assert!(state(f, d).revoked);
    assert!(!state(f, c).revoked);
}

fn a_scope_change_marks_every_device_for_resync(f: &Fixture) {
    create_centre(f, "C1");
    create_centre(f, "C2");
    let user = volunteer(f, "resync", "C1");
    let other = volunteer(f, "bystander", "C1");
    let (phone, tablet, elsewhere) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    bind(f, phone, &user, 100);
    bind(f, tablet, &user, 100);
    bind(f, elsewhere, &other, 100);
    let a = login(f, 1, &user, phone, 100);
    let b = login(f, 2, &user, tablet, 100);
    let c = login(f, 3, &other, elsewhere, 100);
    assert_eq!(state(f, a).resync, 0);

    // The same role and centre again is no change of scope.
    let same = UserPatch {
        role: Some(Role::Volunteer),
        centre_id: Some(Some("C1".to_owned())),
        ..UserPatch::default()
    };
    f.store.update_user(user.id, &same).unwrap();
    assert_eq!((state(f, a).resync, state(f, a).revoked), (0, false));

    let moved = UserPatch {
        centre_id: Some(Some("C2".to_owned())),
        ..UserPatch::default()
    };
    f.store.update_user(user.id, &moved).unwrap();
    assert_eq!(state(f, a).resync, 1);
    assert_eq!(state(f, b).resync, 1);
    assert!(state(f, a).revoked, "a change of scope ends the logins");
    assert_eq!(state(f, c).resync, 0, "another user's device is untouched");

    let promoted = UserPatch {
        role: Some(Role::Manager),
        ..UserPatch::default()
    };
    f.store.update_user(user.id, &promoted).unwrap();
    assert_eq!(state(f, a).resync, 2);
    // Clearing the mark read before the newer change keeps it.
    f.store.clear_resync(phone, 1).unwrap();
    assert_eq!(state(f, a).resync, 2);
    f.store.clear_resync(phone, 2).unwrap();
    assert_eq!(state(f, a).resync, 0);
    assert_eq!(state(f, b).resync, 2);
}

fn display_names_of_known_users(f: &Fixture) {
    let a = create(f, new_user("anan", Role::Admin, None));
    let b = create(f, new_user("busaba", Role::Admin, None));
    assert!(f.store.display_names(&[]).unwrap().is_empty());
    let names = f
        .store
        .display_names(&[a.id, Uuid::new_v4(), b.id, a.id])
        .unwrap();
    let expected: HashMap<Uuid, String> = [
        (a.id, "anan (display)".to_owned()),
        (b.id, "busaba (display)".to_owned()),
    ]
    .into_iter()
    .collect();
    assert_eq!(names, expected);
}

fn centres_are_created_updated_and_listed(f: &Fixture) {
    assert!(f.store.list_centres(None).unwrap().is_empty());
    for code in ["b2", "C_1", "a-1", "Z9"] {
        create_centre(f, code);
    }
    let mut again = centre("b2");
    again.name = "not kept".to_owned();
    assert!(!f.store.create_centre(&again).unwrap(), "the code is taken");
    let codes: Vec<String> = f
        .store
        .list_centres(None)
        .unwrap()
        .into_iter()
        .map(|c| c.code)
        .collect();
    // Byte order: upper case before lower case.
    assert_eq!(codes, ["C_1", "Z9", "a-1", "b2"]);
    assert_eq!(f.store.list_centres(Some("b2")).unwrap(), [centre("b2")]);
    assert!(f.store.list_centres(Some("B2")).unwrap().is_empty());
    assert!(f.store.list_centres(Some("nope")).unwrap().is_empty());

    let patch = CentrePatch {
        name: Some("Renamed".to_owned()),
        district: Some("Elsewhere".to_owned()),
        province: None,
    };
    let expected = Centre {
        code: "b2".to_owned(),
        name: "Renamed".to_owned(),
        province: "Province".to_owned(),
        district: "Elsewhere".to_owned(),
    };
    assert_eq!(
        f.store.update_centre("b2", &patch).unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        f.store.list_centres(Some("b2")).unwrap(),
        std::slice::from_ref(&expected)
    );
    assert_eq!(
        f.store
            .update_centre("b2", &CentrePatch::default())
            .unwrap(),
        Some(expected)
    );
    assert_eq!(f.store.update_centre("nope", &patch).unwrap(), None);
    assert_eq!(f.store.list_centres(Some("C_1")).unwrap(), [centre("C_1")]);
    assert_eq!(f.store.list_centres(None).unwrap().len(), 4);
}

/// Reserves an attempt, returning the counts the judge saw and the answer.
fn reserve(
    f: &Fixture,
    username: &str,
    address: &str,
    now: i64,
    since: i64,
    refuse: Option<u64>,
) -> (AttemptCounts, Result<i64, u64>) {
    let seen = Mutex::new(None);
    let answer = f
        .store
        .reserve_login(username, address, now, since, &|counts| {
            *seen.lock().unwrap() = Some(*counts);
            refuse
        })
        .unwrap();
    let counts = seen.into_inner().unwrap().expect("the judge was asked");
    (counts, answer)
}

fn login_attempts_are_counted_by_username_and_address(f: &Fixture) {
    let (counts, first) = reserve(f, "Malee", "10.0.0.1", 1_000, 0, None);
    assert_eq!(
        counts,
        AttemptCounts {
            address: 0,
            address_oldest_at: 1_000,
            username: 0,
            username_from_address: 0,
            username_latest_at: 1_000,
        },
        "nothing yet: the times are now"
    );
    let first = first.expect("reserved");
    // A pending attempt is counted, for the username in any case.
    let (counts, second) = reserve(f, "MALEE", "10.0.0.2", 1_010, 0, None);
    assert_eq!(
        counts,
        AttemptCounts {
            address: 0,
            address_oldest_at: 1_010,
            username: 1,
            username_from_address: 0,
            username_latest_at: 1_000,
        }
    );
    let second = second.unwrap();
    f.store.finish_login(first, false).unwrap();
    f.store.finish_login(second, false).unwrap();
    let (counts, third) = reserve(f, "malee", "10.0.0.1", 1_020, 0, None);
    assert_eq!(
        counts,
        AttemptCounts {
            address: 1,
            address_oldest_at: 1_000,
            username: 2,
            username_from_address: 1,
            username_latest_at: 1_010,
        },
        "failures stay counted"
    );
    let third = third.unwrap();
    assert_ne!(first, third);
    // Another username from the first address counts for the address only.
    let (counts, other) = reserve(f, "somchai", "10.0.0.1", 1_030, 0, None);
    assert_eq!(
        counts,
        AttemptCounts {
            address: 2,
            address_oldest_at: 1_000,
            username: 0,
            username_from_address: 0,
            username_latest_at: 1_030,
        }
    );
    f.store.finish_login(other.unwrap(), false).unwrap();

    // A refusal records nothing.
    let (_, refused) = reserve(f, "malee", "10.0.0.1", 1_040, 0, Some(42));
    assert_eq!(refused, Err(42));
    let (counts, probe) = reserve(f, "malee", "10.0.0.3", 1_050, 0, Some(1));
    assert_eq!(probe, Err(1));
    assert_eq!((counts.username, counts.username_latest_at), (3, 1_020));

    // A success forgets itself and that username's earlier attempts from
    // that address, not those from elsewhere nor other usernames'.
    f.store.finish_login(third, true).unwrap();
    let (counts, _) = reserve(f, "malee", "10.0.0.1", 1_060, 0, Some(1));
    assert_eq!(
        counts,
        AttemptCounts {
            address: 1,
            address_oldest_at: 1_030,
            username: 1,
            username_from_address: 0,
            username_latest_at: 1_010,
        }
    );

    // Attempts before `since` are not counted.
    let (counts, _) = reserve(f, "malee", "10.0.0.1", 2_000, 1_020, Some(1));
    assert_eq!(
        counts,
        AttemptCounts {
            address: 1,
            address_oldest_at: 1_030,
            username: 0,
            username_from_address: 0,
            username_latest_at: 2_000,
        }
    );
    let (counts, _) = reserve(f, "somchai", "10.0.0.9", 2_000, 1_031, Some(1));
    assert_eq!((counts.address, counts.username), (0, 0));
    // Finishing an attempt that is gone is no error.
    f.store.finish_login(first, true).unwrap();
    f.store.finish_login(123_456, false).unwrap();
}

/// Eight logins at once, whose judge refuses beyond three counted attempts
/// (`counted` picks which count): exactly three are reserved.
fn eight_at_once(
    f: &Fixture,
    who: impl Fn(usize) -> (String, String) + Sync,
    counted: fn(&AttemptCounts) -> u32,
) -> usize {
    let barrier = Barrier::new(8);
    let answers: Vec<Result<i64, u64>> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = f.store.clone();
                let (barrier, who) = (&barrier, &who);
                s.spawn(move || {
                    let (username, address) = who(i);
                    barrier.wait();
                    store
                        .reserve_login(&username, &address, 5_000, 0, &|c| {
                            (counted(c) >= 3).then_some(60)
                        })
                        .unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let ids: HashSet<i64> = answers.iter().filter_map(|a| a.ok()).collect();
    assert!(answers.iter().all(|a| a.is_ok() || *a == Err(60)));
    assert_eq!(
        ids.len(),
        answers.iter().filter(|a| a.is_ok()).count(),
        "distinct attempt ids"
    );
    ids.len()
}

fn concurrent_logins_are_counted_before_passwords_are_checked(f: &Fixture) {
    // One username (in any case) from eight addresses.
    let reserved = eight_at_once(
        f,
        |i| {
            let name = if i % 2 == 0 { "Target" } else { "tARGET" };
            (name.to_owned(), format!("10.0.1.{i}"))
        },
        |c| c.username,
    );
    assert_eq!(reserved, 3);
    // Eight usernames from one address.
    let reserved = eight_at_once(
        f,
        |i| (format!("user{i}"), "10.0.2.1".to_owned()),
        |c| c.address,
    );
    assert_eq!(reserved, 3);
}

fn bind_device_binds_keeps_and_takes_over(f: &Fixture) {
    create_centre(f, "C1");
    let owner = volunteer(f, "owner", "C1");
    let newcomer = volunteer(f, "newcomer", "C1");
    let device = Uuid::new_v4();
    assert_eq!(bind(f, device, &owner, 100), BindOutcome::Bound);
    let family = login(f, 1, &owner, device, 100);
    assert_eq!(state(f, family).last_seen_at, Some(100));
    // Binding again is seeing it again.
    assert_eq!(bind(f, device, &owner, 150), BindOutcome::Bound);
    let devices = f.store.user_devices(owner.id).unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(
        (
            devices[0].device_id,
            devices[0].bound_at,
            devices[0].last_seen_at
        ),
        (device, Some(100), Some(150))
    );

    // Refused: the device stays the owner's, their login stands.
    let asked = Mutex::new(Vec::new());
    let outcome = f
        .store
        .bind_device(device, &newcomer, 200, &|previous| {
            asked.lock().unwrap().push(previous.clone());
            false
        })
        .unwrap();
    assert_eq!(outcome, BindOutcome::OwnedByOther);
    assert_eq!(asked.into_inner().unwrap(), std::slice::from_ref(&owner));
    assert_eq!(state(f, family).device_owner, Some(owner.id));
    assert!(!state(f, family).revoked);
    assert_eq!(state(f, family).resync, 0);
    assert!(f.store.user_devices(newcomer.id).unwrap().is_empty());

    // Allowed: taken over, the owner's logins end, the device resyncs.
    let newcomer_family = login(f, 2, &newcomer, device, 250);
    let outcome = f
        .store
        .bind_device(device, &newcomer, 300, &|previous| previous.id == owner.id)
        .unwrap();
    assert_eq!(outcome, BindOutcome::TookOver);
    let s = state(f, family);
    assert!(s.revoked);
    assert_eq!(
        (s.device_owner, s.resync, s.last_seen_at),
        (Some(newcomer.id), 1, Some(300))
    );
    assert!(
        !state(f, newcomer_family).revoked,
        "the new owner's logins stand"
    );
    assert!(f.store.user_devices(owner.id).unwrap().is_empty());
    let devices = f.store.user_devices(newcomer.id).unwrap();
    assert_eq!(
        devices
            .iter()
            .map(|d| (d.device_id, d.bound_at, d.last_seen_at))
            .collect::<Vec<_>>(),
        [(device, Some(300), Some(300))]
    );

    // The devices of a user, in the order they were first bound.
    let second = Uuid::new_v4();
    let third = Uuid::new_v4();
    assert_eq!(bind(f, third, &newcomer, 400), BindOutcome::Bound);
    assert_eq!(bind(f, second, &newcomer, 500), BindOutcome::Bound);
    let ids: Vec<Uuid> = f
        .store
        .user_devices(newcomer.id)
        .unwrap()
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    assert_eq!(ids, [device, third, second]);
}

fn an_unbound_device_is_bound_without_asking(f: &Fixture) {
    // An unbound device (its owner unbound it) goes to the next user
    // without the take-over rule being asked.
    create_centre(f, "C1");
    let first = volunteer(f, "first", "C1");
    let second = volunteer(f, "second", "C1");
    let device = Uuid::new_v4();
    bind(f, device, &first, 100);
    let family = login(f, 1, &first, device, 100);
    assert!(f.store.unbind_device(first.id, device).unwrap());
    let outcome = f
        .store
        .bind_device(device, &second, 200, &|_| panic!("nobody to ask"))
        .unwrap();
    assert_eq!(outcome, BindOutcome::Bound);
    let s = state(f, family);
    assert_eq!((s.device_owner, s.resync), (Some(second.id), 1));
}

/// Eight users bind `device` at once, none allowed to take it over: one
/// gets it. Returns who.
fn race_to_bind(f: &Fixture, users: &[User], device: Uuid, now: i64) -> Uuid {
    let barrier = Barrier::new(users.len());
    let outcomes: Vec<BindOutcome> = std::thread::scope(|s| {
        let threads: Vec<_> = users
            .iter()
            .map(|user| {
                let store = f.store.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    store.bind_device(device, user, now, &|_| false).unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let bound: Vec<Uuid> = users
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == BindOutcome::Bound)
        .map(|(u, _)| u.id)
        .collect();
    assert_eq!(bound.len(), 1, "{outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == BindOutcome::OwnedByOther)
            .count(),
        users.len() - 1,
        "{outcomes:?}"
    );
    let owners: Vec<Uuid> = users
        .iter()
        .filter(|u| !f.store.user_devices(u.id).unwrap().is_empty())
        .map(|u| u.id)
        .collect();
    assert_eq!(owners, bound);
    bound[0]
}

fn concurrent_binds_give_a_device_one_owner(f: &Fixture) {
    create_centre(f, "C1");
    let users: Vec<User> = (0..8)
        .map(|i| volunteer(f, &format!("binder{i}"), "C1"))
        .collect();
    // A device never seen.
    let device = Uuid::new_v4();
    let first = race_to_bind(f, &users, device, 100);
    // The same device once its owner has let it go.
    assert!(f.store.unbind_device(first, device).unwrap());
    let others: Vec<User> = users.into_iter().filter(|u| u.id != first).collect();
    let second = race_to_bind(f, &others, device, 200);
    assert_ne!(first, second);
}

fn unbind_device_revokes_and_keeps_the_sequence(f: &Fixture) {
    create_centre(f, "C1");
    let owner = volunteer(f, "owner", "C1");
    let stranger = volunteer(f, "stranger", "C1");
    let device = Uuid::new_v4();
    bind(f, device, &owner, 100);
    let family = login(f, 1, &owner, device, 100);
    push_ack(f, device, 7, None);

    assert!(!f.store.unbind_device(stranger.id, device).unwrap());
    assert!(!f.store.unbind_device(owner.id, Uuid::new_v4()).unwrap());
    assert!(!state(f, family).revoked, "a refused unbind ends nothing");
    assert_eq!(state(f, family).device_owner, Some(owner.id));

    assert!(f.store.unbind_device(owner.id, device).unwrap());
    let s = state(f, family);
    assert!(s.revoked);
    assert_eq!(s.device_owner, None);
    assert!(f.store.user_devices(owner.id).unwrap().is_empty());
    assert!(!f.store.unbind_device(owner.id, device).unwrap(), "once");

    assert_eq!(bind(f, device, &stranger, 200), BindOutcome::Bound);
    let mut acked = None;
    f.store
        .push(&mut |tx| {
            acked = tx.device(device)?.map(|d| (d.user_id, d.acked_seq));
            Ok(())
        })
        .unwrap();
    assert_eq!(
        acked,
        Some((Some(stranger.id), 7)),
        "the sequence continues"
    );
    let rows = f.store.list_devices(None, 0).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].acked_seq, rows[0].user.id), (7, stranger.id));
}

fn refresh_tokens_rotate_and_a_reuse_ends_the_login(f: &Fixture) {
    create_centre(f, "C1");
    let user = volunteer(f, "rotor", "C1");
    let device = Uuid::new_v4();
    bind(f, device, &user, 100);
    let family = login(f, 1, &user, device, 100);
    let other_family = login(f, 9, &user, device, 100);
    assert_ne!(family, other_family);
    let rotated = RotateOutcome::Rotated {
        user_id: user.id,
        device_id: device,
        family,
    };
    let rotate = |old: u8, new: u8, device: Option<Uuid>, now: i64| {
        f.store
            .rotate_refresh_token(&hash(old), &hash(new), device, now, now + HOUR, 0)
            .unwrap()
    };
    assert_eq!(rotate(42, 43, Some(device), 110), RotateOutcome::Unknown);
    assert_eq!(rotate(1, 2, Some(device), 110), rotated);
    assert_eq!(rotate(2, 3, None, 120), rotated, "no device needed");
    assert!(!state(f, family).revoked);
    // Token 1 again, long after: stolen.
    assert_eq!(rotate(1, 4, Some(device), 500), RotateOutcome::Reused);
    assert!(state(f, family).revoked);
    assert_eq!(rotate(3, 5, Some(device), 510), RotateOutcome::Revoked);
    assert_eq!(rotate(4, 6, Some(device), 510), RotateOutcome::Unknown);
    // Only that family.
    assert!(!state(f, other_family).revoked);
    assert_eq!(
        rotate(9, 10, Some(device), 520),
        RotateOutcome::Rotated {
            user_id: user.id,
            device_id: device,
            family: other_family,
        }
    );

    // Logout.
    f.store.revoke_login(&hash(10)).unwrap();
    assert!(state(f, other_family).revoked);
    assert_eq!(rotate(10, 11, Some(device), 530), RotateOutcome::Revoked);
    f.store.revoke_login(&hash(77)).unwrap();
    assert_eq!(
        f.store.login_state(family + other_family + 100).unwrap(),
        None
    );
}

fn an_expired_refresh_token_is_refused(f: &Fixture) {
    let user = create(f, new_user("expiry", Role::Admin, None));
    let device = Uuid::new_v4();
    bind(f, device, &user, 100);
    let family = f
        .store
        .create_refresh_token(&hash(1), user.id, device, 200, 100)
        .unwrap();
    let rotate = |old: u8, new: u8, now: i64| {
        f.store
            .rotate_refresh_token(&hash(old), &hash(new), Some(device), now, now + 100, 60)
            .unwrap()
    };
    assert_eq!(rotate(1, 2, 200), RotateOutcome::Expired, "at expiry");
    assert_eq!(rotate(1, 2, 300), RotateOutcome::Expired);
    assert!(!state(f, family).revoked, "expiry ends nothing else");
    // A second login, rotated just before expiry.
    let family = f
        .store
        .create_refresh_token(&hash(3), user.id, device, 200, 100)
        .unwrap();
    assert!(matches!(
        rotate(3, 4, 199),
        RotateOutcome::Rotated { family: got, .. } if got == family
    ));
    assert_eq!(rotate(4, 5, 299), RotateOutcome::Expired);
}

fn a_lost_answer_is_retried_within_the_grace_window(f: &Fixture) {
    let user = create(f, new_user("grace", Role::Admin, None));
    let device = Uuid::new_v4();
    bind(f, device, &user, 100);
    let rotate = |old: u8, new: u8, device: Option<Uuid>, now: i64| {
        f.store
            .rotate_refresh_token(&hash(old), &hash(new), device, now, now + HOUR, 10)
            .unwrap()
    };

    let family = login(f, 1, &user, device, 100);
    let rotated = RotateOutcome::Rotated {
        user_id: user.id,
        device_id: device,
        family,
    };
    assert_eq!(rotate(1, 2, Some(device), 100), rotated);
    // The answer carrying token 2 was lost: token 1 again, soon, from its
    // device, while 2 is unused: 2 is revoked and 3 replaces it.
    assert_eq!(
        rotate(1, 3, Some(device), 110),
        rotated,
        "at the window's end"
    );
    assert_eq!(rotate(2, 4, Some(device), 111), RotateOutcome::Unknown);
    assert!(!state(f, family).revoked);
    // Once only.
    assert_eq!(rotate(1, 5, Some(device), 112), RotateOutcome::Reused);
    assert!(state(f, family).revoked);
    assert_eq!(rotate(3, 6, Some(device), 113), RotateOutcome::Revoked);

    // From another device, or none: stolen.
    let family = login(f, 11, &user, device, 200);
    assert!(matches!(
        rotate(11, 12, Some(device), 200),
        RotateOutcome::Rotated { .. }
    ));
    assert_eq!(
        rotate(11, 13, Some(Uuid::new_v4()), 201),
        RotateOutcome::Reused
    );
    assert!(state(f, family).revoked);
    let family = login(f, 21, &user, device, 200);
    assert!(matches!(
        rotate(21, 22, Some(device), 200),
        RotateOutcome::Rotated { .. }
    ));
    assert_eq!(rotate(21, 23, None, 201), RotateOutcome::Reused);
    assert!(state(f, family).revoked);

    // Too late.
    let family = login(f, 31, &user, device, 200);
    assert!(matches!(
        rotate(31, 32, Some(device), 200),
        RotateOutcome::Rotated { .. }
    ));
    assert_eq!(rotate(31, 33, Some(device), 211), RotateOutcome::Reused);
    assert!(state(f, family).revoked);

    // The successor was used: its answer was not lost.
    let family = login(f, 41, &user, device, 200);
    assert!(matches!(
        rotate(41, 42, Some(device), 200),
        RotateOutcome::Rotated { .. }
    ));
    assert!(matches!(
        rotate(42, 43, Some(device), 201),
        RotateOutcome::Rotated { .. }
    ));
    assert_eq!(rotate(41, 44, Some(device), 202), RotateOutcome::Reused);
    assert!(state(f, family).revoked);
}

fn concurrent_rotations_spend_a_token_once(f: &Fixture) {
    let user = create(f, new_user("racer", Role::Admin, None));
    let device = Uuid::new_v4();
    bind(f, device, &user, 100);
    let family = login(f, 1, &user, device, 100);
    let barrier = Barrier::new(8);
    let outcomes: Vec<RotateOutcome> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..8u8)
            .map(|i| {
                let store = f.store.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    // No device: a second spend is never graced.
                    store
                        .rotate_refresh_token(&hash(1), &hash(100 + i), None, 150, 150 + HOUR, 60)
                        .unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, RotateOutcome::Rotated { .. }))
        .count();
    let reused = outcomes
        .iter()
        .filter(|o| **o == RotateOutcome::Reused)
        .count();
    // The first spends it, the second finds it spent and ends the login,
    // the others find the login ended.
    let revoked = outcomes
        .iter()
        .filter(|o| **o == RotateOutcome::Revoked)
        .count();
    assert_eq!((rotated, reused, revoked), (1, 1, 6), "{outcomes:?}");
    assert!(state(f, family).revoked);
}

fn login_state_follows_the_device(f: &Fixture) {
    create_centre(f, "C1");
    let user = volunteer(f, "stateful", "C1");
    let device = Uuid::new_v4();
    // A login on a device never bound: no owner, no resync, never seen.
    let unbound = login(f, 1, &user, device, 50);
    assert_eq!(
        state(f, unbound),
        LoginState {
            revoked: false,
            user_disabled: false,
            device_owner: None,
            resync: 0,
            last_seen_at: None,
            acked_seq: 0,
        }
    );
    bind(f, device, &user, 100);
    f.store.touch_device(device, 175).unwrap();
    f.store.touch_device(Uuid::new_v4(), 180).unwrap();
    assert_eq!(
        state(f, unbound),
        LoginState {
            revoked: false,
            user_disabled: false,
            device_owner: Some(user.id),
            resync: 0,
            last_seen_at: Some(175),
            acked_seq: 0,
        }
    );
    assert_eq!(f.store.login_state(unbound + 1000).unwrap(), None);
}

fn devices_are_listed_with_their_users(f: &Fixture) {
    create_centre(f, "C1");
    create_centre(f, "C2");
    // Ordered by display name with ASCII letters folded: "Émile" keeps its
    // capital, and sorts before "éa" byte by byte.
    let mut named = Vec::new();
    for (username, display, centre) in [
        ("zed", "Zed", "C1"),
        ("alice", "alice", "C1"),
        ("bob", "Bob", "C2"),
        ("ea", "éa", "C1"),
        ("emile", "Émile", "C1"),
    ] {
        let mut user = new_user(username, Role::Volunteer, Some(centre));
        user.display_name = display.to_owned();
        named.push(create(f, user));
    }
    let never = volunteer(f, "nodevice", "C1");
    let mut devices = HashMap::new();
    for (i, user) in named.iter().enumerate() {
        let device = Uuid::new_v4();
        let now = 1_000 + i64::try_from(i).unwrap();
        assert_eq!(bind(f, device, user, now), BindOutcome::Bound);
        devices.insert(user.username.clone(), device);
    }
    // Zed has two, listed in the order they were bound.
    let zed2 = Uuid::new_v4();
    bind(f, zed2, &named[0], 2_000);
    push_ack(f, zed2, 3, Some(5_000));
    // Unbound devices are not listed.
    let gone = Uuid::new_v4();
    bind(f, gone, &never, 1_000);
    f.store.unbind_device(never.id, gone).unwrap();

    let rows = f.store.list_devices(None, 0).unwrap();
    let order: Vec<(&str, Uuid)> = rows
        .iter()
        .map(|r| (r.user.username.as_str(), r.device_id))
        .collect();
    assert_eq!(
        order,
        [
            ("alice", devices["alice"]),
            ("bob", devices["bob"]),
            ("zed", devices["zed"]),
            ("zed", zed2),
            ("emile", devices["emile"]),
            ("ea", devices["ea"]),
        ]
    );
    let alice = &rows[0];
    assert_eq!(&alice.user, &named[1]);
    assert_eq!(
        (
            alice.bound_at,
            alice.last_seen_at,
            alice.last_push_at,
            alice.acked_seq,
            alice.clock_offset_ms,
            alice.rejections
        ),
        (Some(1_001), Some(1_001), None, 0, 0, 0)
    );
    let pushed = &rows[3];
    assert_eq!(
        (
            pushed.bound_at,
            pushed.last_seen_at,
            pushed.last_push_at,
            pushed.acked_seq,
            pushed.clock_offset_ms,
            pushed.rejections
        ),
        (Some(2_000), Some(5_000), Some(5_000), 3, -250, 1)
    );
    let since_after = f.store.list_devices(None, 5_001).unwrap();
    assert_eq!(since_after[3].rejections, 0, "rejections before `since`");
    let since_at = f.store.list_devices(None, 5_000).unwrap();
    assert_eq!(since_at[3].rejections, 1, "`since` is inclusive");

    let c2: Vec<Uuid> = f
        .store
        .list_devices(Some("C2"), 0)
        .unwrap()
        .into_iter()
        .map(|r| r.device_id)
        .collect();
    assert_eq!(c2, [devices["bob"]]);
    assert!(f.store.list_devices(Some("C9"), 0).unwrap().is_empty());
}

fn users_match_by_name_or_username_without_regard_to_case(f: &Fixture) {
    create_centre(f, "C1");
    create_centre(f, "C2");
    let mut made = HashMap::new();
    for (username, display, centre) in [
        ("somchai", "Somchai Jaidee", Some("C1")),
        ("anan_k", "Anan Kaew", Some("C1")),
        ("niran", "100% Niran", Some("C2")),
        ("busaba", "Busaba back\\slash", Some("C2")),
        ("root", "Administrator", None),
    ] {
        let mut user = new_user(username, Role::Volunteer, centre);
        user.display_name = display.to_owned();
        made.insert(username, create(f, user).id);
    }
    let matching = |centre: Option<&str>, text: &str| -> HashSet<Uuid> {
        f.store
            .users_matching(centre, text)
            .unwrap()
            .into_iter()
            .collect()
    };
    let ids = |names: &[&str]| -> HashSet<Uuid> { names.iter().map(|n| made[n]).collect() };
    assert_eq!(matching(None, "JAI"), ids(&["somchai"]));
    assert_eq!(matching(None, "jaidee"), ids(&["somchai"]));
    assert_eq!(matching(None, "SOMCH"), ids(&["somchai"]));
    assert_eq!(matching(None, "an"), ids(&["anan_k", "niran"]));
    assert_eq!(matching(None, "ADMIN"), ids(&["root"]));
    assert_eq!(matching(Some("C1"), "an"), ids(&["anan_k"]));
    assert_eq!(matching(Some("C2"), "AN"), ids(&["niran"]));
    // `%`, `_` and `\` are themselves.
    assert_eq!(matching(None, "%"), ids(&["niran"]));
    assert_eq!(matching(None, "0% n"), ids(&["niran"]));
    assert_eq!(matching(None, "_"), ids(&["anan_k"]));
    assert_eq!(matching(None, "n_k"), ids(&["anan_k"]));
    assert_eq!(matching(None, "a_a"), ids(&[]));
    assert_eq!(matching(None, "\\"), ids(&["busaba"]));
    assert_eq!(matching(None, "k\\s"), ids(&["busaba"]));
    assert_eq!(matching(None, "nobody"), ids(&[]));
    assert_eq!(
        matching(None, ""),
        ids(&["somchai", "anan_k", "niran", "busaba", "root"])
    );
    assert_eq!(matching(Some("C9"), ""), ids(&[]));
    let listed = f.store.users_matching(None, "").unwrap();
    assert_eq!(listed.len(), 5, "each user once");
}

fn web_sessions_are_found_touched_and_ended(f: &Fixture) {
    create_centre(f, "C1");
    let manager = create(f, new_user("manager", Role::Manager, Some("C1")));
    let other = create(f, new_user("other", Role::Manager, Some("C1")));
    f.store
        .create_web_session(&hash(1), manager.id, "csrf-1", 1_000)
        .unwrap();
    f.store
        .create_web_session(&hash(2), other.id, "csrf-2", 900)
        .unwrap();
    let session = f
        .store
        .web_session(&hash(1), 1_000)
        .unwrap()
        .expect("used at the limit: found");
    assert_eq!(session.user, manager);
    assert_eq!(session.csrf, "csrf-1");
    assert_eq!(session.last_seen_at, 1_000);
    assert!(f.store.web_session(&hash(3), 0).unwrap().is_none());
    // Idle since before `idle_since`: not found.
    assert!(f.store.web_session(&hash(2), 901).unwrap().is_none());

    // Touching one forgets every idle one.
    f.store.touch_web_session(&hash(1), 1_500, 950).unwrap();
    let session = f.store.web_session(&hash(1), 0).unwrap().unwrap();
    assert_eq!(session.last_seen_at, 1_500);
    assert!(
        f.store.web_session(&hash(2), 0).unwrap().is_none(),
        "deleted, not only filtered"
    );
    // Touching a session that is gone is no error, and spares fresh ones.
    f.store.touch_web_session(&hash(2), 1_600, 1_400).unwrap();
    assert!(f.store.web_session(&hash(1), 0).unwrap().is_some());
    assert!(f.store.web_session(&hash(2), 0).unwrap().is_none());

    // A session whose user does not exist is not found.
    f.store
        .create_web_session(&hash(4), Uuid::new_v4(), "csrf-4", 1_500)
        .unwrap();
    assert!(f.store.web_session(&hash(4), 0).unwrap().is_none());

    f.store.end_web_session(&hash(1)).unwrap();
    assert!(f.store.web_session(&hash(1), 0).unwrap().is_none());
    f.store.end_web_session(&hash(1)).unwrap();
}

conformance!(
    users_are_found_by_name_without_regard_to_case,
    a_username_taken_in_any_case_is_refused,
    a_user_of_an_unknown_centre_is_refused,
    concurrent_creations_of_one_username_make_one_user,
    users_are_listed_by_lowercased_username_a_page_at_a_time,
    update_user_applies_a_patch,
    disabling_a_user_revokes_every_login,
    a_scope_change_marks_every_device_for_resync,
    display_names_of_known_users,
    centres_are_created_updated_and_listed,
    login_attempts_are_counted_by_username_and_address,
    concurrent_logins_are_counted_before_passwords_are_checked,
    bind_device_binds_keeps_and_takes_over,
    an_unbound_device_is_bound_without_asking,
    concurrent_binds_give_a_device_one_owner,
    unbind_device_revokes_and_keeps_the_sequence,
    refresh_tokens_rotate_and_a_reuse_ends_the_login,
    an_expired_refresh_token_is_refused,
    a_lost_answer_is_retried_within_the_grace_window,
    concurrent_rotations_spend_a_token_once,
    login_state_follows_the_device,
    devices_are_listed_with_their_users,
    users_match_by_name_or_username_without_regard_to_case,
    web_sessions_are_found_touched_and_ended,
);
