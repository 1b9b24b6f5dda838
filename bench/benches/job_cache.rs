//! The job cache's write path: how long the master's background writer takes
//! to make a burst of returns durable (20 jobs x 1,000 minions stored, then
//! one flush). The returns are visible to readers as soon as they are
//! queued; this is the work the writer thread does beside the request path.
//!
//! `cargo bench -p brine-bench --bench job_cache`

use std::hint::black_box;

use brine_common::ids::{Jid, MinionId};
use brine_common::target::TargetType;
use brine_master::job_cache::{JobCache, JobRecord, RedbJobCache, ReturnRecord};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;

const JOBS: usize = 20;
const MINIONS: usize = 1_000;

struct Burst {
    jids: Vec<Jid>,
    minions: Vec<MinionId>,
}

fn burst() -> Burst {
    let jids = (0..JOBS)
        .map(|j| Jid::parse(&format!("2026112206{j:02}00000000")).expect("jid"))
        .collect();
    let minions = (0..MINIONS)
        .map(|i| MinionId::parse(&format!("minion-{i:05}")).expect("id"))
        .collect();
    Burst { jids, minions }
}

fn ping_return() -> ReturnRecord {
    ReturnRecord {
        ret: json!(true),
        retcode: 0,
        success: true,
        fun: "test.ping".into(),
        fun_args: vec![],
        out: None,
        stamp: "2026-11-22T06:00:00.000000".into(),
    }
}

fn store_burst(c: &mut Criterion) {
    let burst = burst();
    let mut group = c.benchmark_group("job_cache");
    group.sample_size(10);
    group.bench_function("20 jobs x 1,000 returns, stored and flushed", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let cache = RedbJobCache::open(dir.path().join("jobs.redb")).expect("open");
                for jid in &burst.jids {
                    cache.save_job(&job(jid, &burst.minions)).expect("save");
                }
                cache.flush().expect("flush");
                (dir, cache)
            },
            |(dir, cache)| {
                for jid in &burst.jids {
                    for minion in &burst.minions {
                        cache
                            .store_return(jid, minion, ping_return())
                            .expect("store");
                    }
                }
                cache.flush().expect("flush");
                black_box((dir, cache))
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn job(jid: &Jid, minions: &[MinionId]) -> JobRecord {
    JobRecord {
        jid: jid.clone(),
        fun: "test.ping".into(),
        arg: vec![],
        kwarg: Default::default(),
        tgt: json!("*"),
        tgt_type: TargetType::Glob,
        user: "root".into(),
        minions: minions.to_vec(),
        master: None,
    }
}

criterion_group!(benches, store_burst);
criterion_main!(benches);
