//! Tokens: an access token that expired during a long offline period is
//! refreshed transparently; an expired login asks the user to log in again.

use client_sdk::{Error, SyncStatus};

use crate::support::{new_session, sync_ok, World};

const DAY_MS: u64 = 24 * 3600 * 1000;

#[test]
fn an_access_token_expired_while_offline_is_refreshed_transparently() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let a = world.device(&vol);
    a.create_session(&new_session("ก่อนออฟไลน์")).unwrap();
    sync_ok(&a);

    // Three days in the field: the 15-minute access token is long dead.
    world.app.clock.advance(3 * DAY_MS);
    let id = a.create_session(&new_session("หลังออฟไลน์")).unwrap();
    let report = sync_ok(&a);
    assert_eq!(report.acked, 1);
    assert_eq!(
        a.status(client_sdk::Collection::Sessions, id).unwrap(),
        SyncStatus::Synced
    );
    // The rotated tokens were stored: the next expiry refreshes again.
    world.app.clock.advance(DAY_MS);
    a.create_session(&new_session("อีกวัน")).unwrap();
    sync_ok(&a);

    // Past the refresh token's 60 days the user must log in; nothing is lost.
    world.app.clock.advance(61 * DAY_MS);
    a.create_session(&new_session("นานมาก")).unwrap();
    let err = a.sync().unwrap_err();
    assert!(
        matches!(&err, Error::LoginRequired { code } if code == "refresh_token_expired"),
        "{err}"
    );
    assert_eq!(a.pending_count().unwrap(), 1);
    a.login(&vol.username, &vol.password).unwrap();
    assert_eq!(sync_ok(&a).acked, 1);
}

#[test]
fn a_wrong_password_is_a_typed_error() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let a = client_sdk::Client::open(world.new_db(), world.config()).unwrap();
    let err = a.login(&vol.username, "wrong").unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials), "{err}");
    let err = a.create_session(&new_session("x")).unwrap_err();
    assert!(matches!(err, Error::NotLoggedIn), "{err}");
    assert!(matches!(a.sync().unwrap_err(), Error::NotLoggedIn));
}

#[test]
fn a_throttled_login_is_a_typed_error_and_is_not_retried() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let a = client_sdk::Client::open(world.new_db(), world.config()).unwrap();
    for _ in 0..5 {
        assert!(matches!(
            a.login(&vol.username, "wrong"),
            Err(Error::InvalidCredentials)
        ));
    }
    let err = a.login(&vol.username, &vol.password).unwrap_err();
    assert!(matches!(&err, Error::Server { status: 429, .. }), "{err}");
}
