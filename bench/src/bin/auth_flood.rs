//! `brine-bench-authflood`: an auth flood against a master that serves 100
//! accepted minions (issue 14). 10,000 auth requests for made-up ids, each
//! with a fresh key and a valid signature, arrive over 50 connections, 1,000
//! a second for 10 s, while `brine '*' test.ping` keeps running against the
//! 100 minions of a `brine-swarm` (accepted by `autosign_file`, so the
//! made-up ids go pending, up to `max_pending_keys`).
//!
//! Prints the ping median when quiet and during the flood (and their ratio),
//! how long the flood took to send, the master's peak RSS, and how many keys
//! ended up pending. Build the release binaries first:
//!
//!     cargo build --release --bins && target/release/brine-bench-authflood
//!
//! Everything runs on 127.0.0.1 in a temp dir.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use brine_common::crypto::{Ephemeral, Identity, random_bytes};
use brine_common::frame::encode;
use brine_common::ids::MinionId;
use brine_common::wire::{AuthRequest, MinionFrame, PROTOCOL_VERSION, SignedBlob};
use brine_tests::cluster::{Cluster, bin};
use bytes::Bytes;
use zeromq::{DealerSocket, Socket, SocketSend, ZmqMessage};

const MINIONS: usize = 100;
const BOGUS_REQUESTS: usize = 10_000;
const CONNECTIONS: usize = 50;
const QUIET_PINGS: usize = 10;
/// The flood is sent in this many equal batches, one every 100 ms.
const BATCHES: usize = 100;

fn main() -> anyhow::Result<()> {
    let c = Cluster::builder()
        .log_level("warning")
        .minion_ids(&[])
        .master_root_file("/etc/brine/autosign.conf", "s-*\n")
        .master_conf("autosign_file: /etc/brine/autosign.conf\nmax_pending_keys: 1000\n")
        .start();
    let _swarm = c.start_swarm(MINIONS, "s-", &[]);
    wait_all_answer(&c)?;

    let mut quiet: Vec<Duration> = (0..QUIET_PINGS)
        .map(|_| ping(&c))
        .collect::<Result<_, _>>()?;
    quiet.sort();

    let frames = bogus_auth_frames(BOGUS_REQUESTS)?;
    let flooding = Arc::new(AtomicBool::new(true));
    let port = c.ret_port;
    let flag = flooding.clone();
    let flood = std::thread::spawn(move || {
        let started = Instant::now();
        let sent = send_flood(port, &frames);
        flag.store(false, Ordering::SeqCst);
        (sent, started.elapsed())
    });
    let mut during = Vec::new();
    while flooding.load(Ordering::SeqCst) || during.len() < 5 {
        during.push(ping(&c)?);
    }
    let (sent, flood_time) = flood
        .join()
        .map_err(|_| anyhow::anyhow!("the flood thread panicked"))?;
    during.sort();

    let pending = c.keys()["minions_pre"].as_array().map_or(0, Vec::len);
    let peak = c
        .master_pid()
        .and_then(|pid| status_kib(pid, "VmHWM:"))
        .unwrap_or(0);
    let quiet_ms = ms(quiet[quiet.len() / 2]);
    let flood_ms = ms(during[during.len() / 2]);
    println!("quiet: test.ping to {MINIONS} minions, median {quiet_ms:.1} ms ({QUIET_PINGS} runs)");
    println!(
        "flood: {sent}/{BOGUS_REQUESTS} bogus auth requests over {CONNECTIONS} connections in {:.1} s",
        flood_time.as_secs_f64()
    );
    println!(
        "during the flood: test.ping median {flood_ms:.1} ms ({} runs, max {:.1} ms) = {:.2}x quiet",
        during.len(),
        ms(during[during.len() - 1]),
        flood_ms / quiet_ms
    );
    println!(
        "master peak RSS {:.1} MiB; pending keys {pending} (max_pending_keys 1000)",
        peak as f64 / 1024.0
    );
    Ok(())
}

/// Wait (bounded) until every swarm minion answers a ping.
fn wait_all_answer(c: &Cluster) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let out = Command::new(bin("brine"))
            .arg("-c")
            .arg(c.master_dir())
            .args(["-t", "5", "--out", "txt", "*", "test.ping"])
            .output()?;
        let answered = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(": True"))
            .count();
        if answered == MINIONS {
            return Ok(());
        }
    }
    anyhow::bail!("the swarm's {MINIONS} minions did not all answer within 120 s")
}

/// One `brine '*' test.ping`; an error unless all minions answered.
fn ping(c: &Cluster) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let out = Command::new(bin("brine"))
        .arg("-c")
        .arg(c.master_dir())
        .args(["-t", "10", "--out", "txt", "*", "test.ping"])
        .output()?;
    let elapsed = start.elapsed();
    let answered = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with(": True"))
        .count();
    anyhow::ensure!(
        answered == MINIONS,
        "only {answered}/{MINIONS} answered a ping"
    );
    Ok(elapsed)
}

/// Signed auth requests for `n` made-up ids, each with its own key, ready
/// to send (made before the flood, so it measures the master, not keygen).
fn bogus_auth_frames(n: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let now = jiff::Timestamp::now().as_second();
    (0..n)
        .map(|i| {
            let identity = Identity::generate()?;
            let nonce: [u8; 32] = random_bytes()?;
            let request = AuthRequest {
                id: MinionId::parse(&format!("bogus-{i:05}"))?,
                pubkey: identity.public().0.to_vec(),
                eph_pub: Ephemeral::generate()?.public().to_vec(),
                nonce: nonce.to_vec(),
                ts: now,
                version: PROTOCOL_VERSION,
            };
            let blob = SignedBlob::sign(&identity, &request)?;
            Ok(encode(&MinionFrame::Auth(blob))?)
        })
        .collect()
}

/// Send `frames` over `CONNECTIONS` DEALERs, round robin, in `BATCHES`
/// batches 100 ms apart; how many went out.
fn send_flood(port: u16, frames: &[Vec<u8>]) -> usize {
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    else {
        return 0;
    };
    rt.block_on(async move {
        let mut dealers = Vec::new();
        for _ in 0..CONNECTIONS {
            let mut dealer = DealerSocket::new();
            if dealer
                .connect(&format!("tcp://127.0.0.1:{port}"))
                .await
                .is_ok()
            {
                dealers.push(dealer);
            }
        }
        if dealers.is_empty() {
            return 0;
        }
        let mut sent = 0;
        let count = dealers.len();
        let per_batch = frames.len().div_ceil(BATCHES);
        let mut pace = tokio::time::interval(Duration::from_millis(100));
        for (b, batch) in frames.chunks(per_batch).enumerate() {
            pace.tick().await;
            for (i, frame) in batch.iter().enumerate() {
                let msg = ZmqMessage::from(Bytes::from(frame.clone()));
                let send = dealers[(b + i) % count].send(msg);
                if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(5), send).await {
                    sent += 1;
                }
            }
        }
        sent
    })
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
