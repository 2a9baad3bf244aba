//! Finding the beneficiaries of a centre that are likely one person
//! (contract section 10): the same national id, the same phone, or a
//! Thai-aware name match ([`crate::names`]) in the same village with birth
//! years within 2.
//!
//! Never all pairs of a centre: people are put in blocks (by national id,
//! by phone, and by village with the first or the last three characters of
//! their normalised name), and only people who share a block are compared.
//! Two names within the edit distance [`names::similar`] allows share their
//! first or their last three characters unless slips fall at both ends; the
//! benchmark (`cargo bench -p sync-core --bench names`) measures what the
//! blocking costs in recall against comparing every pair of a village.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use crate::names;

/// What the finder reads of one beneficiary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person<'a> {
    pub id: Uuid,
    pub village: &'a str,
    pub name: &'a str,
    pub phone: Option<&'a str>,
    pub national_id: Option<&'a str>,
    pub birth_year: Option<i64>,
}

/// Why two people may be one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    NationalId,
    Phone,
    NameVillageBirthYear,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::NationalId => "national_id",
            Reason::Phone => "phone",
            Reason::NameVillageBirthYear => "name_village_birth_year",
        }
    }

    /// How strongly the reason alone says "the same person": a national id
    /// is one person's; a phone is often a household's.
    fn weight(self) -> f64 {
        match self {
            Reason::NationalId => 0.95,
            Reason::Phone => 0.5,
            Reason::NameVillageBirthYear => 0.7,
        }
    }
}

/// A likely duplicate: `a` < `b`, the reasons in order, and a score in
/// 0..=1 (1 - the product of 1 - weight over the reasons).
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub a: Uuid,
    pub b: Uuid,
    pub reasons: Vec<Reason>,
    pub score: f64,
}

/// Characters of the normalised name that make a block key.
const KEY_CHARS: usize = 3;

/// The likely duplicates among `people`, ordered by descending score and
/// then by ids.
pub fn find(people: &[Person<'_>]) -> Vec<Pair> {
    let prepared: Vec<Prepared> = people.iter().map(Prepared::of).collect();
    let mut blocks: HashMap<Block, Vec<usize>> = HashMap::new();
    for (i, p) in prepared.iter().enumerate() {
        if let Some(id) = &p.national_id {
            blocks
                .entry(Block::NationalId(id.clone()))
                .or_default()
                .push(i);
        }
        if let Some(phone) = &p.phone {
            blocks
                .entry(Block::Phone(phone.clone()))
                .or_default()
                .push(i);
        }
        if !p.chars.is_empty() {
            let n = p.chars.len();
            let head: String = p.chars[..n.min(KEY_CHARS)].iter().collect();
            let tail: String = p.chars[n.saturating_sub(KEY_CHARS)..].iter().collect();
            let village = people[i].village.to_owned();
            blocks
                .entry(Block::NameHead(village.clone(), head))
                .or_default()
                .push(i);
            blocks
                .entry(Block::NameTail(village, tail))
                .or_default()
                .push(i);
        }
    }
    let mut found: BTreeMap<(usize, usize), Vec<Reason>> = BTreeMap::new();
    for (block, members) in &blocks {
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                let key = (i.min(j), i.max(j));
                let reason = match block {
                    Block::NationalId(_) => Some(Reason::NationalId),
                    Block::Phone(_) => Some(Reason::Phone),
                    Block::NameHead(..) | Block::NameTail(..) => names_match(
                        &prepared[i],
                        &prepared[j],
                        people[i].birth_year,
                        people[j].birth_year,
                    )
                    .then_some(Reason::NameVillageBirthYear),
                };
                if let Some(reason) = reason {
                    let reasons = found.entry(key).or_default();
                    if !reasons.contains(&reason) {
                        reasons.push(reason);
                    }
                }
            }
        }
    }
    let mut pairs: Vec<Pair> = found
        .into_iter()
        .map(|((i, j), mut reasons)| {
            reasons.sort_unstable();
            let (a, b) = (
                people[i].id.min(people[j].id),
                people[i].id.max(people[j].id),
            );
            let miss: f64 = reasons.iter().map(|r| 1.0 - r.weight()).product();
            let score = ((1.0 - miss) * 1000.0).round() / 1000.0;
            Pair {
                a,
                b,
                reasons,
                score,
            }
        })
        .filter(|p| p.a != p.b)
        .collect();
    pairs.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then(x.a.cmp(&y.a))
            .then(x.b.cmp(&y.b))
    });
    pairs
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Block {
    NationalId(String),
    Phone(String),
    NameHead(String, String),
    NameTail(String, String),
}

struct Prepared {
    chars: Vec<char>,
    phone: Option<String>,
    national_id: Option<String>,
}

impl Prepared {
    fn of(p: &Person<'_>) -> Prepared {
        let phone = p.phone.map(names::normalise_phone).filter(|d| d.len() >= 8);
        Prepared {
            chars: names::normalise(p.name).chars().collect(),
            phone,
            national_id: p.national_id.map(str::to_owned),
        }
    }
}

/// The name rule between two people already in one village block.
fn names_match(a: &Prepared, b: &Prepared, year_a: Option<i64>, year_b: Option<i64>) -> bool {
    if let (Some(x), Some(y)) = (year_a, year_b) {
        if (x - y).abs() > 2 {
            return false;
        }
    }
    let shorter = a.chars.len().min(b.chars.len());
    let allowed = names::allowed_edits(shorter);
    if a.chars.len().abs_diff(b.chars.len()) > allowed {
        return false;
    }
    a.chars == b.chars || names::edit_distance_chars(&a.chars, &b.chars) <= allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person<'a>(n: u128, village: &'a str, name: &'a str, year: Option<i64>) -> Person<'a> {
        Person {
            id: Uuid::from_u128(n),
            village,
            name,
            phone: None,
            national_id: None,
            birth_year: year,
        }
    }

    #[test]
    fn pairs_by_national_id_phone_and_name_in_a_village() {
        let mut people = vec![
            person(1, "50010203", "นายสมชาย ใจดี", Some(1960)),
            person(2, "50010203", "สมชาย ใจดีี", Some(1961)),
            // Same name, other village: not a pair by name.
            person(3, "50010299", "สมชาย ใจดี", Some(1960)),
            // Same village, birth years 5 apart: not a pair by name.
            person(4, "50010203", "สมชาย ใจดี", Some(1966)),
            person(5, "50010203", "มาลี ศรีสุข", None),
            person(6, "50010203", "บุญมา แก้วดี", None),
        ];
        people[4].national_id = Some("1101700230708");
        people[5].national_id = Some("1101700230708");
        people[2].phone = Some("+66812345678");
        people[4].phone = Some("081-234-5678");
        let pairs = find(&people);
        let shown: Vec<(u128, u128, Vec<&str>)> = pairs
            .iter()
            .map(|p| {
                (
                    p.a.as_u128(),
                    p.b.as_u128(),
                    p.reasons.iter().map(|r| r.name()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                (5, 6, vec!["national_id"]),
                (1, 2, vec!["name_village_birth_year"]),
                (3, 5, vec!["phone"]),
            ]
        );
        assert!(pairs[0].score > pairs[1].score && pairs[1].score > pairs[2].score);
        assert!(pairs.iter().all(|p| (0.0..=1.0).contains(&p.score)));
    }

    #[test]
    fn a_pair_with_several_reasons_is_listed_once_and_scores_higher() {
        let mut people = vec![
            person(2, "50010203", "มาลี ศรีสุข", Some(1970)),
            person(1, "50010203", "นางมาลี ศรีสุข", Some(1970)),
        ];
        people[0].phone = Some("0812345678");
        people[1].phone = Some("0812345678");
        let pairs = find(&people);
        assert_eq!(pairs.len(), 1);
        assert_eq!((pairs[0].a.as_u128(), pairs[0].b.as_u128()), (1, 2));
        assert_eq!(
            pairs[0].reasons,
            [Reason::Phone, Reason::NameVillageBirthYear]
        );
        assert!(pairs[0].score > Reason::NameVillageBirthYear.weight());
    }
}
