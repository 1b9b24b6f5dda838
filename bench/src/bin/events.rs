//! `brine-bench-events`: event-bus throughput from minions to a subscriber
//! (issue 7). 50 real minion links (own keys, own sessions) fire events as
//! fast as the master acknowledges them; a `state.event`-style subscriber on
//! the master's local socket counts what it receives.
//!
//!     cargo build --release --bins && target/release/brine-bench-events

use std::time::{Duration, Instant};

use brine_client::{ClientReply, ClientRequest, Connection};
use brine_common::config::MinionConfig;
use brine_common::crypto::Identity;
use brine_common::ids::MinionId;
use brine_common::wire::{Reply, Request};
use brine_minion::daemon::link_settings;
use brine_minion::link::Link;
use brine_tests::cluster::Cluster;
use serde_json::json;

const MINIONS: usize = 50;
const EVENTS_PER_MINION: usize = 4000;
/// Requests each minion keeps in flight.
const IN_FLIGHT: usize = 64;

fn main() {
    let c = Cluster::builder()
        .log_level("warning")
        .minions(0)
        .auto_accept(true)
        .start();
    let sock_dir = c.master_root().join("var/run/brine/master");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let config = MinionConfig {
            master: brine_common::config::Masters::single("127.0.0.1"),
            master_port: c.ret_port,
            acceptance_wait_time: 0.2,
            ..MinionConfig::default()
        };
        let mut links = Vec::new();
        for i in 0..MINIONS {
            let id = MinionId::parse(&format!("ev{i:03}")).expect("id");
            let mut settings = link_settings(&config, id, false);
            settings.master_pub_path = None;
            let (link, _) = Link::start(settings, Identity::generate().expect("key"));
            links.push(link);
        }
        for link in &links {
            assert!(link.wait_connected(Duration::from_secs(30)).await, "a minion did not connect");
        }
        let total = MINIONS * EVENTS_PER_MINION;
        let mut sub = Connection::open(&sock_dir, &ClientRequest::Events { tag_glob: Some("bench/*".into()) })
            .await
            .expect("subscribe");
        let _ready = sub.next().await;
        let counter = tokio::spawn(async move {
            let mut got = 0usize;
            let mut lagged = 0u64;
            while got + (lagged as usize) < total {
                match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
                    Ok(Ok(ClientReply::Event(_))) => got += 1,
                    Ok(Ok(ClientReply::Lagged(n))) => lagged += n,
                    _ => break,
                }
            }
            (got, lagged, Instant::now())
        });
        let start = Instant::now();
        let mut senders = Vec::new();
        for link in links {
            senders.push(tokio::spawn(fire_all(link)));
        }
        for s in senders {
            s.await.expect("sender");
        }
        let (got, lagged, last) = counter.await.expect("counter");
        let secs = last.duration_since(start).as_secs_f64();
        println!(
            "event bus, {MINIONS} minions x {EVENTS_PER_MINION} events: subscriber received {got} of {total} ({lagged} lost to lag) in {secs:.2} s = {:.0} events/s",
            got as f64 / secs
        );
    });
}

/// Fire this minion's events, `IN_FLIGHT` at a time.
async fn fire_all(link: Link) {
    let mut pending = futures::stream::FuturesUnordered::new();
    use futures::StreamExt;
    for n in 0..EVENTS_PER_MINION {
        if pending.len() >= IN_FLIGHT {
            pending.next().await;
        }
        let link = link.clone();
        pending.push(async move {
            let req = Request::Event {
                tag: "bench/event".into(),
                data: json!({"n": n}),
            };
            matches!(
                link.request(req, Duration::from_secs(30)).await,
                Ok(Reply::Ok)
            )
        });
    }
    while pending.next().await.is_some() {}
}
