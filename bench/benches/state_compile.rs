//! The state compiler on its own: Salt's `call_high` passes, `compile_high_data`
//! and `order_chunks` over 1,000 `file.managed` states (the tree of
//! `bench/states.sh`), once without requisites and once with a `require` chain
//! and a `watch_in` per state. This is the compile part of every
//! `state.apply`, measured without process start-up or rendering.
//!
//! `cargo bench -p brine-bench --bench state_compile`

use std::hint::black_box;

use brine_states::compile::{self, HighData};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const STATES: usize = 1_000;

/// High data as the renderer hands it over: `{id: {file: [args..., "managed"], __sls__, __env__}}`.
fn high(requisites: bool) -> HighData {
    let mut high = HighData::new();
    for i in 0..STATES {
        let mut args = vec![
            json!({"name": format!("/srv/target/bench/f{i:04}.txt")}),
            json!({"contents": format!("bench file {i:04}")}),
            json!({"makedirs": true}),
        ];
        if requisites && i > 0 {
            args.push(json!({"require": [{"file": format!("bench_file_{:04}", i - 1)}]}));
            args.push(json!({"watch_in": [{"cmd": "reload"}]}));
        }
        args.push(Value::from("managed"));
        high.insert(
            format!("bench_file_{i:04}"),
            json!({"file": args, "__sls__": "bench", "__env__": "base"}),
        );
    }
    if requisites {
        high.insert(
            "reload".into(),
            json!({"cmd": [{"name": "true"}, "run"], "__sls__": "bench", "__env__": "base"}),
        );
    }
    high
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("state compile");
    for (label, requisites) in [
        ("1,000 states", false),
        ("1,000 states, require + watch_in", true),
    ] {
        let high = high(requisites);
        let compiled = compile::compile(high.clone()).expect("the bench tree compiles");
        assert_eq!(compiled.chunks.len(), high.len());
        // The clone is part of the figure: callers own their high data, the
        // bench hands over a fresh copy each time.
        group.bench_function(label, |b| {
            b.iter(|| compile::compile(black_box(high.clone())))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
