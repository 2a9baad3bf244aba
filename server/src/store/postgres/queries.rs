//! Reads on PostgreSQL: pulls, merged records, reports and history, with
//! the same scopes, filters, order and paging as `store/sqlite/queries.rs`;
//! what is not SQL (cursors, decoding, the programme's sums) is shared with
//! it in [`crate::store::report`].
//!
//! Statements are built with numbered placeholders, every user value bound
//! as a parameter, and sent with their parameters' types (`query_typed`): one
//! round trip each, with no statement to prepare first.

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient, IsolationLevel, Row};
use sync_core::Collection;
use uuid::Uuid;

use super::{collection_code, map_err, unsigned};
use crate::store::report::{self, People, Programme, RecordRow, SessionRow};
use crate::store::{
    HistoryEntry, ProgrammeRows, PullPage, PullQuery, ReadScope, RecordPage, RecordQuery,
    StoreError, StoredRecord, Summary, SummaryQuery,
};

/// A value a statement binds, with the type it is sent as.
trait Param: ToSql + Sync + 'static {
    const TYPE: Type;

    /// The value as PostgreSQL may take it (see [`super::text`]).
    fn storable(self) -> Self
    where
        Self: Sized,
    {
        self
    }
}

impl Param for i16 {
    const TYPE: Type = Type::INT2;
}

impl Param for i64 {
    const TYPE: Type = Type::INT8;
}

impl Param for String {
    const TYPE: Type = Type::TEXT;

    fn storable(self) -> Self {
        super::text(&self).into_owned()
    }
}

impl Param for Uuid {
    const TYPE: Type = Type::UUID;
}

impl Param for Option<Uuid> {
    const TYPE: Type = Type::UUID;
}

impl Param for Vec<Uuid> {
    const TYPE: Type = Type::UUID_ARRAY;
}

impl Param for Vec<String> {
    const TYPE: Type = Type::TEXT_ARRAY;

    fn storable(self) -> Self {
        self.iter().map(|v| super::text(v).into_owned()).collect()
    }
}

/// A statement being built: its text and its parameters, numbered `$1,
/// $2, ...` in the order they are bound.
struct Statement {
    sql: String,
    params: Vec<(Box<dyn ToSql + Sync>, Type)>,
}

impl Statement {
    fn new(sql: &str) -> Statement {
        Statement {
            sql: sql.to_owned(),
            params: Vec::new(),
        }
    }

    /// Binds the next parameter and returns its placeholder.
    fn bind<T: Param>(&mut self, value: T) -> String {
        self.params.push((Box::new(value.storable()), T::TYPE));
        format!("${}", self.params.len())
    }

    /// Binds the next parameter, whose placeholder the text already holds.
    fn with<T: Param>(mut self, value: T) -> Statement {
        self.bind(value);
        self
    }

    fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    /// Appends ` AND condition`, its `?` the placeholder of `value`.
    fn and<T: Param>(&mut self, condition: &str, value: T) {
        let placeholder = self.bind(value);
        self.sql.push_str(" AND ");
        self.sql.push_str(&condition.replace('?', &placeholder));
    }

    fn params(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.params
            .iter()
            .map(|(value, ty)| (value.as_ref(), ty.clone()))
            .collect()
    }

    fn query(&self, c: &mut impl GenericClient) -> Result<Vec<Row>, StoreError> {
        self.query_as(c, &self.sql)
    }

    /// Runs `sql`, which holds this statement's conditions, with its
    /// parameters (several queries over one filter).
    fn query_as(&self, c: &mut impl GenericClient, sql: &str) -> Result<Vec<Row>, StoreError> {
        c.query_typed(sql, &self.params()).map_err(map_err)
    }

    fn query_one(&self, c: &mut impl GenericClient) -> Result<Row, StoreError> {
        self.query_one_as(c, &self.sql)
    }

    /// [`Statement::query_as`] for one row.
    fn query_one_as(&self, c: &mut impl GenericClient, sql: &str) -> Result<Row, StoreError> {
        c.query_typed_one(sql, &self.params()).map_err(map_err)
    }

    fn query_opt(&self, c: &mut impl GenericClient) -> Result<Option<Row>, StoreError> {
        c.query_typed_opt(&self.sql, &self.params())
            .map_err(map_err)
    }
}

/// Appends the scope's condition on the `centre_id`, `collection` and
/// `volunteer_id` columns shared by the change log and the records table.
fn scope_filter(scope: &ReadScope, s: &mut Statement) {
    match scope {
        ReadScope::All => {}
        ReadScope::Centre(centre) => s.and("centre_id = ?", centre.clone()),
        ReadScope::Volunteer { centre, user_id } => {
            s.and("centre_id = ?", centre.clone());
            let beneficiaries = s.bind(collection_code(Collection::Beneficiaries));
            let own = s.bind(user_id.to_string());
            s.push(&format!(
                " AND (collection = {beneficiaries} OR volunteer_id = {own})"
            ));
        }
    }
}

pub(super) fn pull(c: &mut Client, q: &PullQuery) -> Result<PullPage, StoreError> {
    // The end of the log and the page in one statement, so in one snapshot:
    // the cursor can move to the end, past everything this caller may not or
    // need not see. Positions commit in order (see `push`), so what the
    // snapshot holds is the log up to its end, and nothing can later appear
    // at or before it.
    let mut s = Statement::new(
        "SELECT h.end_seq, p.seq, p.body
         FROM (SELECT coalesce(max(seq), 0) AS end_seq FROM changes) AS h
         LEFT JOIN LATERAL (SELECT seq, body FROM changes WHERE seq > $1
           AND device_key <> coalesce((SELECT d.key FROM devices d WHERE d.device_id = $2), -1)",
    )
    .with(q.after_seq)
    .with(q.exclude_device);
    scope_filter(&q.scope, &mut s);
    let limit = s.bind(report::fetch_limit(q.limit));
    s.push(&format!(
        " ORDER BY seq LIMIT {limit}) AS p ON true ORDER BY p.seq"
    ));
    let rows = s.query(c)?;
    let end = rows.first().map_or(0, |r| r.get::<_, i64>(0));
    // Without a change to return, the one row holds the end alone.
    let changes = rows
        .iter()
        .filter_map(|r| Some((r.get::<_, Option<i64>>(1)?, r.get::<_, Option<String>>(2)?)))
        .collect();
    report::pull_page(
        changes,
        q.limit,
        q.max_bytes,
        (q.after_seq, end),
        &q.reader,
        |ids| {
            let rows = Statement::new(
                "SELECT record_id, created_by FROM records WHERE collection = $1 AND record_id = ANY($2)",
            )
            .with(collection_code(Collection::Beneficiaries))
            .with(ids.to_vec())
            .query(c)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        },
    )
}

/// The conditions of a records query.
fn record_filter(q: &RecordQuery, s: &mut Statement) {
    scope_filter(&q.scope, s);
    for (condition, value) in [
        ("volunteer_id = ?", &q.volunteer_id),
        ("village_code = ?", &q.village_code),
        ("started_on >= ?", &q.from),
        ("started_on <= ?", &q.to),
        ("help_type = ?", &q.help_type),
        ("outcome = ?", &q.outcome),
    ] {
        if let Some(v) = value {
            s.and(condition, v.clone());
        }
    }
    if let Some(ids) = &q.volunteer_ids {
        // No ids match nothing.
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        s.and("volunteer_id = ANY(?)", ids);
    }
    // Conflicted live records in these words are the partial index's.
    if q.conflicts_only {
        s.push(" AND conflicts > 0");
    }
    if q.exclude_deleted {
        s.push(" AND NOT deleted");
    }
    if q.only_deleted {
        s.push(" AND deleted");
    }
}

pub(super) fn count_records(c: &mut Client, q: &RecordQuery) -> Result<u64, StoreError> {
    let mut s = Statement::new("SELECT count(*) FROM records WHERE collection = $1")
        .with(collection_code(q.collection));
    record_filter(q, &mut s);
    Ok(unsigned(s.query_one(c)?.get(0)))
}

pub(super) fn list_records(c: &mut Client, q: &RecordQuery) -> Result<RecordPage, StoreError> {
    let mut s = Statement::new(
        "SELECT key, record_id, centre_id, volunteer_id, state, created_by FROM records WHERE collection = $1",
    )
    .with(collection_code(q.collection));
    // Only a cursor's pages say where to start, as in SQLite.
    if q.after_key > 0 {
        s.and("key > ?", q.after_key);
    }
    record_filter(q, &mut s);
    // Newest first by start date for people reading a list, paged by
    // position (a backward scan of `records_for_console`); oldest first by
    // key for exports and API pages. Start dates are `YYYY-MM-DD`, which
    // every collation orders as SQLite does; only beneficiaries lack one (all
    // of them), so their lists are in key order on both stores.
    let order = if q.newest_first {
        "started_on DESC, key DESC"
    } else {
        "key"
    };
    let limit = s.bind(report::fetch_limit(q.limit));
    let offset = s.bind(report::row_count(q.offset));
    s.push(&format!(" ORDER BY {order} LIMIT {limit} OFFSET {offset}"));
    let rows = s
        .query(c)?
        .into_iter()
        .map(|r| RecordRow {
            key: r.get(0),
            id: r.get(1),
            centre_id: r.get(2),
            volunteer_id: r.get(3),
            created_by: r.get(5),
            state: r.get(4),
        })
        .collect();
    report::record_page(q.collection, rows, q.limit)
}

pub(super) fn get_record(
    c: &mut Client,
    collection: Collection,
    id: Uuid,
) -> Result<Option<StoredRecord>, StoreError> {
    let row = Statement::new(
        "SELECT centre_id, volunteer_id, state, created_by FROM records WHERE collection = $1 AND record_id = $2",
    )
    .with(collection_code(collection))
    .with(id)
    .query_opt(c)?;
    row.map(|r| {
        let state: Vec<u8> = r.get(2);
        report::stored_record(collection, id, r.get(0), r.get(1), r.get(3), &state)
    })
    .transpose()
}

/// Who each beneficiary is, as reports count people.
pub(super) fn people(c: &mut impl GenericClient) -> Result<People, StoreError> {
    let rows = c
        .query(
            "SELECT record_id, merged_into FROM records WHERE collection = $1 AND merged_into IS NOT NULL",
            &[&collection_code(Collection::Beneficiaries)],
        )
        .map_err(map_err)?;
    Ok(People::from_merges(
        rows.iter()
            .map(|r| (r.get::<_, Uuid>(0), r.get::<_, Uuid>(1))),
    ))
}

/// The conditions of a report on live sessions.
fn session_filter(q: &SummaryQuery, s: &mut Statement) {
    for (condition, value) in [
        ("centre_id = ?", &q.centre_id),
        ("volunteer_id = ?", &q.volunteer_id),
        ("started_on >= ?", &q.from),
        ("started_on <= ?", &q.to),
    ] {
        if let Some(v) = value {
            s.and(condition, v.clone());
        }
    }
}

pub(super) fn summary(c: &mut Client, q: &SummaryQuery) -> Result<Summary, StoreError> {
    // Several counts, one snapshot.
    let mut tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(map_err)?;
    let mut f = Statement::new(" WHERE collection = $1 AND NOT deleted")
        .with(collection_code(Collection::Sessions));
    session_filter(q, &mut f);
    let filter = &f.sql;
    let totals = f.query_one_as(
        &mut tx,
        &format!(
            "SELECT count(*), coalesce(sum(people_helped), 0)::bigint, count(DISTINCT volunteer_id)
             FROM records{filter}"
        ),
    )?;
    // A merged person counts once, as whom `people` says.
    let mut u = Statement::new(
        "SELECT count(DISTINCT coalesce(m.value::uuid, b.id)) FROM records, unnest(records.beneficiaries) AS b (id)
         LEFT JOIN jsonb_each_text($1::jsonb) AS m ON m.key = b.id::text
         WHERE collection = $2 AND NOT deleted",
    )
    .with(people(&mut tx)?.to_json())
    .with(collection_code(Collection::Sessions));
    session_filter(q, &mut u);
    let unique = u.query_one(&mut tx)?;
    let mut grouped = |column: &str| -> Result<_, StoreError> {
        let rows = f.query_as(
            &mut tx,
            &format!("SELECT {column}, count(*) FROM records{filter} GROUP BY {column}"),
        )?;
        Ok(report::group_counts(
            rows.iter()
                .map(|r| (r.get::<_, Option<String>>(0), r.get(1))),
        ))
    };
    let by_help_type = grouped("help_type")?;
    let by_village = grouped("village_code")?;
    // Open conflicts count records of both collections, dates aside.
    let mut conflicts = Statement::new("SELECT count(*) FROM records WHERE conflicts > 0");
    if let Some(centre) = &q.centre_id {
        conflicts.and("centre_id = ?", centre.clone());
    }
    if let Some(volunteer) = &q.volunteer_id {
        conflicts.and("volunteer_id = ?", volunteer.clone());
    }
    let open_conflicts = unsigned(conflicts.query_one(&mut tx)?.get(0));
    let summary = Summary {
        sessions: unsigned(totals.get(0)),
        people_helped: unsigned(totals.get(1)),
        unique_beneficiaries: unsigned(unique.get(0)),
        active_volunteers: unsigned(totals.get(2)),
        by_help_type,
        by_village,
        open_conflicts,
    };
    tx.commit().map_err(map_err)?;
    Ok(summary)
}

pub(super) fn record_history(
    c: &mut Client,
    collection: Collection,
    id: Uuid,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows = Statement::new(
        "SELECT c.seq, d.device_id, c.body FROM changes c
         JOIN devices d ON d.key = c.device_key
         WHERE c.record_id = $1 AND c.collection = $2 ORDER BY c.seq",
    )
    .with(id)
    .with(collection_code(collection))
    .query(c)?;
    Ok(rows
        .into_iter()
        .map(|r| HistoryEntry {
            seq: r.get(0),
            device_id: r.get(1),
            body: r.get(2),
        })
        .collect())
}

/// The programme report's figures in one pass over the selected sessions,
/// streamed from the database and summed by [`Programme`].
pub(super) fn programme(c: &mut Client, q: &SummaryQuery) -> Result<ProgrammeRows, StoreError> {
    let mut s = Statement::new(
        "SELECT volunteer_id, started_on, help_type, village_code, people_helped, duration_min, beneficiaries
         FROM records WHERE collection = $1 AND NOT deleted",
    )
    .with(collection_code(Collection::Sessions));
    session_filter(q, &mut s);
    let mut programme = Programme::new(people(c)?);
    let mut rows = c.query_typed_raw(&s.sql, s.params()).map_err(map_err)?;
    while let Some(r) = rows.next().map_err(map_err)? {
        let beneficiaries: Option<Vec<Uuid>> = r.get(6);
        programme.add(&SessionRow {
            volunteer_id: r.get(0),
            started_on: r.get(1),
            help_type: r.get(2),
            village_code: r.get(3),
            people_helped: r.get(4),
            duration_min: r.get(5),
            beneficiaries: beneficiaries.as_deref().unwrap_or_default(),
        });
    }
    Ok(programme.finish())
}
