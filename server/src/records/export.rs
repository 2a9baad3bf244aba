//! Exports of merged records for spreadsheets (contract section 9).
//!
//! CSV keeps the v1 columns (one per key, then `deleted`, `conflicts`,
//! `version`, `updated_at`), then the v1.1 ones (`author_name` for
//! sessions; `national_id`, `consent_version` and `erased` for
//! beneficiaries). A value the reader may not see (contract section 10) is
//! shown as `****` and its last 4 characters. A text cell that a spreadsheet would run as a formula (it
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed
//! with `'`. XLSX has the same columns with typed cells: numbers, booleans
//! and dates as such, and ids, phone numbers and village codes as text, so
//! a leading 0 survives; a string cell is never a formula.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};
use serde_json::Value as Json;
use sync_core::schema::Kind;
use sync_core::wire::RecordDto;
use sync_core::{Collection, Field};

/// The columns of an export of `collection`, in order.
pub fn columns(collection: Collection) -> Vec<&'static str> {
    let fields = |v1_1: bool| {
        collection
            .fields()
            .iter()
            .filter(move |s| {
                s.field.since_v1_1() == v1_1 && !matches!(s.field, Field::Deleted | Field::Erased)
            })
            .map(|s| s.field.name())
    };
    let mut columns = vec!["id"];
    columns.extend(fields(false));
    columns.extend(["deleted", "conflicts", "version", "updated_at"]);
    if collection == Collection::Sessions {
        columns.push("author_name");
    }
    columns.extend(fields(true));
    if collection == Collection::Beneficiaries {
        columns.push("erased");
    }
    columns
}

/// The text of one cell, before any neutralising.
fn cell_text(record: &RecordDto, column: &str) -> String {
    match column {
        "id" => record.id.to_string(),
        "deleted" => record.deleted.to_string(),
        "erased" => record.erased.to_string(),
        key if record.masked.contains_key(key) => format!("****{}", record.masked[key]),
        "conflicts" => record
            .conflicts
            .iter()
            .map(|c| c.key.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        "version" => record.version.map(|v| v.to_string()).unwrap_or_default(),
        "updated_at" => record.updated_at.clone().unwrap_or_default(),
        "author_name" => record.author_name.clone().unwrap_or_default(),
        key => match record.fields.get(key) {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(s)) => s.clone(),
            Some(Json::Array(items)) => items
                .iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join(";"),
            Some(other) => other.to_string(),
        },
    }
}

/// A text cell a spreadsheet would read as a formula, made inert.
pub fn neutralise(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// Whether a column holds text written by people (names, notes, codes) rather
/// than values the server made or checked to be numbers, dates or ids.
fn is_free_text(collection: Collection, column: &str) -> bool {
    if column == "author_name" {
        return true;
    }
    collection.fields().iter().any(|s| {
        s.field.name() == column
            && matches!(
                s.kind,
                Kind::Text { .. } | Kind::Name { .. } | Kind::CentreId | Kind::Phone
            )
    })
}

/// CSV with a header row, UTF-8 with a byte-order mark so spreadsheet
/// programs open Thai text correctly.
pub fn to_csv(collection: Collection, records: &[RecordDto]) -> Result<String, csv::Error> {
    let columns = columns(collection);
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&columns)?;
    for record in records {
        out.write_record(columns.iter().map(|c| {
            let text = cell_text(record, c);
            if is_free_text(collection, c) {
                neutralise(text)
            } else {
                text
            }
        }))?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    let mut text = String::from("\u{feff}");
    text.push_str(&String::from_utf8_lossy(&bytes));
    Ok(text)
}

/// An XLSX workbook with one sheet named after the collection.
pub fn to_xlsx(collection: Collection, records: &[RecordDto]) -> Result<Vec<u8>, XlsxError> {
    let columns = columns(collection);
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(collection.name())?;
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (col, name) in columns.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        sheet.write_string_with_format(0, col, *name, &bold)?;
        sheet.set_column_width(col, 14)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (i, record) in records.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        for (col, name) in columns.iter().enumerate() {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            let kind = collection
                .fields()
                .iter()
                .find(|s| s.field.name() == *name)
                .map(|s| s.kind);
            let value = record.fields.get(*name);
            match (kind, value) {
                (_, _) if *name == "deleted" => {
                    sheet.write_boolean(row, col, record.deleted)?;
                }
                (_, _) if *name == "erased" => {
                    sheet.write_boolean(row, col, record.erased)?;
                }
                (_, Some(Json::Number(n))) => {
                    sheet.write_number(row, col, n.as_f64().unwrap_or_default())?;
                }
                (_, Some(Json::Bool(b))) => {
                    sheet.write_boolean(row, col, *b)?;
                }
                (Some(Kind::Date), Some(Json::String(s))) => {
                    match excel_date(s) {
                        Some(d) => sheet.write_datetime_with_format(row, col, &d, &date)?,
                        None => sheet.write_string(row, col, s)?,
                    };
                }
                // The volunteer's local time, as they wrote it.
                (Some(Kind::DateTime), Some(Json::String(s))) => {
                    match excel_local_datetime(s) {
                        Some(d) => sheet.write_datetime_with_format(row, col, &d, &datetime)?,
                        None => sheet.write_string(row, col, s)?,
                    };
                }
                _ => {
                    let text = cell_text(record, name);
                    if !text.is_empty() {
                        sheet.write_string(row, col, &text)?;
                    }
                }
            };
        }
    }
    workbook.save_to_buffer()
}

fn excel_date(s: &str) -> Option<ExcelDateTime> {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    use chrono::Datelike;
    ExcelDateTime::from_ymd(
        u16::try_from(d.year()).ok()?,
        u8::try_from(d.month()).ok()?,
        u8::try_from(d.day()).ok()?,
    )
    .ok()
}

fn excel_local_datetime(s: &str) -> Option<ExcelDateTime> {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?.naive_local();
    ExcelDateTime::from_ymd(
        u16::try_from(t.year()).ok()?,
        u8::try_from(t.month()).ok()?,
        u8::try_from(t.day()).ok()?,
    )
    .ok()?
    .and_hms(
        u16::try_from(t.hour()).ok()?,
        u8::try_from(t.minute()).ok()?,
        f64::from(t.second()),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_made_inert_and_other_text_is_kept() {
        for text in ["=1+1", "+66812345678", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(text.to_owned()), format!("'{text}"));
        }
        for text in ["ช่วยลงทะเบียน", "0812345678", "a=b", ""] {
            assert_eq!(neutralise(text.to_owned()), text);
        }
    }
}
