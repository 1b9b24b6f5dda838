//! Master-side target evaluation: how long the master takes to work out which
//! of 10,000 cached minions a compound target expects (the work done for every
//! grain or compound job before it is published). Target: under 10 ms.
//!
//! `cargo bench -p brine-bench --bench targeting`

use std::collections::BTreeMap;
use std::hint::black_box;

use brine_common::target::{MinionFacts, Target, TargetType};
use brine_common::wire::TargetSpec;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const MINIONS: usize = 10_000;

const COMPOUND: &str = "G@role:web and ( G@os:Debian or E@web-0\\d+ ) and not S@10.1.0.0/16 and not L@web-00001,web-00002";

/// The minion data cache as the master reads it: id -> {"grains", "pillar"}.
fn cache() -> BTreeMap<String, Value> {
    let roles = ["web", "db", "cache", "queue"];
    let oses = [
        ("Debian", "Debian"),
        ("Ubuntu", "Debian"),
        ("Rocky", "RedHat"),
    ];
    (0..MINIONS)
        .map(|i| {
            let id = format!("{}-{i:05}", roles[i % roles.len()]);
            let (os, family) = oses[i % oses.len()];
            let grains = json!({
                "id": id,
                "role": roles[i % roles.len()],
                "os": os,
                "os_family": family,
                "osmajorrelease": 12,
                "ipv4": ["127.0.0.1", format!("10.{}.{}.{}", i % 4, (i / 250) % 250, i % 250)],
                "roles": ["base", roles[i % roles.len()]],
                "app": {"name": "nginx", "ports": [80, 443]},
            });
            (id, json!({"grains": grains, "pillar": {}}))
        })
        .collect()
}

/// The master's expected set: every cached minion the target matches.
fn expected(target: &Target, cache: &BTreeMap<String, Value>) -> usize {
    cache
        .iter()
        .filter(|(id, data)| {
            target.evaluate(&MinionFacts::from_cache(id, Some(data))) == Some(true)
        })
        .count()
}

fn bench(c: &mut Criterion) {
    let cache = cache();
    let spec = TargetSpec {
        tgt: json!(COMPOUND),
        tgt_type: TargetType::Compound,
    };
    let target = Target::compile(&spec).expect("compound target");
    assert!(
        expected(&target, &cache) > 0,
        "the target matches some minions"
    );
    let mut group = c.benchmark_group("targeting");
    group.sample_size(30);
    group.bench_function("compound over 10k cached minions", |b| {
        b.iter(|| expected(black_box(&target), black_box(&cache)))
    });
    group.bench_function("compile the compound target", |b| {
        b.iter(|| Target::compile(black_box(&spec)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
