//! Read-side queries: pull pages, manager record lists, the summary report.

use std::collections::HashMap;

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use sync_core::Collection;
use uuid::Uuid;

use super::{collection_code, map_err, uuid_col};
use crate::store::report::{self, People, Programme, RecordRow, SessionRow};
use crate::store::{
    HistoryEntry, ProgrammeRows, PullPage, PullQuery, ReadScope, RecordPage, RecordQuery,
    StoreError, StoredRecord, Summary, SummaryQuery,
};

/// Appends the scope's condition on the `centre_id`, `collection` and
/// `volunteer_id` columns shared by the change log and the records table.
fn scope_filter(scope: &ReadScope, sql: &mut String, params: &mut Vec<Sql>) {
    match scope {
        ReadScope::All => {}
        ReadScope::Centre(centre) => {
            sql.push_str(" AND \"centre_id\" = ?");
            params.push(Sql::Text(centre.clone()));
        }
        ReadScope::Volunteer { centre, user_id } => {
            sql.push_str(" AND \"centre_id\" = ? AND (\"collection\" = ? OR \"volunteer_id\" = ?)");
            params.push(Sql::Text(centre.clone()));
            params.push(Sql::Integer(collection_code(Collection::Beneficiaries)));
            params.push(Sql::Text(user_id.to_string()));
        }
    }
}

/// Runs a query ordered by `order`, returning the rows (read by `row`) of a
/// page of `limit` as [`report::fetch_limit`] asks for them.
fn page<T>(
    c: &Connection,
    mut sql: String,
    mut params: Vec<Sql>,
    order: &str,
    limit: usize,
    offset: usize,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    sql.push_str(&format!(" ORDER BY {order} LIMIT ? OFFSET ?"));
    params.push(Sql::Integer(report::fetch_limit(limit)));
    params.push(Sql::Integer(report::row_count(offset)));
    let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params_from_iter(params), row)
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)?;
    Ok(rows)
}

pub(super) fn pull(c: &Connection, q: &PullQuery) -> Result<PullPage, StoreError> {
    let tx = c.unchecked_transaction().map_err(map_err)?;
    // Read the end of the log first, in the same snapshot as the page, so the
    // cursor can move past everything this caller may not or need not see.
    let end: i64 = tx
        .prepare_cached("SELECT coalesce(max(\"seq\"), 0) FROM \"changes\"")
        .map_err(map_err)?
        .query_row([], |r| r.get(0))
        .map_err(map_err)?;
    let exclude: i64 = match q.exclude_device {
        Some(device) => tx
            .prepare_cached("SELECT \"key\" FROM \"devices\" WHERE \"device_id\" = ?1")
            .map_err(map_err)?
            .query_row([device.as_bytes()], |r| r.get(0))
            .optional()
            .map_err(map_err)?
            .unwrap_or(-1),
        None => -1,
    };
    let mut sql = String::from("SELECT \"seq\", \"body\" FROM \"changes\" WHERE \"seq\" > ? AND \"seq\" <= ? AND \"device_key\" <> ?");
    let mut params = vec![
        Sql::Integer(q.after_seq),
        Sql::Integer(end),
        Sql::Integer(exclude),
    ];
    scope_filter(&q.scope, &mut sql, &mut params);
    let rows = page(&tx, sql, params, "\"seq\"", q.limit, 0, |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    report::pull_page(
        rows,
        q.limit,
        q.max_bytes,
        (q.after_seq, end),
        &q.reader,
        |ids| creators(&tx, ids),
    )
}

/// Who created each of these beneficiaries.
fn creators(c: &Connection, ids: &[Uuid]) -> Result<HashMap<Uuid, Option<Uuid>>, StoreError> {
    let mut out = HashMap::with_capacity(ids.len());
    // SQLite binds at most 32,766 parameters; a page holds at most 1,000.
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT \"record_id\", \"created_by\" FROM \"records\" WHERE \"collection\" = {} AND \"record_id\" IN ({marks})",
            collection_code(Collection::Beneficiaries)
        );
        let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
        let rows = stmt
            .query_map(
                params_from_iter(chunk.iter().map(|id| id.as_bytes().to_vec())),
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<String>>(1)?)),
            )
            .map_err(map_err)?;
        for row in rows {
            let (id, creator) = row.map_err(map_err)?;
            out.insert(
                uuid_col(id)?,
                creator.and_then(|u| Uuid::parse_str(&u).ok()),
            );
        }
    }
    Ok(out)
}

/// The `WHERE` conditions of a records query (after `key > ?` for paging).
fn record_filter(q: &RecordQuery, sql: &mut String, params: &mut Vec<Sql>) {
    scope_filter(&q.scope, sql, params);
    let mut text_filter = |column: &str, op: &str, value: &Option<String>| {
        if let Some(v) = value {
            sql.push_str(&format!(" AND \"{column}\" {op} ?"));
            params.push(Sql::Text(v.clone()));
        }
    };
    text_filter("volunteer_id", "=", &q.volunteer_id);
    text_filter("village_code", "=", &q.village_code);
    text_filter("started_on", ">=", &q.from);
    text_filter("started_on", "<=", &q.to);
    text_filter("help_type", "=", &q.help_type);
    text_filter("outcome", "=", &q.outcome);
    if let Some(ids) = &q.volunteer_ids {
        if ids.is_empty() {
            sql.push_str(" AND 0");
        } else {
            sql.push_str(" AND \"volunteer_id\" IN (");
            for (i, id) in ids.iter().enumerate() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
                params.push(Sql::Text(id.to_string()));
            }
            sql.push(')');
        }
    }
    if q.conflicts_only {
        sql.push_str(" AND \"conflicts\" > 0");
    }
    if q.exclude_deleted {
        sql.push_str(" AND \"deleted\" = 0");
    }
    if q.only_deleted {
        sql.push_str(" AND \"deleted\" = 1");
    }
}

/// The table a records query reads: conflicted live records through their
/// partial index (few rows, whatever the planner's statistics say).
fn records_table(q: &RecordQuery) -> &'static str {
    if q.conflicts_only && q.exclude_deleted {
        "\"records\" INDEXED BY \"records_conflicted\""
    } else {
        "\"records\""
    }
}

pub(super) fn count_records(c: &Connection, q: &RecordQuery) -> Result<u64, StoreError> {
    let mut sql = format!(
        "SELECT count(*) FROM {} WHERE \"collection\" = ?",
        records_table(q)
    );
    let mut params = vec![Sql::Integer(collection_code(q.collection))];
    record_filter(q, &mut sql, &mut params);
    c.prepare_cached(&sql)
        .map_err(map_err)?
        .query_row(params_from_iter(params), |r| r.get::<_, i64>(0))
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(map_err)
}

pub(super) fn list_records(c: &Connection, q: &RecordQuery) -> Result<RecordPage, StoreError> {
    let mut sql = format!(
        "SELECT \"key\", \"record_id\", \"centre_id\", \"volunteer_id\", \"state\", \"created_by\" FROM {} WHERE \"collection\" = ?",
        records_table(q)
    );
    let mut params = vec![Sql::Integer(collection_code(q.collection))];
    // Only a cursor's pages say where to start: a `key > 0` would lead the
    // planner to the key index even for lists in another order.
    if q.after_key > 0 {
        sql.push_str(" AND \"key\" > ?");
        params.push(Sql::Integer(q.after_key));
    }
    record_filter(q, &mut sql, &mut params);
    // Newest first by start date for people reading a list, paged by
    // position (`records_for_console` holds this order and every filter
    // column, so skipped rows cost an index entry each); oldest first by key
    // for exports and API pages (a key cursor stays valid while records are
    // added).
    let order = if q.newest_first {
        "\"started_on\" DESC, \"key\" DESC"
    } else {
        "\"key\""
    };
    let rows = page(c, sql, params, order, q.limit, q.offset, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Vec<u8>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let rows = rows
        .into_iter()
        .map(|(key, id, centre_id, volunteer_id, state, created_by)| {
            Ok(RecordRow {
                key,
                id: uuid_col(id)?,
                centre_id,
                volunteer_id,
                created_by: created_by.and_then(|u| Uuid::parse_str(&u).ok()),
                state,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    report::record_page(q.collection, rows, q.limit)
}

/// Who each beneficiary is, as reports count people.
pub(super) fn people(c: &Connection) -> Result<People, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT \"record_id\", \"merged_into\" FROM \"records\" WHERE \"collection\" = ?1 AND \"merged_into\" IS NOT NULL",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map([collection_code(Collection::Beneficiaries)], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(map_err)?;
    let mut edges = Vec::new();
    for row in rows {
        let (id, into) = row.map_err(map_err)?;
        if let Ok(into) = Uuid::parse_str(&into) {
            edges.push((uuid_col(id)?, into));
        }
    }
    Ok(People::from_merges(edges))
}

pub(super) fn get_record(
    c: &Connection,
    collection: Collection,
    id: Uuid,
) -> Result<Option<StoredRecord>, StoreError> {
    type Row = (Option<String>, Option<String>, Vec<u8>, Option<String>);
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT \"centre_id\", \"volunteer_id\", \"state\", \"created_by\" FROM \"records\" WHERE \"collection\" = ?1 AND \"record_id\" = ?2",
        )
        .map_err(map_err)?
        .query_row((collection_code(collection), id.as_bytes()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()
        .map_err(map_err)?;
    row.map(|(centre_id, volunteer_id, state, created_by)| {
        let created_by = created_by.and_then(|u| Uuid::parse_str(&u).ok());
        report::stored_record(collection, id, centre_id, volunteer_id, created_by, &state)
    })
    .transpose()
}

pub(super) fn summary(c: &Connection, q: &SummaryQuery) -> Result<Summary, StoreError> {
    let tx = c.unchecked_transaction().map_err(map_err)?;
    let mut filter = String::from(" WHERE \"collection\" = ? AND \"deleted\" = 0");
    let mut params = vec![Sql::Integer(collection_code(Collection::Sessions))];
    if let Some(centre) = &q.centre_id {
        filter.push_str(" AND \"centre_id\" = ?");
        params.push(Sql::Text(centre.clone()));
    }
    if let Some(volunteer) = &q.volunteer_id {
        filter.push_str(" AND \"volunteer_id\" = ?");
        params.push(Sql::Text(volunteer.clone()));
    }
    if let Some(from) = &q.from {
        filter.push_str(" AND \"started_on\" >= ?");
        params.push(Sql::Text(from.clone()));
    }
    if let Some(to) = &q.to {
        filter.push_str(" AND \"started_on\" <= ?");
        params.push(Sql::Text(to.clone()));
    }
    let count = |sql: &str| -> Result<u64, StoreError> {
        tx.prepare_cached(sql)
            .map_err(map_err)?
            .query_row(params_from_iter(params.iter()), |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(map_err)
    };
    let grouped = |sql: &str| -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let mut stmt = tx.prepare_cached(sql).map_err(map_err)?;
        let rows: Vec<(Option<String>, i64)> = stmt
            .query_map(params_from_iter(params.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(map_err)?
            .collect::<Result<_, _>>()
            .map_err(map_err)?;
        Ok(report::group_counts(rows))
    };
    let mut summary = Summary {
        sessions: count(&format!("SELECT count(*) FROM \"records\"{filter}"))?,
        people_helped: count(&format!(
            "SELECT coalesce(sum(\"people_helped\"), 0) FROM \"records\"{filter}"
        ))?,
        unique_beneficiaries: {
            // A merged person counts once, as whom `people` says.
            let people = people(&tx)?.to_json();
            let mut with_people = vec![Sql::Text(people)];
            with_people.extend(params.iter().cloned());
            tx.prepare_cached(&format!(
                "SELECT count(DISTINCT coalesce(m.\"value\", j.\"value\")) FROM \"records\", json_each(\"records\".\"beneficiaries\") AS j
                 LEFT JOIN json_each(?) AS m ON m.\"key\" = j.\"value\"{filter}"
            ))
            .map_err(map_err)?
            .query_row(params_from_iter(with_people), |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(map_err)?
        },
        active_volunteers: count(&format!(
            "SELECT count(DISTINCT \"volunteer_id\") FROM \"records\"{filter}"
        ))?,
        by_help_type: grouped(&format!(
            "SELECT \"help_type\", count(*) FROM \"records\"{filter} GROUP BY \"help_type\""
        ))?,
        by_village: grouped(&format!(
            "SELECT \"village_code\", count(*) FROM \"records\"{filter} GROUP BY \"village_code\""
        ))?,
        open_conflicts: 0,
    };
    // Open conflicts count records of both collections, dates aside.
    let mut conflict_sql = String::from("SELECT count(*) FROM \"records\" WHERE \"conflicts\" > 0");
    let mut conflict_params = Vec::new();
    if let Some(centre) = &q.centre_id {
        conflict_sql.push_str(" AND \"centre_id\" = ?");
        conflict_params.push(Sql::Text(centre.clone()));
    }
    if let Some(volunteer) = &q.volunteer_id {
        conflict_sql.push_str(" AND \"volunteer_id\" = ?");
        conflict_params.push(Sql::Text(volunteer.clone()));
    }
    summary.open_conflicts = tx
        .query_row(&conflict_sql, params_from_iter(conflict_params), |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(map_err)?;
    Ok(summary)
}

pub(super) fn record_history(
    c: &Connection,
    collection: Collection,
    id: Uuid,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT c.\"seq\", d.\"device_id\", c.\"body\" FROM \"changes\" c
             JOIN \"devices\" d ON d.\"key\" = c.\"device_key\"
             WHERE c.\"record_id\" = ?1 AND c.\"collection\" = ?2 ORDER BY c.\"seq\"",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map((id.to_string(), collection_code(collection)), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(map_err)?;
    rows.map(|row| {
        let (seq, device, body) = row.map_err(map_err)?;
        Ok(HistoryEntry {
            seq,
            device_id: uuid_col(device)?,
            body,
        })
    })
    .collect()
}

/// The programme report's figures in one pass over the selected sessions
/// (one scan, summed by [`Programme`]), whatever the number of groups.
pub(super) fn programme(c: &Connection, q: &SummaryQuery) -> Result<ProgrammeRows, StoreError> {
    let mut sql = String::from(
        "SELECT \"volunteer_id\", \"started_on\", \"help_type\", \"village_code\", \"people_helped\", \"duration_min\", \"beneficiaries\"
         FROM \"records\" WHERE \"collection\" = ? AND \"deleted\" = 0",
    );
    let mut params = vec![Sql::Integer(collection_code(Collection::Sessions))];
    for (column, op, value) in [
        ("centre_id", "=", &q.centre_id),
        ("volunteer_id", "=", &q.volunteer_id),
        ("started_on", ">=", &q.from),
        ("started_on", "<=", &q.to),
    ] {
        if let Some(v) = value {
            sql.push_str(&format!(" AND \"{column}\" {op} ?"));
            params.push(Sql::Text(v.clone()));
        }
    }
    let mut programme = Programme::new(people(c)?);
    let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
    let mut rows = stmt.query(params_from_iter(params)).map_err(map_err)?;
    while let Some(r) = rows.next().map_err(map_err)? {
        let text = |i: usize| r.get::<_, Option<String>>(i).map_err(map_err);
        let number = |i: usize| r.get::<_, Option<i64>>(i).map_err(map_err);
        let beneficiaries: Vec<Uuid> = match text(6)? {
            Some(list) => serde_json::from_str(&list)
                .map_err(|e| StoreError::Corrupt(format!("a session's beneficiaries: {e}")))?,
            None => Vec::new(),
        };
        let (volunteer, started_on, help_type, village) = (text(0)?, text(1)?, text(2)?, text(3)?);
        programme.add(&SessionRow {
            volunteer_id: volunteer.as_deref(),
            started_on: started_on.as_deref(),
            help_type: help_type.as_deref(),
            village_code: village.as_deref(),
            people_helped: number(4)?,
            duration_min: number(5)?,
            beneficiaries: &beneficiaries,
        });
    }
    Ok(programme.finish())
}
