//! What every store's reads do around their SQL, so that the stores cannot
//! drift apart: a page's cursor and `has_more`, decoding a stored record,
//! and the programme report's figures summed from the sessions a store
//! scanned.

use std::collections::{BTreeMap, HashMap, HashSet};

use sync_core::{codec, Collection};
use uuid::Uuid;

use crate::sync::minimise::{Outgoing, Reader};

use super::{
    GroupFigures, ProgrammeRows, PullPage, RecordPage, StoreError, StoredRecord, VolunteerFigures,
    WeekFigures,
};

/// The rows a page of `limit` asks for: one more tells whether more follow.
pub(crate) fn fetch_limit(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

/// A count of rows as SQL's signed integers.
pub(crate) fn row_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The first `limit` of rows fetched with [`fetch_limit`], and whether more
/// follow.
pub(crate) fn split_page<T>(mut rows: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    (rows, has_more)
}

/// The most bytes a pull page's JSON holds around its changes:
/// `{"changes":[],"cursor":"<23 chars>","has_more":false,"acked_seq":<u64>}`.
pub(crate) const PAGE_ENVELOPE_BYTES: usize = 96;

/// A pull page from the `(seq, body)` rows after `after_seq` (fetched with
/// [`fetch_limit`]) and the end of the log `end`, read in one snapshot with
/// them. A last page moves the cursor to the end of the log, past changes
/// the caller may not or need not see, so that it does not read them again.
/// Each change is as `reader` may get it (`sync::minimise`; `creators`
/// looks up who created the beneficiaries that decides, in one query).
/// With `max_bytes`, the page ends before its JSON would pass that size,
/// but holds at least one change, so that every pull makes progress.
pub(crate) fn pull_page(
    rows: Vec<(i64, String)>,
    limit: usize,
    max_bytes: Option<usize>,
    (after_seq, end): (i64, i64),
    reader: &Reader,
    creators: impl FnOnce(&[Uuid]) -> Result<HashMap<Uuid, Option<Uuid>>, StoreError>,
) -> Result<PullPage, StoreError> {
    let (rows, mut has_more) = split_page(rows, limit);
    let outgoing = Outgoing::new(rows, reader);
    let needed = outgoing.creators_needed();
    let creators = if needed.is_empty() {
        HashMap::new()
    } else {
        creators(&needed)?
    };
    let mut bodies = Vec::new();
    let mut size = PAGE_ENVELOPE_BYTES;
    let mut last_passed = None;
    for (seq, body) in outgoing.finish(&creators) {
        if let Some(body) = body {
            size += body.len() + 1;
            if max_bytes.is_some_and(|max| size > max) && !bodies.is_empty() {
                has_more = true;
                break;
            }
            bodies.push(body);
        }
        last_passed = Some(seq);
    }
    let next_after_seq = if has_more {
        last_passed.unwrap_or(after_seq)
    } else {
        end.max(after_seq)
    };
    Ok(PullPage {
        bodies,
        next_after_seq,
        has_more,
    })
}

/// A record row with its merge state decoded.
pub(crate) fn stored_record(
    collection: Collection,
    id: Uuid,
    centre_id: Option<String>,
    volunteer_id: Option<String>,
    created_by: Option<Uuid>,
    state: &[u8],
) -> Result<StoredRecord, StoreError> {
    let state =
        codec::decode(state).map_err(|e| StoreError::Corrupt(format!("record {id}: {e}")))?;
    Ok(StoredRecord {
        collection,
        id,
        centre_id,
        volunteer_id,
        created_by,
        state,
    })
}

/// A row of a records list, its state not yet decoded.
#[derive(Debug)]
pub(crate) struct RecordRow {
    pub key: i64,
    pub id: Uuid,
    pub centre_id: Option<String>,
    pub volunteer_id: Option<String>,
    pub created_by: Option<Uuid>,
    pub state: Vec<u8>,
}

/// A page of records from rows fetched with [`fetch_limit`]: only the
/// records returned are decoded, and the cursor is the last one's key when
/// more follow.
pub(crate) fn record_page(
    collection: Collection,
    rows: Vec<RecordRow>,
    limit: usize,
) -> Result<RecordPage, StoreError> {
    let (rows, has_more) = split_page(rows, limit);
    let next_after_key = if has_more {
        rows.last().map(|r| r.key)
    } else {
        None
    };
    let records = rows
        .into_iter()
        .map(|r| {
            stored_record(
                collection,
                r.id,
                r.centre_id,
                r.volunteer_id,
                r.created_by,
                &r.state,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(RecordPage {
        records,
        next_after_key,
    })
}

/// Counts per value of a column (a missing value counts as `""`).
pub(crate) fn group_counts(
    rows: impl IntoIterator<Item = (Option<String>, i64)>,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (value, n) in rows {
        *out.entry(value.unwrap_or_default()).or_default() += u64::try_from(n).unwrap_or(0);
    }
    out
}

/// One live session as the programme report reads it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SessionRow<'a> {
    pub volunteer_id: Option<&'a str>,
    /// The local date it started (`YYYY-MM-DD`).
    pub started_on: Option<&'a str>,
    pub help_type: Option<&'a str>,
    pub village_code: Option<&'a str>,
    pub people_helped: Option<i64>,
    pub duration_min: Option<i64>,
    /// Its linked beneficiaries.
    pub beneficiaries: &'a [Uuid],
}

#[derive(Debug, Default)]
struct VolunteerSums {
    sessions: u64,
    people: u64,
    minutes: u64,
    beneficiaries: HashSet<Uuid>,
}

/// Sessions and people helped.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    sessions: u64,
    people: u64,
}

impl Sums {
    fn add(&mut self, people: u64) {
        self.sessions += 1;
        self.people += people;
    }
}

/// Who each beneficiary is, as reports count people (contract section 10):
/// a beneficiary merged into another counts as the one at the end of its
/// `merged_into` chain; in a cycle, the smallest id of the cycle stands for
/// everyone on it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct People {
    /// Only the beneficiaries that count as someone else.
    of: HashMap<Uuid, Uuid>,
}

impl People {
    /// From every `(beneficiary, merged_into)` the store holds; each
    /// beneficiary is walked once, whatever the length of the chains.
    pub(crate) fn from_merges(edges: impl IntoIterator<Item = (Uuid, Uuid)>) -> People {
        let next: HashMap<Uuid, Uuid> = edges.into_iter().collect();
        let mut person_of: HashMap<Uuid, Uuid> = HashMap::new();
        for &start in next.keys() {
            let mut path: Vec<Uuid> = Vec::new();
            let mut on_path: HashMap<Uuid, usize> = HashMap::new();
            let mut current = start;
            let person = loop {
                if let Some(&known) = person_of.get(&current) {
                    break known;
                }
                if let Some(&at) = on_path.get(&current) {
                    break *path[at..].iter().min().expect("a cycle has members");
                }
                match next.get(&current) {
                    None => break current,
                    Some(&n) => {
                        on_path.insert(current, path.len());
                        path.push(current);
                        current = n;
                    }
                }
            };
            for id in path {
                person_of.insert(id, person);
            }
        }
        person_of.retain(|id, person| id != person);
        People { of: person_of }
    }

    /// The person `id` counts as (itself when merged into no one).
    pub fn person(&self, id: Uuid) -> Uuid {
        self.of.get(&id).copied().unwrap_or(id)
    }

    /// Every beneficiary that is the same person as `id`: the person and
    /// all merged into them, directly or along a chain, sorted.
    pub fn group_of(&self, id: Uuid) -> Vec<Uuid> {
        let person = self.person(id);
        let mut group: Vec<Uuid> = self
            .of
            .iter()
            .filter(|(_, p)| **p == person)
            .map(|(member, _)| *member)
            .chain([person])
            .collect();
        group.sort_unstable();
        group
    }

    /// `{"<beneficiary>": "<person>", ...}`, for a store to join on.
    pub(crate) fn to_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .of
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        serde_json::Value::Object(map).to_string()
    }
}

/// The programme report summed one session at a time, in one pass over the
/// sessions a store selected (whatever the number of groups).
#[derive(Debug, Default)]
pub(crate) struct Programme {
    volunteers: BTreeMap<String, VolunteerSums>,
    weeks: BTreeMap<chrono::NaiveDate, Sums>,
    help_types: HashMap<String, Sums>,
    villages: HashMap<String, Sums>,
    everyone: HashSet<Uuid>,
    people: People,
}

/// The entry of `map` for `key` (a missing value is `""`), allocating its
/// name only the first time.
fn group<'m, V: Default>(map: &'m mut HashMap<String, V>, key: Option<&str>) -> &'m mut V {
    let key = key.unwrap_or_default();
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

impl Programme {
    /// A report that counts beneficiaries as `people` says.
    pub(crate) fn new(people: People) -> Programme {
        Programme {
            people,
            ..Programme::default()
        }
    }

    pub(crate) fn add(&mut self, row: &SessionRow<'_>) {
        let number = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let people = number(row.people_helped);
        let volunteer = row.volunteer_id.unwrap_or_default();
        if !self.volunteers.contains_key(volunteer) {
            self.volunteers
                .insert(volunteer.to_owned(), VolunteerSums::default());
        }
        let v = self.volunteers.get_mut(volunteer).expect("inserted above");
        v.sessions += 1;
        v.people += people;
        v.minutes += number(row.duration_min);
        for id in row.beneficiaries {
            let person = self.people.person(*id);
            self.everyone.insert(person);
            v.beneficiaries.insert(person);
        }
        // The Monday on or before the session's local date names its week.
        if let Some(day) = row
            .started_on
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        {
            let monday = day.week(chrono::Weekday::Mon).first_day();
            self.weeks.entry(monday).or_default().add(people);
        }
        group(&mut self.help_types, row.help_type).add(people);
        group(&mut self.villages, row.village_code).add(people);
    }

    pub(crate) fn finish(self) -> ProgrammeRows {
        // Biggest groups first, then by name.
        let grouped = |groups: HashMap<String, Sums>| {
            let mut out: Vec<GroupFigures> = groups
                .into_iter()
                .map(|(value, s)| GroupFigures {
                    value,
                    sessions: s.sessions,
                    people_helped: s.people,
                })
                .collect();
            out.sort_by(|a, b| {
                b.sessions
                    .cmp(&a.sessions)
                    .then_with(|| a.value.cmp(&b.value))
            });
            out
        };
        ProgrammeRows {
            volunteers: self
                .volunteers
                .into_iter()
                .map(|(volunteer_id, s)| VolunteerFigures {
                    volunteer_id,
                    sessions: s.sessions,
                    people_helped: s.people,
                    unique_beneficiaries: s.beneficiaries.len() as u64,
                    minutes: s.minutes,
                })
                .collect(),
            weeks: self
                .weeks
                .into_iter()
                .map(|(monday, s)| WeekFigures {
                    monday: monday.to_string(),
                    sessions: s.sessions,
                    people_helped: s.people,
                })
                .collect(),
            by_help_type: grouped(self.help_types),
            by_village: grouped(self.villages),
            unique_beneficiaries: self.everyone.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(
        rows: Vec<(i64, String)>,
        limit: usize,
        max_bytes: Option<usize>,
        span: (i64, i64),
    ) -> PullPage {
        pull_page(rows, limit, max_bytes, span, &Reader::everything(), |_| {
            unreachable!("everything needs no creators")
        })
        .unwrap()
    }

    #[test]
    fn a_last_page_moves_the_cursor_to_the_end_of_the_log() {
        let rows = |seqs: &[i64]| seqs.iter().map(|s| (*s, s.to_string())).collect();
        let full = page(rows(&[4, 6, 9]), 2, None, (3, 20));
        assert_eq!(
            (full.bodies, full.next_after_seq, full.has_more),
            (vec!["4".to_owned(), "6".to_owned()], 6, true)
        );
        let last = page(rows(&[4, 6]), 2, None, (3, 20));
        assert_eq!((last.next_after_seq, last.has_more), (20, false));
        let ahead = page(Vec::new(), 2, None, (30, 20));
        assert_eq!((ahead.next_after_seq, ahead.has_more), (30, false));
    }

    #[test]
    fn a_byte_limit_ends_the_page_early_but_never_before_its_first_change() {
        let rows = |n: i64| (1..=n).map(|s| (s, "x".repeat(99))).collect();
        // Envelope 96, then 100 bytes a change: three fit in 400.
        let cut = page(rows(5), 10, Some(400), (0, 50));
        assert_eq!(
            (cut.bodies.len(), cut.next_after_seq, cut.has_more),
            (3, 3, true)
        );
        let exact = page(rows(3), 10, Some(396), (0, 50));
        assert_eq!((exact.bodies.len(), exact.has_more), (3, false));
        let tiny = page(rows(5), 10, Some(1), (0, 50));
        assert_eq!(
            (tiny.bodies.len(), tiny.next_after_seq, tiny.has_more),
            (1, 1, true)
        );
        // A page that fits whole is a last page as before.
        let all = page(rows(2), 10, Some(10_000), (0, 50));
        assert_eq!((all.next_after_seq, all.has_more), (50, false));
    }

    #[test]
    fn a_long_chain_of_merges_is_walked_once() {
        // 0 -> 1 -> ... -> n: every link is the last one's person.
        let n = 100_000u128;
        let people =
            People::from_merges((0..n).map(|i| (Uuid::from_u128(i), Uuid::from_u128(i + 1))));
        for i in [0, 1, n / 2, n - 1, n] {
            assert_eq!(people.person(Uuid::from_u128(i)), Uuid::from_u128(n));
        }
        assert_eq!(people.group_of(Uuid::from_u128(7)).len(), 100_001);
    }

    #[test]
    fn a_merged_person_counts_as_the_end_of_the_chain_and_a_cycle_as_its_smallest() {
        let id = Uuid::from_u128;
        // 1 -> 2 -> 3; 5 -> 6 -> 7 -> 5 (a cycle), 8 -> 6 (into it).
        let people = People::from_merges([
            (id(1), id(2)),
            (id(2), id(3)),
            (id(5), id(6)),
            (id(6), id(7)),
            (id(7), id(5)),
            (id(8), id(6)),
        ]);
        for (start, person) in [
            (1, 3),
            (2, 3),
            (3, 3),
            (4, 4),
            (5, 5),
            (6, 5),
            (7, 5),
            (8, 5),
        ] {
            assert_eq!(people.person(id(start)), id(person), "{start}");
        }
        assert_eq!(people.group_of(id(2)), [id(1), id(2), id(3)]);
        assert_eq!(people.group_of(id(8)), [id(5), id(6), id(7), id(8)]);
        assert_eq!(people.group_of(id(4)), [id(4)]);
        let mut p = Programme::new(people);
        p.add(&SessionRow {
            volunteer_id: Some("v1"),
            started_on: Some("2026-11-30"),
            help_type: None,
            village_code: None,
            people_helped: Some(3),
            duration_min: Some(30),
            beneficiaries: &[id(1), id(3), id(6)],
        });
        let rows = p.finish();
        assert_eq!(rows.unique_beneficiaries, 2, "1 is 3; 6 is 5");
    }

    #[test]
    fn sessions_sum_per_volunteer_week_and_group() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let mut p = Programme::default();
        p.add(&SessionRow {
            volunteer_id: Some("v1"),
            started_on: Some("2026-11-29"), // a Sunday
            help_type: Some("welfare_rights"),
            village_code: Some("50010203"),
            people_helped: Some(2),
            duration_min: Some(30),
            beneficiaries: &[a, b],
        });
        p.add(&SessionRow {
            volunteer_id: Some("v2"),
            started_on: Some("2026-11-30"),
            help_type: Some("other"),
            village_code: Some("50010203"),
            people_helped: Some(-1),
            duration_min: None,
            beneficiaries: &[a],
        });
        let rows = p.finish();
        assert_eq!(rows.unique_beneficiaries, 2);
        let weeks: Vec<(&str, u64, u64)> = rows
            .weeks
            .iter()
            .map(|w| (w.monday.as_str(), w.sessions, w.people_helped))
            .collect();
        assert_eq!(weeks, [("2026-11-23", 1, 2), ("2026-11-30", 1, 0)]);
        assert_eq!(rows.volunteers[0].unique_beneficiaries, 2);
        assert_eq!(rows.volunteers[1].minutes, 0);
        assert_eq!(rows.by_village.len(), 1);
        assert_eq!(rows.by_help_type[0].value, "other", "ties by name");
    }
}
