//! Telling whether two beneficiaries are likely the same person, from the
//! way Thai names are written down in the field: with or without a title
//! (นาย, นางสาว, ด.ช.), with spaces and dots where the writer put them,
//! with a zero-width space a keyboard left, and with a slip of a vowel or a
//! tone mark. The phone uses it to offer "is this someone you already
//! know?" before a volunteer creates a second record of the same person.
//!
//! Pure and cheap: a normalised form, and an edit distance on it.

/// Titles written before a name, longest first so that `นางสาว` is not read
/// as `นาง` + `สาว`. Abbreviations are matched after dots are removed.
const TITLES: &[&str] = &[
    "เด็กชาย",
    "เด็กหญิง",
    "นางสาว",
    "ว่าที่ร้อยตรี",
    "คุณ",
    "นาย",
    "นาง",
    "ดช",
    "ดญ",
    "นส",
    "mrs",
    "miss",
    "mr",
    "ms",
];

/// Characters that carry no part of a name: zero-width spaces and joiners,
/// the byte-order mark.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// A name as it is compared: no spaces, punctuation or invisible
/// characters, Latin letters in lower case, no title in front, and no
/// nickname in parentheses (`สมชาย (แดง) ใจดี`).
pub fn normalise(name: &str) -> String {
    let mut depth = 0usize;
    let mut plain: String = name
        .chars()
        .filter(|c| {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .filter(|c| c.is_alphanumeric() || is_thai_mark(*c))
        .filter(|c| !invisible(*c))
        .flat_map(char::to_lowercase)
        .collect();
    // A title may be written twice (`คุณนาย`): strip while one leads, but
    // never strip a name to nothing.
    while let Some(title) = TITLES
        .iter()
        .find(|t| plain.starts_with(**t) && plain.len() > t.len())
    {
        plain.drain(..title.len());
    }
    plain
}

/// Thai vowel signs and tone marks above and below a consonant: not
/// alphanumeric to Unicode, but part of the name.
fn is_thai_mark(c: char) -> bool {
    matches!(c, '\u{0E31}' | '\u{0E34}'..='\u{0E3A}' | '\u{0E47}'..='\u{0E4E}')
}

/// The Levenshtein distance between two strings, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    edit_distance_chars(&a, &b)
}

/// [`edit_distance`] of names already split into characters.
pub fn edit_distance_chars(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Whether two names are likely the same person's: equal once normalised,
/// or apart by a slip or two (one edit in a name of 5 to 8 characters, two
/// in a longer one; names of 4 or fewer must match exactly).
pub fn similar(a: &str, b: &str) -> bool {
    let (a, b) = (normalise(a), normalise(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let shorter = a.chars().count().min(b.chars().count());
    a == b || edit_distance(&a, &b) <= allowed_edits(shorter)
}

/// The slips tolerated between two normalised names, by the length of the
/// shorter in characters: none up to 4, one up to 8, two above.
pub fn allowed_edits(shorter: usize) -> usize {
    match shorter {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// A phone number as it is compared: its digits, with Thailand's +66
/// written as the leading 0 it stands for.
pub fn normalise_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("66") {
        Some(rest) if phone.trim_start().starts_with('+') => format!("0{rest}"),
        _ => digits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_spaces_dots_and_invisible_characters_do_not_count() {
        for written in [
            "นายสมชาย ใจดี",
            "สมชาย  ใจดี",
            "นาย สมชาย ใจดี",
            "สมชาย\u{200B}ใจดี",
            "คุณ สมชาย ใจดี.",
        ] {
            assert_eq!(normalise(written), "สมชายใจดี", "{written}");
        }
        assert_eq!(normalise("ด.ช. ก้องภพ"), "ก้องภพ");
        assert_eq!(normalise("นางสาวมาลี"), "มาลี");
        assert_eq!(normalise("Mr. John Smith"), "johnsmith");
        assert_eq!(normalise("สมชาย (แดง) ใจดี"), "สมชายใจดี", "a nickname");
        assert_eq!(normalise("สมชาย (แดง ใจดี"), "สมชาย", "an unclosed one");
        // A name that is only a title stays as it is.
        assert_eq!(normalise("นาย"), "นาย");
    }

    #[test]
    fn a_slip_of_a_vowel_or_a_tone_mark_is_tolerated_a_different_name_is_not() {
        assert!(similar("สมชาย ใจดี", "นายสมชาย ใจดี"));
        assert!(similar("สมชาย ใจดี", "สมชาย ใจดีี"), "a doubled vowel");
        assert!(similar("มาลี ศรีสุข", "มาลี ศรีสุก"), "a slip of a final");
        assert!(
            similar("ประเสริฐ วงศ์ใหญ่", "ประเสิรฐ วงศ์ใหญ่"),
            "two marks swapped"
        );
        assert!(!similar("สมชาย ใจดี", "สมศักดิ์ ใจดี"));
        assert!(!similar("มานี", "มานะ"), "short names must match");
        assert!(!similar("", "นาย"));
    }

    #[test]
    fn edit_distance_counts_characters_not_bytes() {
        assert_eq!(edit_distance("กา", "กา"), 0);
        assert_eq!(edit_distance("กา", "ขา"), 1);
        assert_eq!(edit_distance("", "กข"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn phones_compare_by_their_digits() {
        assert_eq!(normalise_phone("081-234-5678"), "0812345678");
        assert_eq!(normalise_phone("+66 81 234 5678"), "0812345678");
        assert_eq!(normalise_phone("081 234 5678"), "0812345678");
    }
}
