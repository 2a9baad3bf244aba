//! The user directory a manager's or admin's device keeps, so authors of
//! records and conflicts show by name rather than by id.
//!
//! It is filled from `GET /v1/users` at the end of a sync, only when the
//! signed-in user may read it (a volunteer's request would be refused) and
//! only when it could hold news: it was never read, or the sync pulled a
//! change by someone it does not know. A server without the endpoint (404)
//! or one that refuses it (403) leaves the directory as it is and the sync
//! succeeds.

use std::collections::HashSet;

use crate::types::Role;
use reqwest::{Method, StatusCode};
use sync_core::wire::UsersPage;
use uuid::Uuid;

use crate::client::Client;
use crate::error::{Result, StepExt};
use crate::http::Meter;
use crate::store;
use crate::sync::encode_query;
use crate::types::KnownUser;

/// The most one page of the directory takes (100 users with their names).
const DIRECTORY_PAGE_BOUND: u64 = 48 * 1024;

/// Set once the directory was read in full at least once.
const META_DIRECTORY_READ: &str = "directory_read";

impl Client {
    /// Reads the directory when the user may and it could hold news about
    /// `authors` (the authors of the changes this sync pulled).
    pub(crate) fn refresh_directory(
        &self,
        authors: &HashSet<Uuid>,
        meter: &mut Meter,
    ) -> Result<()> {
        let Some(me) = self.user() else {
            return Ok(());
        };
        if !matches!(me.role, Role::Manager | Role::Admin) {
            return Ok(());
        }
        {
            let local = self.lock();
            let read_before = store::get_meta(&local.conn, META_DIRECTORY_READ)?.is_some();
            let mut news = false;
            for author in authors.iter().filter(|a| **a != me.id) {
                if !store::is_known_user(&local.conn, *author)? {
                    news = true;
                    break;
                }
            }
            if read_before && !news {
                return Ok(());
            }
        }
        let mut users = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let path = match &token {
                Some(t) => format!("/v1/users?page_token={}", encode_query(t)),
                None => "/v1/users".to_owned(),
            };
            let response = self.call(
                Method::GET,
                &path,
                None,
                "application/json",
                DIRECTORY_PAGE_BOUND,
                meter,
            )?;
            match response.status {
                StatusCode::OK => {}
                // A server without the directory, or one that keeps it from
                // this user: names stay as they are.
                StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => return Ok(()),
                _ => return Err(response.into_error()),
            }
            let page: UsersPage = response.json()?;
            users.extend(page.users.into_iter().map(|u| KnownUser {
                id: u.id,
                username: u.username,
                display_name: Some(u.display_name),
            }));
            match page.next_page_token {
                // A token handed back unchanged would loop forever.
                Some(t) if token.as_deref() != Some(t.as_str()) => token = Some(t),
                _ => break,
            }
        }
        let mut local = self.lock();
        let tx = local
            .conn
            .transaction()
            .step("starting to save the user directory")?;
        store::upsert_users(&tx, &users)?;
        store::set_meta(&tx, META_DIRECTORY_READ, "1")?;
        tx.commit().step("saving the user directory")?;
        Ok(())
    }
}
