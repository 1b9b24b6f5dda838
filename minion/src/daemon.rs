//! The minion daemon: identity, link to the master, job executor, start
//! events, and the graceful stop.
//!
//! On SIGTERM or SIGINT the minion takes no new job (the scheduler and the
//! beacons stop; the link stops handing over publications, and one it
//! received but had not saved its position for is fetched again at the next
//! start), lets the running jobs (scheduled ones too) finish for up to
//! `graceful_shutdown_timeout` seconds (then kills them), and exits 0 once
//! every finished job's return is in the outbox on disk, after giving the
//! master a few seconds to acknowledge them (what is left is sent at the
//! next start). A second signal stops it at once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use brine_common::config::{MasterType, MinionConfig};
use brine_common::crypto::Identity;
use brine_common::event::tags;
use brine_common::functions::Functions;
use brine_common::ids::{Jid, MinionId};
use brine_common::wire::Request;
use serde_json::json;

use crate::link::{Link, LinkSettings};
use crate::modules::{self, MinionCtx};
use crate::outbox::{Backlog, OUTBOX_DIR, Outbox, OutboxLimits};
use crate::pubstate::PositionFile;

/// How long a stopping minion waits for the master to acknowledge the
/// returns in its outbox: they are on disk already, so this only spares a
/// restarted minion sending them again.
const DELIVERY_GRACE: Duration = Duration::from_secs(3);

/// The minion's id: `id` from the config, else the host name (as Salt does).
pub fn minion_id(config: &MinionConfig) -> anyhow::Result<MinionId> {
    let raw = match &config.id {
        Some(id) => id.clone(),
        None => hostname::get()
            .context("cannot read the host name; set `id` in the minion config")?
            .to_string_lossy()
            .into_owned(),
    };
    MinionId::parse(&raw).context("the minion id is not usable")
}

pub fn load_identity(config: &MinionConfig) -> anyhow::Result<Identity> {
    private_dirs(config)?;
    let (priv_path, pub_path) = (
        config.pki_dir.join("minion.pem"),
        config.pki_dir.join("minion.pub"),
    );
    Identity::load_or_generate(&priv_path, &pub_path).context("minion key")
}

/// `pki_dir` (the minion's key) and `cachedir` (pillar, job data, the
/// publication stream position) are for the minion's user only.
fn private_dirs(config: &MinionConfig) -> anyhow::Result<()> {
    for dir in [&config.pki_dir, &config.cachedir] {
        brine_common::crypto::private_dir(dir)
            .with_context(|| format!("cannot make {} private (0700)", dir.display()))?;
    }
    Ok(())
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// The masters of `master:` with their ports, shuffled for a failover list
/// with `random_master`.
fn masters_in_order(config: &MinionConfig) -> Vec<(String, u16)> {
    let mut masters = config.master.endpoints(config.master_port);
    if config.random_master && config.master_type == MasterType::Failover {
        use rand::seq::SliceRandom;
        masters.shuffle(&mut rand::rng());
    }
    masters
}

/// The link settings a minion config describes.
pub fn link_settings(config: &MinionConfig, id: MinionId, subscribe: bool) -> LinkSettings {
    LinkSettings {
        id,
        masters: masters_in_order(config),
        failover: config.master_type == MasterType::Failover,
        publish_port: config.publish_port,
        source_address: config.source_address,
        master_finger: config.master_finger.clone(),
        acceptance_wait_time: secs(config.acceptance_wait_time),
        acceptance_wait_time_max: secs(config.acceptance_wait_time_max),
        auth_timeout: secs(config.auth_timeout),
        alive_interval: secs(config.master_alive_interval),
        max_message_size: config.max_message_size,
        master_pub_path: Some(config.pki_dir.join("minion_master.pub")),
        position: PositionFile::new(subscribe.then_some(config.cachedir.as_path())),
        // `run` gives a daemon its disk outbox.
        outbox: Outbox::in_memory(),
        subscribe,
        verified: None,
    }
}

pub async fn run(config: MinionConfig) -> anyhow::Result<()> {
    let id = minion_id(&config)?;
    let identity = load_identity(&config)?;
    tracing::info!(%id, fingerprint = %identity.public().fingerprint(), "brine-minion starting");
    let mut settings = link_settings(&config, id.clone(), true);
    let (outbox, backlog) = open_outbox(&config).await?;
    settings.outbox = outbox.clone();
    let config = Arc::new(config);
    let functions = modules::registry();
    let ctx = MinionCtx::new(id, config, &functions);
    let already_run = backlog.published_jids();
    let (link, executor) = start_minion_tasks(
        ctx.clone(),
        identity,
        settings,
        functions.clone(),
        already_run,
    );
    tokio::spawn({
        let link = link.clone();
        async move { outbox.replay(link, backlog).await }
    });
    // Not a monitor: a stopping minion lets a startup state run finish.
    tokio::spawn(crate::startup_states::run(
        ctx.clone().with_link(link.clone()),
        functions.clone(),
        link.clone(),
    ));
    let monitors = start_monitors(ctx.clone().with_link(link.clone()), functions, link.clone());
    brine_common::cli::wait_for_shutdown().await;
    // No new scheduled job, no more beacon events.
    for monitor in monitors {
        monitor.abort();
    }
    tokio::select! {
        () = shut_down(&ctx, &link, executor) => {}
        // Whatever was on disk stays there for the next start.
        () = brine_common::cli::wait_for_shutdown() => {
            tracing::warn!("a second stop signal: stopping without waiting for jobs");
        }
    }
    tracing::info!("brine-minion stopped");
    Ok(())
}

/// The outbox in `cachedir`, and the returns the last run left in it.
async fn open_outbox(config: &MinionConfig) -> anyhow::Result<(Outbox, Backlog)> {
    let dir = config.cachedir.join(OUTBOX_DIR);
    let limits = OutboxLimits {
        max_count: config.return_outbox_max_count,
        max_bytes: config.return_outbox_max_bytes,
    };
    let opened = tokio::task::spawn_blocking(move || Outbox::open(&dir, limits)).await?;
    Ok(opened?)
}

/// The graceful stop (see the module's doc).
async fn shut_down(ctx: &MinionCtx, link: &Link, executor: tokio::task::JoinHandle<()>) {
    let timeout = secs(ctx.config.graceful_shutdown_timeout);
    let deadline = tokio::time::Instant::now() + timeout;
    tracing::info!("brine-minion stopping: no new jobs; running jobs have {timeout:?} to finish");
    link.stop_deliveries().await;
    // The executor starts what was handed over before the stop, then ends.
    if tokio::time::timeout_at(deadline, executor).await.is_err() {
        tracing::warn!("the job executor did not stop in time");
    }
    if !ctx.running.wait_settled(deadline).await {
        for jid in ctx.running.jids() {
            tracing::warn!(%jid, "killing a job still running after graceful_shutdown_timeout");
            ctx.running.kill(&jid);
        }
    }
    let outbox = link.outbox();
    if !outbox
        .wait_empty(tokio::time::Instant::now() + DELIVERY_GRACE)
        .await
    {
        tracing::info!(
            "{} returns stay in the outbox; they are sent at the next start",
            outbox.waiting()
        );
    }
}

/// Start one minion's tasks: its link to the master, its job executor, the
/// grains report after every authentication and the start events. This is the
/// whole minion; `brine-minion` runs one, `brine-swarm` runs thousands.
pub fn start_minion(
    ctx: MinionCtx,
    identity: Identity,
    settings: LinkSettings,
    functions: Arc<Functions<MinionCtx>>,
) -> Link {
    start_minion_tasks(ctx, identity, settings, functions, Vec::new()).0
}

/// [`start_minion`], also returning the job executor's task (it ends once
/// the link stops handing over publications). `already_run`: the jobs whose
/// returns the last run left in the outbox.
fn start_minion_tasks(
    ctx: MinionCtx,
    identity: Identity,
    settings: LinkSettings,
    functions: Arc<Functions<MinionCtx>>,
    already_run: Vec<Jid>,
) -> (Link, tokio::task::JoinHandle<()>) {
    let heartbeat = secs(ctx.config.job_heartbeat_interval).max(Duration::from_millis(100));
    let (link, publications) = Link::start(settings, identity);
    let ctx = ctx.with_link(link.clone());
    tokio::spawn(report_minion_data(link.clone(), ctx.clone()));
    tokio::spawn(mine_updates(ctx.clone()));
    let executor = tokio::spawn(crate::executor::run(
        link.clone(),
        functions,
        ctx,
        publications,
        heartbeat,
        already_run,
    ));
    tokio::spawn(fire_start_events(link.clone()));
    (link, executor)
}

/// Start the beacons and the scheduler (their tasks, for a stopping minion to
/// abort). Only `brine-minion` runs them:
/// `brine-swarm`'s thousands of simulated minions call [`start_minion`]
/// alone, so they never start inotify watchers or scheduled jobs.
fn start_monitors(
    ctx: MinionCtx,
    functions: Arc<Functions<MinionCtx>>,
    link: Link,
) -> [tokio::task::JoinHandle<()>; 2] {
    [
        tokio::spawn(crate::beacons::run(ctx.clone(), link.clone())),
        tokio::spawn(crate::schedule::run(ctx, functions, link)),
    ]
}

/// Send grains and pillar to the master's targeting cache after every
/// authentication (a restarted master may have lost nothing, but a minion
/// whose grains changed while it was away must not be targeted by old ones).
async fn report_minion_data(link: Link, ctx: MinionCtx) {
    let mut sessions = link.session_changes();
    let mut reported = 0;
    loop {
        let established = *sessions.borrow_and_update();
        if established > reported {
            reported = established;
            // Boxed: this task lives as long as the minion, and the report's
            // futures would otherwise size its state (a swarm has thousands).
            Box::pin(report_once(&link, &ctx)).await;
        }
        if sessions.changed().await.is_err() {
            return;
        }
    }
}

/// One report: grains first (the master compiles the pillar with the
/// grains it has cached, and caches the pillar it compiled), then the
/// pillar fetch and the mine.
async fn report_once(link: &Link, ctx: &MinionCtx) {
    send_minion_data(link, ctx).await;
    fetch_pillar(ctx).await;
    update_mine(ctx).await;
}

/// Send `mine_functions` results to the master (Salt's `mine.update`).
async fn update_mine(ctx: &MinionCtx) {
    if ctx.config.mine_functions.is_empty() {
        return;
    }
    let call = brine_common::functions::Call::default();
    if let Err(e) = crate::modules::mine::update(ctx, &call).await {
        tracing::warn!("mine update failed: {e}");
    }
}

/// Update the mine every `mine_interval` minutes (the first update follows
/// authentication, see [`report_minion_data`]).
async fn mine_updates(ctx: MinionCtx) {
    let minutes = ctx.config.mine_interval;
    if minutes <= 0.0 || ctx.config.mine_functions.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(secs(minutes * 60.0).max(Duration::from_secs(1)));
    tick.tick().await;
    loop {
        tick.tick().await;
        update_mine(&ctx).await;
    }
}

/// Fetch this minion's pillar from the master into `ctx.pillar`.
async fn fetch_pillar(ctx: &MinionCtx) {
    match crate::modules::pillar::compile_pillar(ctx, None, None).await {
        Ok(pillar) => *ctx.pillar.write().unwrap_or_else(|p| p.into_inner()) = pillar,
        Err(e) => tracing::warn!("{e}"),
    }
}

/// Push the current grains to the master.
pub async fn send_minion_data(link: &Link, ctx: &MinionCtx) {
    let request = Request::MinionData {
        grains: ctx.grains(),
    };
    if let Err(e) = link.request(request, Duration::from_secs(30)).await {
        tracing::warn!("cannot send grains to the master: {e}");
    }
}

/// Salt's `salt/minion/<id>/start` and legacy `minion_start`, once connected.
async fn fire_start_events(link: Link) {
    while !link.wait_connected(Duration::from_secs(3600)).await {}
    let id = link.id().to_string();
    let now = brine_common::local_time::now();
    let message = format!(
        "Minion {id} started at {}",
        now.strftime("%a %b %e %H:%M:%S %Y")
    );
    for tag in [
        tags::minion_start(&id),
        tags::MINION_START_LEGACY.to_string(),
    ] {
        let data = json!({
            "cmd": "_minion_event",
            "data": message,
            "id": id,
            "pretag": null,
            "tag": tag,
            "ts": now.timestamp().as_second(),
        });
        let request = Request::Event {
            tag: tag.clone(),
            data,
        };
        if let Err(e) = link.request(request, Duration::from_secs(30)).await {
            tracing::warn!("cannot fire {tag}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(master_type: MasterType, random_master: bool) -> MinionConfig {
        let list: Vec<String> = (1..=8).map(|n| format!("m{n}:{}", 4500 + n)).collect();
        let mut config: MinionConfig =
            serde_json::from_value(serde_json::json!({ "master": list })).expect("config");
        config.master_type = master_type;
        config.random_master = random_master;
        config
    }

    /// `random_master` shuffles a failover list (the same masters, some
    /// order); a list connected to all at once, or without the key, keeps its order.
    #[test]
    fn random_master_shuffles_only_a_failover_list() {
        let listed = config(MasterType::Str, false).master.endpoints(4506);
        assert_eq!(
            masters_in_order(&config(MasterType::Failover, false)),
            listed
        );
        assert_eq!(masters_in_order(&config(MasterType::Str, true)), listed);
        let orders: Vec<Vec<(String, u16)>> = (0..20)
            .map(|_| masters_in_order(&config(MasterType::Failover, true)))
            .collect();
        for order in &orders {
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, listed, "a permutation of the list");
        }
        // 20 shuffles of 8 masters all in list order: about 1 in 10^92.
        assert!(orders.iter().any(|o| *o != listed), "never shuffled");
    }
}
