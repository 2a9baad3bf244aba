//! The PDPA erasure of a beneficiary (contract section 10), inside one
//! store write transaction: every stored write of the person's personal
//! fields is overwritten with its placeholder ([`PushTx::erase`]: the log
//! and the rejections, HLC and base kept), the server writes one change of
//! its own with the placeholders over every head and `_erased: true`
//! ([`server_change`]), and the ledger keeps the erasure. The API's erase
//! and a restore (which applies the ledger again) both run this.

use sync_core::{Collection, Field, Key, Value, Write};
use uuid::Uuid;

use crate::store::{Erasure, PushTx};
use crate::sync::server_change::{self, ServerChangeError};

/// Erases beneficiary `id` as `by` at `at` (unix seconds; `now_ms` for the
/// server's clock). The ledger's entry when it was already erased; `None`
/// when there is no such beneficiary.
pub fn erase(
    tx: &mut dyn PushTx,
    id: Uuid,
    by: Uuid,
    at: i64,
    now_ms: u64,
) -> Result<Option<Erasure>, ServerChangeError> {
    let key = (Collection::Beneficiaries, id);
    let stored = tx.load_records(&[key])?.remove(&key);
    if let Some(done) = tx.erasure(id)? {
        // Erased before; a record that shows it no longer (sent again by a
        // phone after a restore that predated it) is erased again.
        if let Some(record) = stored.filter(|r| !r.is_erased()) {
            reapply(tx, &done, record, now_ms)?;
        }
        return Ok(Some(done));
    }
    let Some(record) = stored else {
        return Ok(None);
    };
    let erasure = Erasure {
        record_id: id,
        centre_id: record.centre_id().map(str::to_owned),
        by,
        at,
    };
    reapply(tx, &erasure, record, now_ms)?;
    Ok(Some(erasure))
}

/// Erases every record of one person, `group` (the records merged into
/// one another: `People::group_of`), in the caller's transaction. The
/// ledger's entry of `asked`, one of them; `None` when it does not exist.
pub fn erase_group(
    tx: &mut dyn PushTx,
    asked: Uuid,
    group: &[Uuid],
    by: Uuid,
    at: i64,
    now_ms: u64,
) -> Result<Option<Erasure>, ServerChangeError> {
    let mut answer = None;
    for &id in group {
        let erasure = erase(tx, id, by, at, now_ms)?;
        if id == asked {
            answer = erasure;
        }
    }
    Ok(answer)
}

/// Applies `erasure` to the stored record: overwrites, writes the server's
/// change (unless the record already shows it erased) and keeps the entry.
fn reapply(
    tx: &mut dyn PushTx,
    erasure: &Erasure,
    record: sync_core::RecordState,
    now_ms: u64,
) -> Result<(), ServerChangeError> {
    tx.erase(erasure)?;
    if record.is_erased() {
        return Ok(());
    }
    let mut writes: Vec<Write> = Field::ALL
        .iter()
        .filter_map(|f| {
            let placeholder = f.erasure_placeholder()?;
            Some(record.resolve(Key::field(*f), placeholder))
        })
        .collect();
    writes.push(record.resolve(Key::field(Field::Erased), Value::Bool(true)));
    server_change::write(
        tx,
        Collection::Beneficiaries,
        erasure.record_id,
        record,
        writes,
        erasure.by,
        now_ms,
    )?;
    Ok(())
}

/// Applies a ledger entry again (after a restore to a backup that may be
/// older than it): the same overwrite and server change, unless the record
/// is not in the restored store at all (it was created after the backup),
/// in which case only the entry is kept, so that the person stays erased
/// when a phone sends the record again.
pub fn apply_again(
    tx: &mut dyn PushTx,
    erasure: &Erasure,
    now_ms: u64,
) -> Result<(), ServerChangeError> {
    let key = (Collection::Beneficiaries, erasure.record_id);
    match tx.load_records(&[key])?.remove(&key) {
        Some(record) => reapply(tx, erasure, record, now_ms),
        None => Ok(tx.erase(erasure)?),
    }
}
