//! How values, people and times look to a person reading `asa`'s output.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use client_sdk::{Client, FieldValue, KnownUser, UserInfo};
use uuid::Uuid;

/// Asia/Bangkok: UTC+07:00 all year (Thailand has no daylight saving).
pub const DEFAULT_UTC_OFFSET: &str = "+07:00";

/// Parses a UTC offset: `+07:00`, `+0700`, `+07`, `+7`, `-03:30`, `Z` or `UTC`,
/// between -12:00 and +14:00.
pub fn parse_utc_offset(text: &str) -> Result<FixedOffset, String> {
    let bad = || format!("{text:?} is not a UTC offset; write it like +07:00 or -03:30");
    let t = text.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (hours, minutes) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(hours) || !digits(minutes) {
        return Err(bad());
    }
    let (h, m): (i32, i32) = (
        hours.parse().map_err(|_| bad())?,
        minutes.parse().map_err(|_| bad())?,
    );
    let seconds = sign * (h * 3600 + m * 60);
    if m >= 60 || !(-12 * 3600..=14 * 3600).contains(&seconds) {
        return Err(format!(
            "{text:?} is not a UTC offset between -12:00 and +14:00"
        ));
    }
    FixedOffset::east_opt(seconds).ok_or_else(bad)
}

/// A time in milliseconds since the Unix epoch as a local time, e.g.
/// `2026-11-28 09:35 +07:00`.
pub fn local_time(ms: u64, offset: FixedOffset) -> String {
    match i64::try_from(ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
    {
        Some(t) => t
            .with_timezone(&offset)
            .format("%Y-%m-%d %H:%M %:z")
            .to_string(),
        None => "an unknown time".to_owned(),
    }
}

/// A value as JSON shows it: text in quotes. Not Rust's `{:?}`: Debug escapes
/// Thai combining vowels and tone marks (`\u{e49}`), which no reader could follow.
pub fn value(v: &FieldValue) -> String {
    match v {
        FieldValue::Null => "null".into(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Int(i) => i.to_string(),
        FieldValue::Float(f) => f.to_string(),
        FieldValue::Text(s) => serde_json::Value::String(s.clone()).to_string(),
        FieldValue::Json(text) => plain(text),
        FieldValue::Masked(shown) => format!("••••{}", plain(shown)),
    }
}

/// Text from elsewhere (a server's detail, a person's name) made safe for a
/// terminal: control characters and bidirectional overrides become U+FFFD.
pub fn plain(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Who wrote something: the signed-in user by username, others by the name the
/// device's user directory has for them, else `user 1a2b3c4d` (the end of the id).
#[derive(Debug)]
pub struct Names {
    me: Option<UserInfo>,
    known: HashMap<Uuid, KnownUser>,
}

impl Names {
    pub fn load(client: &Client) -> client_sdk::Result<Names> {
        Ok(Names {
            me: client.user(),
            known: client
                .known_users()?
                .into_iter()
                .map(|u| (u.id, u))
                .collect(),
        })
    }

    pub fn of(&self, id: Uuid) -> String {
        if let Some(me) = self.me.as_ref().filter(|me| me.id == id) {
            return plain(&me.username);
        }
        match self.known.get(&id) {
            Some(u) => match u.display_name.as_deref().map(str::trim) {
                Some(name) if !name.is_empty() && name != u.username => {
                    format!("{} ({})", plain(name), plain(&u.username))
                }
                _ => plain(&u.username),
            },
            // The last 8 hex digits: UUIDv7 ids begin with their creation
            // time, so users made the same day share their first ones.
            None => format!("user {}", &id.simple().to_string()[24..]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_in_the_usual_spellings() {
        for (text, seconds) in [
            ("+07:00", 7 * 3600),
            ("+0700", 7 * 3600),
            ("+07", 7 * 3600),
            ("+7", 7 * 3600),
            ("-03:30", -(3 * 3600 + 1800)),
            ("+05:45", 5 * 3600 + 45 * 60),
            ("Z", 0),
            ("utc", 0),
        ] {
            assert_eq!(
                parse_utc_offset(text).map(|o| o.local_minus_utc()),
                Ok(seconds),
                "{text}"
            );
        }
        for bad in [
            "07:00",
            "+7:60",
            "+15:00",
            "-13",
            "+",
            "+07:00:00",
            "bangkok",
            "",
        ] {
            assert!(parse_utc_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_time_in_bangkok() {
        // 2026-11-28T02:35:00Z
        let ms = 1_795_833_300_000;
        let bangkok = parse_utc_offset(DEFAULT_UTC_OFFSET).unwrap();
        assert_eq!(local_time(ms, bangkok), "2026-11-28 09:35 +07:00");
        assert_eq!(
            local_time(ms, parse_utc_offset("Z").unwrap()),
            "2026-11-28 02:35 +00:00"
        );
    }

    #[test]
    fn control_and_bidi_characters_are_shown_as_replacement_characters() {
        assert_eq!(plain("สมชาย\u{202E}x\n"), "สมชาย\u{FFFD}x\u{FFFD}");
    }
}
