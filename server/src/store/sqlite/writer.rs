//! The one writer connection, with group commit for pushes.
//!
//! A commit in WAL mode writes every page the transaction touched and then
//! waits for one `fsync`. When pushes queue for the writer (the evening
//! rush), each used to pay both alone, for pages the next push rewrites a
//! moment later. Now a push that finds others waiting leaves its transaction
//! open for them: the next push runs in the same transaction, and the last
//! one in the queue (or the [`MAX_PUSHES`]th) commits for all of them. Each
//! push runs in a savepoint of its own, so a push that fails leaves nothing
//! behind and the others are kept; each is still all-or-nothing to its
//! device, and no push returns (so no device is answered) before the commit
//! that holds it is durable. A push with nobody waiting commits at once, as
//! before: group commit adds no wait when the server is idle.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rusqlite::Connection;

use super::map_err;
use crate::store::StoreError;

/// The most pushes one transaction holds: bounds the wait of the first of
/// them and the size of a commit.
pub(super) const MAX_PUSHES: usize = 32;

#[derive(Debug)]
pub(super) struct Writer {
    state: Mutex<State>,
    /// Pushes waiting for `state`. A push that sees one leaves the
    /// transaction open for it; the count is taken before waiting for the
    /// lock, so somebody always comes to commit a transaction left open.
    waiting: AtomicUsize,
}

#[derive(Debug)]
struct State {
    conn: Connection,
    open: Option<Open>,
    /// Commits of pushes' transactions so far.
    commits: u64,
}

/// The transaction pushes share, while it is open.
#[derive(Debug)]
struct Open {
    commit: Arc<Commit>,
    /// Pushes in it that succeeded (and wait for its commit).
    pushes: usize,
}

/// How a shared transaction's commit ended, for the pushes waiting on it.
#[derive(Debug, Default)]
struct Commit {
    outcome: Mutex<Option<Result<(), StoreError>>>,
    done: Condvar,
}

impl Commit {
    fn finish(&self, outcome: &Result<(), StoreError>) {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(outcome.as_ref().map(|_| ()).map_err(copy));
        self.done.notify_all();
    }

    fn wait(&self) -> Result<(), StoreError> {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = slot.as_ref() {
                return outcome.as_ref().map(|_| ()).map_err(copy);
            }
            slot = self.done.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The same error for every push of a failed commit.
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Busy => StoreError::Busy,
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        StoreError::Backend(e) => StoreError::Backend(e.to_string().into()),
    }
}

impl Writer {
    pub(super) fn new(conn: Connection) -> Writer {
        Writer {
            state: Mutex::new(State {
                conn,
                open: None,
                commits: 0,
            }),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock is safe to reuse: a push's panic is caught inside
        // its savepoint, and rusqlite rolls back anything else on drop.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the writer, after committing any transaction pushes
    /// left open.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut state = self.lock();
        if state.open.is_some() {
            commit(&mut state)?;
        }
        f(&mut state.conn)
    }

    /// Runs one push in the shared transaction; returns once the commit that
    /// holds it is durable (or with the error that undid it).
    pub(super) fn push(
        &self,
        work: impl FnOnce(&Connection) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut state = self.lock();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        if state.open.is_none() {
            state
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(map_err)?;
            state.open = Some(Open {
                commit: Arc::default(),
                pushes: 0,
            });
        }
        let mine = run_in_savepoint(&mut state.conn, work);
        let Some(open) = state.open.as_mut() else {
            return Err(StoreError::Corrupt(
                "the shared transaction vanished".into(),
            ));
        };
        if mine.is_ok() {
            open.pushes += 1;
        }
        if self.waiting.load(Ordering::SeqCst) > 0 && open.pushes < MAX_PUSHES {
            // Somebody is about to take the writer: they, or whoever
            // follows them, commit this push with theirs.
            let shared = open.commit.clone();
            drop(state);
            return mine.and_then(|()| shared.wait());
        }
        let committed = commit(&mut state);
        mine.and(committed)
    }
}

/// One push in a savepoint: kept if it returns Ok, rolled back otherwise.
/// A panic in it is rolled back and reported as an error, so that the pushes
/// sharing the transaction are still committed.
fn run_in_savepoint(
    conn: &mut Connection,
    work: impl FnOnce(&Connection) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let savepoint = conn.savepoint().map_err(map_err)?;
    let ran = catch_unwind(AssertUnwindSafe(|| work(&savepoint)));
    match ran {
        Ok(Ok(())) => savepoint.commit().map_err(map_err),
        // Dropping the savepoint rolls it back.
        Ok(Err(e)) => Err(e),
        Err(_) => {
            tracing::error!("a push panicked; its changes were rolled back");
            Err(StoreError::Corrupt(
                "the push failed inside the server".into(),
            ))
        }
    }
}

/// Commits the open transaction and tells the pushes waiting on it.
fn commit(state: &mut State) -> Result<(), StoreError> {
    let Some(open) = state.open.take() else {
        return Ok(());
    };
    let outcome = state.conn.execute_batch("COMMIT").map_err(map_err);
    state.commits += 1;
    if outcome.is_err() {
        // Leave the connection out of any transaction for the next writer.
        let _ = state.conn.execute_batch("ROLLBACK");
    }
    tracing::debug!(pushes = open.pushes, ok = outcome.is_ok(), "commit");
    open.commit.finish(&outcome);
    outcome
}

#[cfg(test)]
mod tests {
    use std::thread;
    use std::time::{Duration, Instant};

    use super::*;

    fn writer() -> (tempfile::TempDir, Arc<Writer>) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (who TEXT NOT NULL);")
            .unwrap();
        (dir, Arc::new(Writer::new(conn)))
    }

    fn insert(c: &Connection, who: &str) -> Result<(), StoreError> {
        c.execute("INSERT INTO t (who) VALUES (?1)", [who])
            .map(|_| ())
            .map_err(map_err)
    }

    fn rows(w: &Writer) -> Vec<String> {
        w.write(|c| {
            let mut stmt = c.prepare("SELECT who FROM t ORDER BY who").unwrap();
            let rows = stmt.query_map([], |r| r.get(0)).unwrap();
            Ok(rows.map(Result::unwrap).collect())
        })
        .unwrap()
    }

    /// Waits (inside a push, holding the writer) until another push is
    /// queued for it.
    fn until_someone_waits(w: &Writer) {
        let started = Instant::now();
        while w.waiting.load(Ordering::SeqCst) == 0 {
            assert!(started.elapsed() < Duration::from_secs(10), "nobody came");
            thread::yield_now();
        }
    }

    /// Runs `first` holding the writer until `second` queues behind it, and
    /// returns both results.
    fn two_pushes(
        w: &Arc<Writer>,
        first: impl FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
        second: impl FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    ) -> (Result<(), StoreError>, Result<(), StoreError>) {
        let (in_first, go) = std::sync::mpsc::channel();
        let a = {
            let w = w.clone();
            thread::spawn(move || {
                let waiter = w.clone();
                w.push(move |c| {
                    in_first.send(()).unwrap();
                    let kept = first(c);
                    until_someone_waits(&waiter);
                    kept
                })
            })
        };
        go.recv().unwrap();
        let b = {
            let w = w.clone();
            thread::spawn(move || w.push(second))
        };
        (a.join().unwrap(), b.join().unwrap())
    }

    #[test]
    fn a_push_with_nobody_waiting_commits_alone() {
        let (_dir, w) = writer();
        w.push(|c| insert(c, "a")).unwrap();
        w.push(|c| insert(c, "b")).unwrap();
        assert_eq!(w.lock().commits, 2);
        assert_eq!(rows(&w), ["a", "b"]);
    }

    #[test]
    fn a_push_that_finds_another_waiting_shares_its_commit() {
        let (_dir, w) = writer();
        let (a, b) = two_pushes(&w, |c| insert(c, "a"), |c| insert(c, "b"));
        a.unwrap();
        b.unwrap();
        assert_eq!(w.lock().commits, 1, "both pushes in one commit");
        assert_eq!(rows(&w), ["a", "b"]);
    }

    #[test]
    fn a_failed_push_in_a_shared_transaction_leaves_nothing_and_the_others_are_kept() {
        let (_dir, w) = writer();
        let (a, b) = two_pushes(
            &w,
            |c| insert(c, "a"),
            |c| {
                insert(c, "b")?;
                Err(StoreError::Corrupt("refused".into()))
            },
        );
        a.unwrap();
        assert!(matches!(b, Err(StoreError::Corrupt(_))));
        assert_eq!(rows(&w), ["a"]);

        // The first push fails after writing; the second is kept.
        let (_dir, w) = writer();
        let (a, b) = two_pushes(
            &w,
            |c| {
                insert(c, "a")?;
                Err(StoreError::Busy)
            },
            |c| insert(c, "b"),
        );
        assert!(matches!(a, Err(StoreError::Busy)));
        b.unwrap();
        assert_eq!(rows(&w), ["b"]);
    }

    #[test]
    fn a_push_that_panics_is_rolled_back_and_the_others_commit() {
        let (_dir, w) = writer();
        let (a, b) = two_pushes(
            &w,
            |c| insert(c, "a"),
            |c| {
                insert(c, "b").unwrap();
                panic!("a bug in a push")
            },
        );
        a.unwrap();
        assert!(b.is_err());
        assert_eq!(rows(&w), ["a"]);
    }

    #[test]
    fn another_write_commits_the_open_transaction_first() {
        let (_dir, w) = writer();
        // A push thinks one more is coming, so it leaves its transaction
        // open and waits; a write that is not a push commits it.
        w.waiting.fetch_add(1, Ordering::SeqCst);
        let pusher = {
            let w = w.clone();
            thread::spawn(move || w.push(|c| insert(c, "a")))
        };
        let started = Instant::now();
        while w.lock().open.as_ref().map_or(0, |o| o.pushes) == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the push never ran"
            );
            thread::yield_now();
        }
        assert_eq!(rows(&w), ["a"]);
        pusher.join().unwrap().unwrap();
        w.waiting.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(w.lock().commits, 1);
    }

    #[test]
    fn many_pushes_at_once_are_each_kept_or_undone_whole() {
        let (_dir, w) = writer();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let w = w.clone();
                thread::spawn(move || {
                    for i in 0..50 {
                        let who = format!("{t}-{i:02}");
                        let fail = i % 10 == 9;
                        let outcome = w.push(|c| {
                            insert(c, &who)?;
                            if fail {
                                return Err(StoreError::Busy);
                            }
                            Ok(())
                        });
                        assert_eq!(outcome.is_err(), fail, "{who}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let rows = rows(&w);
        assert_eq!(rows.len(), 8 * 45);
        assert!(
            rows.iter().all(|r| !r.ends_with('9')),
            "a failed push was kept"
        );
    }
}
