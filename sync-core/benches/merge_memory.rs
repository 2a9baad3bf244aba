//! The heap the merged state of the merge workload holds: live heads plus one
//! superseded mark per overwritten write, never copies of old values.
//! Run: `cargo bench -p sync-core --bench merge_memory`.

use std::alloc::System;
use std::hint::black_box;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use sync_core::{Hlc, Replica};

mod workload;

/// Counts heap bytes, so the report can say what the merged state holds.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    let work = workload::workload();
    let region = Region::new(GLOBAL);
    let mut replica = Replica::new();
    for change in &work.changes {
        replica.apply(change);
    }
    let stats = region.change();
    let held = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
        + stats.bytes_reallocated as i64;
    let (mut heads, mut marks, mut conflicts) = (0usize, 0usize, 0usize);
    for (_, state) in replica.records() {
        for (_, register) in state.registers() {
            heads += register.heads().len();
            marks += register.superseded().len();
        }
        conflicts += state.conflicts().len();
    }
    let floor = heads * std::mem::size_of::<sync_core::Head>() + marks * std::mem::size_of::<Hlc>();
    println!(
        "merged {} changes ({} concurrent) into {} records: {heads} live heads, {marks} superseded marks, \
         {conflicts} keys in conflict; heap held by the state {:.1} MiB ({:.0} bytes per head or mark; \
         a head is {} bytes and a mark {} bytes, so the bare entries take {:.1} MiB)",
        work.changes.len(),
        work.concurrent,
        replica.len(),
        held as f64 / (1024.0 * 1024.0),
        held as f64 / (heads + marks) as f64,
        std::mem::size_of::<sync_core::Head>(),
        std::mem::size_of::<Hlc>(),
        floor as f64 / (1024.0 * 1024.0),
    );
    black_box(replica);
}
