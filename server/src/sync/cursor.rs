//! Pull cursors: opaque to clients. A cursor is the position in the change
//! log after which the next page starts and the log's epoch it was handed out
//! in (a restore starts a new epoch: `store::lineage`), versioned so the form
//! can change without breaking cursors already handed out.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Version 1 had no epoch; version 2 adds it.
const V1: u8 = 1;
const V2: u8 = 2;

/// A decoded cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The epoch; `None` for a version-1 cursor (from before epochs).
    pub epoch: Option<i64>,
    pub after_seq: i64,
}

pub fn encode(epoch: i64, after_seq: i64) -> String {
    let mut bytes = [0u8; 17];
    bytes[0] = V2;
    bytes[1..9].copy_from_slice(&after_seq.to_be_bytes());
    bytes[9..].copy_from_slice(&epoch.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `None` when the text is not a cursor this server handed out.
pub fn decode(text: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let (&version, rest) = bytes.split_first()?;
    let word = |b: &[u8]| -> Option<i64> { Some(i64::from_be_bytes(b.try_into().ok()?)) };
    let cursor = match (version, rest.len()) {
        (V1, 8) => Cursor {
            epoch: None,
            after_seq: word(rest)?,
        },
        (V2, 16) => Cursor {
            epoch: Some(word(&rest[8..])?),
            after_seq: word(&rest[..8])?,
        },
        _ => return None,
    };
    (cursor.after_seq >= 0).then_some(cursor)
}

/// What a cursor looks like: version 1, 12 base64url characters whose first
/// byte is 1 and whose position is not negative; or version 2, 23 characters
/// whose first byte is 2, then a position that is not negative, then any
/// epoch (the last character carries 4 bits and two zero bits). Every string
/// of this form is a valid cursor, so the OpenAPI document can state it
/// exactly.
pub const PATTERN: &str = "^(A[Q-X][A-Za-z0-9_-]{10}|A[g-n][A-Za-z0-9_-]{20}[AEIMQUYcgkosw048])$";

/// A records page token: a position alone, in the version-1 form (records
/// listings are not the change log and have no epoch).
pub fn encode_position(position: i64) -> String {
    let mut bytes = [0u8; 9];
    bytes[0] = V1;
    bytes[1..].copy_from_slice(&position.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `None` when the text is not a page token this server handed out.
pub fn decode_position(text: &str) -> Option<i64> {
    decode(text)
        .filter(|c| c.epoch.is_none())
        .map(|c| c.after_seq)
}

/// What a page token looks like: the version-1 form of [`PATTERN`].
pub const POSITION_PATTERN: &str = "^A[Q-X][A-Za-z0-9_-]{10}$";

/// A page token that resumes a listing after a text key (a username): the
/// key's bytes in lowercase hex. Any even-length hex string is a position.
pub fn encode_text(after: &str) -> String {
    after.bytes().map(|b| format!("{b:02x}")).collect()
}

/// `None` when the token is not even-length lowercase hex.
pub fn decode_text(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2)
        || !token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
        .collect();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

/// What a text page token looks like.
pub const TEXT_PATTERN: &str = "^([0-9a-f]{2})+$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_the_pattern_admits_only_cursors() {
        let pattern = regex_lite(PATTERN);
        for seq in [0, 1, 4242, i64::MAX] {
            for epoch in [0, -1, 77, i64::MIN, i64::MAX] {
                let text = encode(epoch, seq);
                assert_eq!(
                    decode(&text),
                    Some(Cursor {
                        epoch: Some(epoch),
                        after_seq: seq
                    })
                );
                assert!(pattern(&text), "{text}");
            }
        }
        // Version 1 cursors handed out before epochs still decode.
        assert_eq!(
            decode("AQAAAAAAAAAA"),
            Some(Cursor {
                epoch: None,
                after_seq: 0
            })
        );
        assert_eq!(decode("AX__________").map(|c| c.after_seq), Some(i64::MAX));
        assert_eq!(decode("AY__________"), None, "a negative position");
        // The extremes of the version 2 form decode too.
        assert_eq!(
            decode("AgAAAAAAAAAAAAAAAAAAAAA").map(|c| c.epoch),
            Some(Some(0))
        );
        assert_eq!(
            decode("An_________________________8").map(|c| c.after_seq),
            None,
            "too long"
        );
        assert_eq!(
            decode("An____________________8").map(|c| c.epoch),
            Some(Some(-1))
        );
        assert_eq!(
            decode("Ao____________________8"),
            None,
            "a negative position"
        );
        assert_eq!(decode("An____________________9"), None, "trailing bits");
        assert_eq!(
            decode_text(&encode_text("somchai")).as_deref(),
            Some("somchai")
        );
        assert_eq!(decode_text("abc"), None);
        assert_eq!(decode_position(&encode_position(31)), Some(31));
        assert_eq!(decode_position(&encode(1, 31)), None, "a pull cursor");
    }

    /// A matcher for the two alternatives of [`PATTERN`], written out (the
    /// server does not depend on a regex crate).
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        assert!(pattern.contains("A[g-n]"));
        |text: &str| {
            let c: Vec<char> = text.chars().collect();
            let body = |cs: &[char]| {
                cs.iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            };
            match c.len() {
                12 => c[0] == 'A' && ('Q'..='X').contains(&c[1]) && body(&c[2..]),
                23 => {
                    c[0] == 'A'
                        && ('g'..='n').contains(&c[1])
                        && body(&c[2..22])
                        && "AEIMQUYcgkosw048".contains(c[22])
                }
                _ => false,
            }
        }
    }
}
