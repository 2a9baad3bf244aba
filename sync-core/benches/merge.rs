//! Merge throughput (criterion): the workload of `workload/mod.rs` merged into
//! an empty state in arrival order, then merged again (every change a
//! duplicate), each one change at a time (`Replica::apply`) and as one slice
//! (`Replica::apply_all`, which overlaps the cache misses of a window of
//! changes). Run: `cargo bench -p sync-core --bench merge`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sync_core::{Change, Replica};

mod workload;

fn one_by_one(changes: &[Change], mut replica: Replica) -> Replica {
    for change in changes {
        replica.apply(change);
    }
    replica
}

fn windowed(changes: &[Change], mut replica: Replica) -> Replica {
    replica.apply_all(changes);
    replica
}

fn bench(c: &mut Criterion) {
    let work = workload::workload();
    let merged = one_by_one(&work.changes, Replica::new());
    println!(
        "workload: {} changes to {} records, {} of them concurrent with the edit before",
        work.changes.len(),
        merged.len(),
        work.concurrent
    );
    let mut group = c.benchmark_group("merge");
    group.throughput(Throughput::Elements(work.changes.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("fresh", |b| {
        b.iter_batched(
            Replica::new,
            |r| one_by_one(&work.changes, r),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("fresh/apply_all", |b| {
        b.iter_batched(
            Replica::new,
            |r| windowed(&work.changes, r),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("duplicates", |b| {
        b.iter_batched(
            || merged.clone(),
            |r| one_by_one(&work.changes, r),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    black_box(merged);
}

criterion_group!(benches, bench);
criterion_main!(benches);
