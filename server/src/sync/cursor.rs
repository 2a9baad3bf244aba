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

const TEXT_VERSION: u8 = 2;

/// A page token that resumes a listing after a text key (a username).
pub fn encode_text(after: &str) -> String {
    let mut bytes = Vec::with_capacity(after.len() + 1);
    bytes.push(TEXT_VERSION);
    bytes.extend_from_slice(after.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `None` when the text is not a page token of [`encode_text`].
pub fn decode_text(token: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let (&version, text) = bytes.split_first()?;
    if version != TEXT_VERSION {
        return None;
    }
    String::from_utf8(text.to_vec()).ok()
}
