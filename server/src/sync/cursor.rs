//! Pull cursors: opaque to clients, valid forever. A cursor is the position in
//! the change log after which the next page starts, versioned so the form can
//! change without breaking cursors already handed out.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

const VERSION: u8 = 1;

pub fn encode(after_seq: i64) -> String {
    let mut bytes = [0u8; 9];
    bytes[0] = VERSION;
    bytes[1..].copy_from_slice(&after_seq.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `None` when the text is not a cursor this server handed out.
pub fn decode(text: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let (&version, seq) = bytes.split_first()?;
    if version != VERSION || seq.len() != 8 {
        return None;
    }
    let mut be = [0u8; 8];
    be.copy_from_slice(seq);
    Some(i64::from_be_bytes(be)).filter(|s| *s >= 0)
}

/// What a cursor looks like: 12 base64url characters whose first byte is
/// the version (1) and whose position is not negative. Every string of this
/// form is a valid cursor, so the OpenAPI document can state it exactly.
pub const PATTERN: &str = "^A[Q-X][A-Za-z0-9_-]{10}$";

/// A page token that resumes a listing after a text key (a username): the
/// key's bytes in lowercase hex. Any even-length hex string is a position.
pub fn encode_text(after: &str) -> String {
    after.bytes().map(|b| format!("{b:02x}")).collect()
}

/// `None` when the token is not even-length lowercase hex.
pub fn decode_text(token: &str) -> Option<String> {
    if token.len() % 2 != 0
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
        for seq in [0, 1, 4242, i64::MAX] {
            let text = encode(seq);
            assert_eq!(decode(&text), Some(seq));
            assert!(text.starts_with('A') && text.len() == 12, "{text}");
            assert!(
                ('Q'..='X').contains(&text.chars().nth(1).unwrap()),
                "{text}"
            );
        }
        // The extremes of the pattern decode too.
        assert_eq!(decode("AQAAAAAAAAAA"), Some(0));
        assert_eq!(decode("AX__________"), Some(i64::MAX));
        assert_eq!(decode("AY__________"), None, "a negative position");
        assert_eq!(
            decode_text(&encode_text("somchai")).as_deref(),
            Some("somchai")
        );
        assert_eq!(decode_text("abc"), None);
    }
}
