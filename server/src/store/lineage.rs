//! The change log's epochs (PROTOCOL.md section 4.11).
//!
//! A database starts in a root epoch. Restoring a backup starts a new epoch
//! whose parent is the backup's epoch, forked at the backup's last position:
//! positions up to there are the same changes in both histories, positions
//! after it are not (the restored log hands them out again to new changes).
//! A database keeps the chain from its root to its current epoch, so a pull
//! cursor from any epoch of that chain resumes at the last position its
//! history shares with the current one.

/// One epoch of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    /// A random id, unique across restores of the same backup.
    pub id: i64,
    /// The last position this epoch shares with its parent (the position of
    /// the backup it was restored from); `None` for the root.
    pub forked_at: Option<i64>,
}

/// The chain of epochs, root first, current last; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    epochs: Vec<Epoch>,
}

impl Lineage {
    /// `None` when `epochs` is empty.
    pub fn new(epochs: Vec<Epoch>) -> Option<Lineage> {
        (!epochs.is_empty()).then_some(Lineage { epochs })
    }

    /// The lineage from stored `(epoch, forked_at)` rows, root first.
    pub fn from_rows(rows: Vec<(i64, Option<i64>)>) -> Result<Lineage, super::StoreError> {
        Lineage::new(
            rows.into_iter()
                .map(|(id, forked_at)| Epoch { id, forked_at })
                .collect(),
        )
        .ok_or_else(|| super::StoreError::Corrupt("the change log has no epoch".into()))
    }

    pub fn current(&self) -> i64 {
        self.epochs.last().map_or(0, |e| e.id)
    }

    fn root(&self) -> i64 {
        self.epochs.first().map_or(0, |e| e.id)
    }

    /// How many epochs the chain has (1 for a database never restored).
    pub fn generations(&self) -> usize {
        self.epochs.len()
    }

    /// Whether a cursor of `epoch` (`None`: the root's) is of the current one.
    pub fn is_current(&self, epoch: Option<i64>) -> bool {
        epoch.unwrap_or_else(|| self.root()) == self.current()
    }

    /// Whether this database was ever restored from a backup.
    pub fn restored(&self) -> bool {
        self.epochs.len() > 1
    }

    /// Where a pull resumes for a cursor at `position` in `epoch` (`None`:
    /// a cursor from before epochs existed, which is the root's): the same
    /// position in the current epoch, else the last position the cursor's
    /// history shares with the current one. A cursor of an epoch outside the
    /// chain (a history abandoned by another restore) starts again from the
    /// beginning: the pulled changes merge to the same state.
    pub fn resume(&self, epoch: Option<i64>, position: i64) -> i64 {
        let epoch = epoch.unwrap_or_else(|| self.root());
        let mut shared = i64::MAX;
        for e in self.epochs.iter().rev() {
            if e.id == epoch {
                return position.min(shared);
            }
            shared = shared.min(e.forked_at.unwrap_or(0));
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(forks: &[(i64, Option<i64>)]) -> Lineage {
        Lineage::new(
            forks
                .iter()
                .map(|&(id, forked_at)| Epoch { id, forked_at })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn a_cursor_resumes_where_its_history_meets_the_current_one() {
        // Root 10; restored from a backup at 4000 (epoch 20); that one
        // backed up at 4300 and restored again (epoch 30).
        let l = chain(&[(10, None), (20, Some(4000)), (30, Some(4300))]);
        assert!(l.restored());
        assert_eq!(l.current(), 30);
        assert_eq!(l.resume(Some(30), 9000), 9000, "the current epoch");
        assert_eq!(l.resume(Some(20), 4500), 4300);
        assert_eq!(l.resume(Some(20), 4100), 4100, "before the fork");
        assert_eq!(l.resume(Some(10), 4200), 4000, "the shortest shared part");
        assert_eq!(l.resume(None, 4200), 4000, "a cursor older than epochs");
        assert_eq!(l.resume(None, 12), 12);
        assert_eq!(l.resume(Some(99), 4200), 0, "an abandoned history");
    }

    #[test]
    fn a_database_never_restored_keeps_every_cursor() {
        let l = chain(&[(7, None)]);
        assert!(!l.restored());
        assert_eq!(l.resume(Some(7), 55), 55);
        assert_eq!(l.resume(None, 55), 55);
        assert_eq!(Lineage::new(Vec::new()), None);
    }
}
