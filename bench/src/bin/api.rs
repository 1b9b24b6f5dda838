//! `brine-bench-api`: `POST /` with `test.ping` to 100 swarm minions through
//! `brine-api` over TLS with keep-alive (issue 8): requests per second and
//! p99 latency. One `curl` process sends the requests one after another on
//! one kept-alive TLS connection and reports each request's time.
//!
//!     cargo build --release --bins && target/release/brine-bench-api

use std::process::Command;
use std::time::Duration;

use brine_tests::cluster::{Cluster, free_port, hash_password, wait_for};
use serde_json::{Value, json};

const SWARM: usize = 100;
const REQUESTS: usize = 200;

fn main() {
    let dir = tempfile::tempdir().expect("tmp");
    let users = dir.path().join("users");
    std::fs::write(&users, format!("bench:{}\n", hash_password("bench"))).expect("users");
    let crt = dir.path().join("api.crt");
    let conf = format!(
        "rest_api:\n  port: {port}\n  ssl_crt: {crt}\n  ssl_key: {key}\n\
         external_auth:\n  file:\n    ^filename: {users}\n    bench:\n      - '*': ['test.*']\n",
        port = free_port(),
        crt = crt.display(),
        key = dir.path().join("api.key").display(),
        users = users.display(),
    );
    let c = Cluster::builder()
        .log_level("warning")
        .minions(0)
        .auto_accept(true)
        .master_conf(&conf)
        .start();
    let _swarm = c.start_swarm(SWARM, "api-", &[]);
    wait_for("the swarm to answer", Duration::from_secs(60), || {
        let out = c.brine(&["-t", "3", "--out", "txt", "*", "test.ping"]);
        (String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(": True"))
            .count()
            == SWARM)
            .then_some(())
    });
    let api = c.start_api(&["--gen-self-signed"]);
    let login = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&crt)
        .args([
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"username": "bench", "password": "bench", "eauth": "file"}"#,
        ])
        .arg(format!("{}/login", api.url))
        .output()
        .expect("curl login");
    let reply: Value = serde_json::from_slice(&login.stdout).expect("login reply");
    let token = reply["return"][0]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let body = json!([{"client": "local", "tgt": "*", "fun": "test.ping"}]).to_string();
    let url = format!("{}/", api.url);
    let out = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&crt)
        .args([
            "-H",
            "Content-Type: application/json",
            "-H",
            &format!("X-Auth-Token: {token}"),
            "-d",
            &body,
        ])
        .args(["-w", "%{http_code} %{time_total}\\n"])
        // `-o` binds to one URL, so every URL gets its own to keep bodies off stdout.
        .args((0..REQUESTS).flat_map(|_| ["-o", "/dev/null", url.as_str()]))
        .output()
        .expect("curl requests");
    let mut times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (code, t) = l.split_once(' ')?;
            (code == "200").then(|| t.parse::<f64>().ok()).flatten()
        })
        .collect();
    assert_eq!(
        times.len(),
        REQUESTS,
        "some requests failed: {}",
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .take(5)
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let total: f64 = times.iter().sum();
    times.sort_by(f64::total_cmp);
    let p =
        |q: f64| times[((times.len() as f64 * q).ceil() as usize).min(times.len()) - 1] * 1000.0;
    println!(
        "POST / test.ping to {SWARM} swarm minions over TLS, keep-alive, {REQUESTS} requests: {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms",
        REQUESTS as f64 / total,
        p(0.50),
        p(0.99)
    );
}
