//! Read-side queries: pull pages, manager record lists, the summary report.

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use sync_core::{codec, Collection};
use uuid::Uuid;

use super::{collection_code, map_err, uuid_col};
use crate::store::{
    GroupFigures, HistoryEntry, ProgrammeRows, PullPage, PullQuery, ReadScope, RecordPage,
    RecordQuery, StoreError, StoredRecord, Summary, SummaryQuery, VolunteerFigures, WeekFigures,
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

fn limit_col(n: usize) -> Sql {
    Sql::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Runs a query ordered by `order`, returning at most `limit` rows (read by
/// `row`) and whether more follow.
fn page<T>(
    c: &Connection,
    mut sql: String,
    mut params: Vec<Sql>,
    order: &str,
    limit: usize,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<(Vec<T>, bool), StoreError> {
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?"));
    params.push(limit_col(limit + 1));
    let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
    let mut rows: Vec<T> = stmt
        .query_map(params_from_iter(params), row)
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, has_more))
}

pub(super) fn pull(c: &Connection, q: &PullQuery) -> Result<PullPage, StoreError> {
    let tx = c.unchecked_transaction().map_err(map_err)?;
    // Read the end of the log first, in the same snapshot as the page, so the
    // cursor can move past everything this caller may not or need not see.
    let end: i64 = tx
        .query_row(
            "SELECT coalesce(max(\"seq\"), 0) FROM \"changes\"",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    let exclude: i64 = match q.exclude_device {
        Some(device) => tx
            .query_row(
                "SELECT \"key\" FROM \"devices\" WHERE \"device_id\" = ?1",
                [device.as_bytes()],
                |r| r.get(0),
            )
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
    let (rows, has_more) = page(&tx, sql, params, "\"seq\"", q.limit, |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let next_after_seq = if has_more {
        rows.last().map_or(q.after_seq, |(seq, _)| *seq)
    } else {
        end.max(q.after_seq)
    };
    Ok(PullPage {
        bodies: rows.into_iter().map(|(_, body)| body).collect(),
        next_after_seq,
        has_more,
    })
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

pub(super) fn count_records(c: &Connection, q: &RecordQuery) -> Result<u64, StoreError> {
    let mut sql = String::from("SELECT count(*) FROM \"records\" WHERE \"collection\" = ?");
    let mut params = vec![Sql::Integer(collection_code(q.collection))];
    record_filter(q, &mut sql, &mut params);
    c.prepare_cached(&sql)
        .map_err(map_err)?
        .query_row(params_from_iter(params), |r| r.get::<_, i64>(0))
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(map_err)
}

pub(super) fn list_records(c: &Connection, q: &RecordQuery) -> Result<RecordPage, StoreError> {
    let mut sql = String::from(
        "SELECT \"key\", \"record_id\", \"centre_id\", \"volunteer_id\", \"state\" FROM \"records\" WHERE \"collection\" = ? AND \"key\" > ?",
    );
    let mut params = vec![
        Sql::Integer(collection_code(q.collection)),
        Sql::Integer(q.after_key),
    ];
    record_filter(q, &mut sql, &mut params);
    // Newest first for people reading a list, paged by position; oldest
    // first by key for exports and API pages (a key cursor stays valid
    // while records are added).
    let order = if q.newest_first {
        "\"key\" DESC"
    } else {
        "\"key\""
    };
    if q.offset > 0 {
        // `page` appends `LIMIT ?`; SQLite wants OFFSET after it, so the
        // offset goes in a subquery that `page` then orders and limits.
        sql = format!("SELECT * FROM ({sql} ORDER BY {order} LIMIT -1 OFFSET ?) WHERE 1");
        params.push(limit_col(q.offset));
    }
    let (rows, has_more) = page(c, sql, params, order, q.limit, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Vec<u8>>(4)?,
        ))
    })?;
    let next_after_key = if has_more {
        rows.last().map(|(k, ..)| *k)
    } else {
        None
    };
    let records = rows
        .into_iter()
        .map(|(_, id, centre_id, volunteer_id, state)| {
            stored(q.collection, uuid_col(id)?, centre_id, volunteer_id, &state)
        })
        .collect::<Result<_, _>>()?;
    Ok(RecordPage {
        records,
        next_after_key,
    })
}

pub(super) fn get_record(
    c: &Connection,
    collection: Collection,
    id: Uuid,
) -> Result<Option<StoredRecord>, StoreError> {
    let row: Option<(Option<String>, Option<String>, Vec<u8>)> = c
        .prepare_cached(
            "SELECT \"centre_id\", \"volunteer_id\", \"state\" FROM \"records\" WHERE \"collection\" = ?1 AND \"record_id\" = ?2",
        )
        .map_err(map_err)?
        .query_row((collection_code(collection), id.as_bytes()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(map_err)?;
    row.map(|(centre_id, volunteer_id, state)| {
        stored(collection, id, centre_id, volunteer_id, &state)
    })
    .transpose()
}

/// A record row with its merge state decoded.
fn stored(
    collection: Collection,
    id: Uuid,
    centre_id: Option<String>,
    volunteer_id: Option<String>,
    state: &[u8],
) -> Result<StoredRecord, StoreError> {
    let state =
        codec::decode(state).map_err(|e| StoreError::Corrupt(format!("record {id}: {e}")))?;
    Ok(StoredRecord {
        collection,
        id,
        centre_id,
        volunteer_id,
        state,
    })
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
        let rows = stmt
            .query_map(params_from_iter(params.iter()), |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(map_err)?;
        let mut out = std::collections::BTreeMap::new();
        for row in rows {
            let (k, n) = row.map_err(map_err)?;
            out.insert(k.unwrap_or_default(), u64::try_from(n).unwrap_or(0));
        }
        Ok(out)
    };
    let mut summary = Summary {
        sessions: count(&format!("SELECT count(*) FROM \"records\"{filter}"))?,
        people_helped: count(&format!(
            "SELECT coalesce(sum(\"people_helped\"), 0) FROM \"records\"{filter}"
        ))?,
        unique_beneficiaries: count(&format!(
            "SELECT count(DISTINCT j.\"value\") FROM \"records\", json_each(\"records\".\"beneficiaries\") AS j{filter}"
        ))?,
        active_volunteers: count(&format!("SELECT count(DISTINCT \"volunteer_id\") FROM \"records\"{filter}"))?,
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

pub(super) fn programme(c: &Connection, q: &SummaryQuery) -> Result<ProgrammeRows, StoreError> {
    let tx = c.unchecked_transaction().map_err(map_err)?;
    let mut filter = String::from(" WHERE \"collection\" = ? AND \"deleted\" = 0");
    let mut params = vec![Sql::Integer(collection_code(Collection::Sessions))];
    for (column, op, value) in [
        ("centre_id", "=", &q.centre_id),
        ("volunteer_id", "=", &q.volunteer_id),
        ("started_on", ">=", &q.from),
        ("started_on", "<=", &q.to),
    ] {
        if let Some(v) = value {
            filter.push_str(&format!(" AND \"{column}\" {op} ?"));
            params.push(Sql::Text(v.clone()));
        }
    }
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let mut volunteers: Vec<VolunteerFigures> = tx
        .prepare_cached(&format!(
            "SELECT \"volunteer_id\", count(*), coalesce(sum(\"people_helped\"), 0), coalesce(sum(\"duration_min\"), 0)
             FROM \"records\"{filter} GROUP BY \"volunteer_id\" ORDER BY \"volunteer_id\""
        ))
        .map_err(map_err)?
        .query_map(params_from_iter(params.iter()), |r| {
            Ok(VolunteerFigures {
                volunteer_id: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                sessions: n(r.get(1)?),
                people_helped: n(r.get(2)?),
                unique_beneficiaries: 0,
                minutes: n(r.get(3)?),
            })
        })
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)?;
    let mut per_volunteer = tx
        .prepare_cached(&format!(
            "SELECT \"records\".\"volunteer_id\", count(DISTINCT j.\"value\")
             FROM \"records\", json_each(\"records\".\"beneficiaries\") AS j{filter} GROUP BY \"records\".\"volunteer_id\""
        ))
        .map_err(map_err)?;
    let unique = per_volunteer
        .query_map(params_from_iter(params.iter()), |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                n(r.get(1)?),
            ))
        })
        .map_err(map_err)?;
    for row in unique {
        let (volunteer, count) = row.map_err(map_err)?;
        if let Some(v) = volunteers.iter_mut().find(|v| v.volunteer_id == volunteer) {
            v.unique_beneficiaries = count;
        }
    }
    let unique_beneficiaries = tx
        .prepare_cached(&format!(
            "SELECT count(DISTINCT j.\"value\") FROM \"records\", json_each(\"records\".\"beneficiaries\") AS j{filter}"
        ))
        .map_err(map_err)?
        .query_row(params_from_iter(params.iter()), |r| r.get::<_, i64>(0))
        .map(n)
        .map_err(map_err)?;
    // The Monday on or before each session's local date names its week.
    let weeks = tx
        .prepare_cached(&format!(
            "SELECT date(\"started_on\", '-6 days', 'weekday 1') AS \"monday\", count(*), coalesce(sum(\"people_helped\"), 0)
             FROM \"records\"{filter} AND \"started_on\" IS NOT NULL GROUP BY \"monday\" ORDER BY \"monday\""
        ))
        .map_err(map_err)?
        .query_map(params_from_iter(params.iter()), |r| {
            Ok(WeekFigures {
                monday: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                sessions: n(r.get(1)?),
                people_helped: n(r.get(2)?),
            })
        })
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)?;
    let grouped = |column: &str| -> Result<Vec<GroupFigures>, StoreError> {
        tx.prepare_cached(&format!(
            "SELECT \"{column}\", count(*), coalesce(sum(\"people_helped\"), 0)
             FROM \"records\"{filter} GROUP BY \"{column}\" ORDER BY count(*) DESC, \"{column}\""
        ))
        .map_err(map_err)?
        .query_map(params_from_iter(params.iter()), |r| {
            Ok(GroupFigures {
                value: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                sessions: n(r.get(1)?),
                people_helped: n(r.get(2)?),
            })
        })
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)
    };
    Ok(ProgrammeRows {
        by_help_type: grouped("help_type")?,
        by_village: grouped("village_code")?,
        volunteers,
        weeks,
        unique_beneficiaries,
    })
}
