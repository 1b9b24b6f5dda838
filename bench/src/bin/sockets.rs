//! What a swarm minion's two zeromq sockets cost on their own: N DEALER and
//! N SUB sockets, made with the minion's options and each read by its own
//! task as the minion's are, connected to a ROUTER and a PUB in a child
//! process. Prints this process's RSS growth per socket pair, the figure
//! BENCHMARKS.md subtracts from the swarm's per-minion memory.
//!
//!     brine-bench-sockets 2000

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use zeromq::{DealerSocket, PubSocket, RouterSocket, Socket, SocketOptions, SocketRecv, SubSocket};

/// The minion's read-buffer options (minion/src/link.rs).
const READ_BUFFER_MIN: usize = 128;
const READ_BUFFER_MAX: usize = 8192;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arg = std::env::args().nth(1).unwrap_or_default();
    if arg == "serve" {
        return serve().await;
    }
    let n: usize = arg.parse().context("usage: brine-bench-sockets N")?;
    let exe = std::env::current_exe()?;
    let mut server = Command::new(exe)
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(server.stdout.take().context("server stdout")?).read_line(&mut line)?;
    let ports: Vec<u16> = line
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let [router, publisher] = ports[..] else {
        bail!("the server printed {line:?}");
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib()?;
    let mut kept = Vec::with_capacity(n);
    for _ in 0..n {
        kept.push(pair(router, publisher).await?);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib()?;
    println!(
        "{n} DEALER+SUB pairs: RSS {before} -> {after} KiB = {:.1} KiB per pair",
        (after - before) as f64 / n as f64
    );
    drop(kept);
    if let Some(mut stdin) = server.stdin.take() {
        let _ = stdin.write_all(b"bye\n");
    }
    let _ = server.kill();
    Ok(())
}

fn options() -> SocketOptions {
    let mut options = SocketOptions::default();
    options.read_buffer(READ_BUFFER_MIN, READ_BUFFER_MAX, 2);
    options
}

/// One minion's pair of sockets, each drained by its own task.
async fn pair(router: u16, publisher: u16) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut dealer = DealerSocket::with_options(options());
    dealer.connect(&format!("tcp://127.0.0.1:{router}")).await?;
    let mut sub = SubSocket::with_options(options());
    sub.connect(&format!("tcp://127.0.0.1:{publisher}")).await?;
    for topic in ["broadcast", "minion-topic"] {
        sub.subscribe(topic).await?;
    }
    Ok(vec![
        tokio::spawn(async move { while dealer.recv().await.is_ok() {} }),
        tokio::spawn(async move { while sub.recv().await.is_ok() {} }),
    ])
}

/// The other ends: a ROUTER and a PUB on loopback; ends when stdin closes.
async fn serve() -> anyhow::Result<()> {
    let mut router = RouterSocket::new();
    let router_at = router.bind("tcp://127.0.0.1:0").await?;
    let mut publisher = PubSocket::new();
    let pub_at = publisher.bind("tcp://127.0.0.1:0").await?;
    println!(
        "{} {}",
        port_of(&router_at.to_string()),
        port_of(&pub_at.to_string())
    );
    tokio::spawn(async move { while router.recv().await.is_ok() {} });
    let _keep = publisher;
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await?;
    Ok(())
}

fn port_of(endpoint: &str) -> String {
    endpoint.rsplit(':').next().unwrap_or_default().to_string()
}

fn rss_kib() -> anyhow::Result<i64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS in /proc/self/status")
}
