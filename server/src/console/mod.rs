//! The web console's presentation layer: pure functions from plain view
//! models to HTML ([`maud::Markup`]). No IO, no store, no actix: the console's
//! handlers read the store, fill these view models and send the markup.
//!
//! The pages work without JavaScript (the Content-Security-Policy forbids
//! it): links, GET forms for filters, POST forms (each with a hidden `csrf`
//! field) for changes, `<details>` for folding. Every word comes from
//! [`i18n`], in Thai or English. The stylesheet is [`CSS`], served at
//! [`urls::CSS`]; nothing is loaded from anywhere else.
//!
//! Times: moments are unix seconds (UTC) and are shown in Thailand's time
//! (UTC+07:00, no daylight saving); a session's `started_at` is the RFC 3339
//! text the volunteer's phone wrote. Dates are `YYYY-MM-DD`.

pub mod charts;
pub mod i18n;
pub mod layout;

mod beneficiary;
mod conflicts;
mod devices;
mod duplicates;
mod error_page;
mod login;
mod programme;
mod session_detail;
mod sessions;
mod volunteers;

#[cfg(test)]
mod testing;

pub use beneficiary::{beneficiary_detail, BeneficiaryDetail};
pub use conflicts::{conflicts, ConflictKey, ConflictRecord, ConflictValue, ConflictsPage};
pub use devices::{devices, DeviceRow, DevicesPage, SKEW_LIMIT_MS, STALE_AFTER_SECS};
pub use duplicates::{duplicates, DuplicateRow, DuplicatesPage, Person};
pub use error_page::{error_page, ErrorPage};
pub use i18n::{Lang, Text};
pub use layout::{Flash, NavItem, Notice, PageContext, SignedIn};
pub use login::{login, LoginPage};
pub use programme::{
    programme, HelpTypeStat, ProgrammePage, Totals, VillageStat, VolunteerStat, WeekStat,
};
pub use session_detail::{
    session_detail, HistoryEntry, KeyWrite, LinkedBeneficiary, SessionDetail,
};
pub use sessions::{sessions, DeletedFilter, SessionFilter, SessionRow, SessionsPage};
pub use volunteers::{volunteers, CreateVolunteerForm, VolunteerRow, VolunteersPage};

/// The console's stylesheet, to serve at [`urls::CSS`] as `text/css`.
pub const CSS: &str = include_str!("console.css");

/// A short fingerprint of [`CSS`] (FNV-1a, 8 hex digits). Pages link the
/// stylesheet as `/console/console.css?v=<this>`, so the handler may serve it
/// with a long `Cache-Control` and an `ETag` of this value.
pub fn css_version() -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in CSS.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// A user's role, as the console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Volunteer,
    Manager,
    Admin,
}

impl Role {
    pub fn label(self, lang: Lang) -> &'static str {
        lang.t(match self {
            Role::Volunteer => Text::RoleVolunteer,
            Role::Manager => Text::RoleManager,
            Role::Admin => Text::RoleAdmin,
        })
    }
}

/// A value of a record key, as the console shows it (from the record's JSON
/// value; see `From<&serde_json::Value>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Text(n.to_string()),
            },
            serde_json::Value::String(s) => Value::Text(s.clone()),
            other => Value::Text(other.to_string()),
        }
    }
}

/// The short form of a device or user id shown on pages: its last 8 hex
/// digits (random in both UUID v4 and v7), as the command line shows users.
pub fn short_id(id: &str) -> String {
    let hex: Vec<char> = id.chars().filter(char::is_ascii_hexdigit).collect();
    if hex.len() < 8 {
        return id.to_owned();
    }
    hex[hex.len() - 8..]
        .iter()
        .collect::<String>()
        .to_lowercase()
}

/// The console's URLs: the ones pages link or post to. Handlers route them.
pub mod urls {
    pub const HOME: &str = "/";
    pub const CSS: &str = "/console/console.css";
    pub const LOGIN: &str = "/login";
    pub const LOGOUT: &str = "/logout";
    pub const LANG: &str = "/lang";
    pub const SESSIONS: &str = "/sessions";
    pub const CONFLICTS: &str = "/conflicts";
    pub const DEVICES: &str = "/devices";
    pub const VOLUNTEERS: &str = "/volunteers";
    pub const PROGRAMME: &str = "/programme";
    pub const DUPLICATES: &str = "/duplicates";
    /// POST `a`, `b`: not the same person.
    pub const DISMISS_DUPLICATE: &str = "/duplicates/dismiss";
    /// POST `a`, `b`: the same person; `b` is merged into `a`.
    pub const MERGE_DUPLICATE: &str = "/duplicates/merge";

    /// `/sessions/{id}`: one session's page.
    pub fn session(id: &str) -> String {
        format!("{SESSIONS}/{}", encode(id))
    }

    /// `/beneficiaries/{id}`: one beneficiary's page.
    pub fn beneficiary(id: &str) -> String {
        format!("/beneficiaries/{}", encode(id))
    }

    /// `/conflicts/{collection}/{id}`: GET shows this record's conflicts
    /// (the conflicts page with one record), POST resolves one key.
    pub fn conflict_record(collection: &str, id: &str) -> String {
        format!("{CONFLICTS}/{}/{}", encode(collection), encode(id))
    }

    /// `/devices/{device_id}/unbind` (POST).
    pub fn unbind_device(device_id: &str) -> String {
        format!("{DEVICES}/{}/unbind", encode(device_id))
    }

    /// `/volunteers` (POST) creates a volunteer.
    pub fn create_volunteer() -> &'static str {
        VOLUNTEERS
    }

    /// `/volunteers/{user_id}/{action}` (POST), `action` one of `disable`,
    /// `enable`, `password`, `rename`.
    pub fn volunteer_action(user_id: &str, action: &str) -> String {
        format!("{VOLUNTEERS}/{}/{action}", encode(user_id))
    }

    /// `/lang?to=en&back=<path>`: the language switch.
    pub fn lang_switch(to: super::Lang, back: &str) -> String {
        format!("{LANG}?to={}&back={}", to.code(), encode(back))
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    pub fn encode(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_is_small_and_fingerprinted() {
        assert!(CSS.len() < 12 * 1024, "console.css is {} bytes", CSS.len());
        assert_eq!(css_version().len(), 8);
        assert_eq!(css_version(), css_version());
    }

    #[test]
    fn short_ids_are_the_last_eight_hex_digits() {
        assert_eq!(short_id("6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11"), "1c9e0a11");
        assert_eq!(short_id("6F1C0B2E-8D1E-4C55-9A37-2F3D1C9E0A11"), "1c9e0a11");
        assert_eq!(short_id("abc"), "abc");
    }

    #[test]
    fn urls_encode_what_they_carry() {
        assert_eq!(urls::session("a b/../c"), "/sessions/a%20b%2F..%2Fc");
        assert_eq!(
            urls::lang_switch(Lang::En, "/sessions?from=2026-01-01&help_type=other"),
            "/lang?to=en&back=%2Fsessions%3Ffrom%3D2026-01-01%26help_type%3Dother"
        );
        assert_eq!(
            urls::conflict_record("sessions", "0190c1a2-0000-7000-8000-000000000001"),
            "/conflicts/sessions/0190c1a2-0000-7000-8000-000000000001"
        );
        assert_eq!(urls::encode("ไทย"), "%E0%B9%84%E0%B8%97%E0%B8%A2");
    }

    #[test]
    fn values_from_json() {
        use serde_json::json;
        assert_eq!(Value::from(&json!(null)), Value::Null);
        assert_eq!(Value::from(&json!(true)), Value::Bool(true));
        assert_eq!(Value::from(&json!(45)), Value::Int(45));
        assert_eq!(Value::from(&json!(1.5)), Value::Text("1.5".into()));
        assert_eq!(Value::from(&json!("ก")), Value::Text("ก".into()));
        assert_eq!(Value::from(&json!([1])), Value::Text("[1]".into()));
    }

    /// No UI text outside `i18n.rs`: no Thai letter in the code (tests aside)
    /// of any other file of the console.
    #[test]
    fn no_thai_text_outside_i18n() {
        let files = [
            ("mod.rs", include_str!("mod.rs")),
            ("layout.rs", include_str!("layout.rs")),
            ("charts.rs", include_str!("charts.rs")),
            ("login.rs", include_str!("login.rs")),
            ("sessions.rs", include_str!("sessions.rs")),
            ("session_detail.rs", include_str!("session_detail.rs")),
            ("beneficiary.rs", include_str!("beneficiary.rs")),
            ("conflicts.rs", include_str!("conflicts.rs")),
            ("devices.rs", include_str!("devices.rs")),
            ("volunteers.rs", include_str!("volunteers.rs")),
            ("programme.rs", include_str!("programme.rs")),
            ("error_page.rs", include_str!("error_page.rs")),
            ("console.css", CSS),
        ];
        let marker = ["#[cfg(test)]", "\nmod tests"].concat();
        for (name, text) in files {
            let code = text.split(marker.as_str()).next().unwrap_or(text);
            let thai: Vec<&str> = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .filter(|l| l.chars().any(|c| ('\u{0E00}'..='\u{0E7F}').contains(&c)))
                .collect();
            assert!(thai.is_empty(), "{name} has UI text: {thai:?}");
        }
    }
}
