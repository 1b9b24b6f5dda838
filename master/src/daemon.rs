//! The master daemon: builds the shared [`Master`] state, binds its sockets and
//! runs its tasks until SIGTERM/SIGINT, then stops them ([`crate::stop`]),
//! commits the job cache and lets the publisher process go. A second signal
//! during the stop ends the process at once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use brine_client::{KeyCommand, KeyReply};
use brine_common::config::{ClusterStore, MasterConfig};
use brine_common::crypto::Identity;
use brine_common::event::{Event, tags};
use brine_common::ids::MinionId;
use brine_common::jid::JidGenerator;
use serde_json::{Value, json};

use crate::bus::EventBus;
use crate::cluster_store;
use crate::job_cache::{JobCache, PgJobCache, RedbJobCache};
use crate::key_admin::KeyAct;
use crate::keys::{KeyChange, KeyError, KeyStore, Keys, PgKeyStore};
use crate::publisher::Publisher;
use crate::sessions::Sessions;

/// Everything the master's tasks share. Each part has one owner of its state.
pub struct Master {
    pub config: MasterConfig,
    pub identity: Arc<Identity>,
    pub keys: Arc<dyn Keys>,
    pub cache: Arc<dyn JobCache>,
    pub bus: EventBus,
    pub publisher: Arc<Publisher>,
    pub sessions: Sessions,
    pub jids: JidGenerator,
    /// `file_roots` and gitfs (`fileserver_backend`), served as `salt://`.
    pub fileserver: Arc<crate::fileserver::FileServer>,
    /// Grains and pillar of every minion, for targeting.
    pub minion_data: Arc<crate::minion_data::MinionData>,
    /// The Salt mine: each minion's `mine_functions` data.
    pub mine: crate::mine::MineStore,
    /// `pillar_roots`, compiled into each minion's pillar on request.
    pub pillar_roots: Arc<brine_common::fileroots::Roots>,
    /// The options of every pillar compile, from the config (a request sets
    /// its own saltenv, pillarenv and override on a copy).
    pub pillar_opts: Arc<brine_pillar::PillarOpts>,
    /// The master's own execution functions, for its pillar, reactor and
    /// orchestrate templates.
    pub functions: Arc<crate::functions::MasterFunctions>,
    /// Recent jobs, for the return path.
    pub in_flight: crate::jobs::InFlight,
    /// The reactor's rules (`reactor:`, changed by `reactor.add`/`delete`).
    pub reactor: crate::reactor::Reactor,
    pub publish_port: u16,
    /// The stop signal every long-lived task watches.
    pub stop: crate::stop::Stop,
    /// The other masters of the cluster store (`cluster_store: postgres`).
    pub peers: Option<Arc<crate::peers::Peers>>,
}

/// How long a stopping master lets the request handlers already running
/// finish (a return waits for one batch commit, tens of milliseconds; a
/// pillar compile may take seconds).
const HANDLER_GRACE: Duration = Duration::from_secs(5);

/// Paths of the master's own key pair.
pub fn master_key_paths(config: &MasterConfig) -> (PathBuf, PathBuf) {
    (
        config.pki_dir.join("master.pem"),
        config.pki_dir.join("master.pub"),
    )
}

pub fn job_cache_path(config: &MasterConfig) -> PathBuf {
    config.cachedir.join("jobs.redb")
}

/// Where the master keeps keys, jobs and returns, as `cluster_store` says.
struct Stores {
    keys: Arc<dyn Keys>,
    cache: Arc<dyn JobCache>,
    /// The shared key store, whose changes on other masters this one follows.
    shared_keys: Option<Arc<PgKeyStore>>,
    peers: Option<Arc<crate::peers::Peers>>,
    mine: crate::mine::MineStore,
}

/// The embedded stores (`pki_dir` and the redb file), or the shared
/// PostgreSQL, connected and its schema migrated before anything is served.
async fn open_stores(config: &MasterConfig) -> anyhow::Result<Stores> {
    match config.cluster_store {
        ClusterStore::Redb => Ok(Stores {
            keys: Arc::new(KeyStore::open(&config.pki_dir).context("key store")?),
            cache: Arc::new(RedbJobCache::open(job_cache_path(config)).context("job cache")?),
            shared_keys: None,
            peers: None,
            mine: crate::mine::MineStore::open(&config.cachedir.join("mine"))
                .context("mine store")?,
        }),
        ClusterStore::Postgres => {
            let settings = cluster_store::Settings::from_config(&config.postgres)?;
            tracing::info!("cluster store: PostgreSQL at {}", settings.target());
            let (keys, cache, peers, mine) = tokio::task::spawn_blocking(move || {
                let cluster = cluster_store::Cluster::open(settings)?;
                let peers = crate::peers::Peers::start(cluster.clone());
                let cache = PgJobCache::connect(cluster.clone(), peers.origin())?;
                let mine = crate::mine::MineStore::open_cluster(cluster.clone(), peers.origin())?;
                anyhow::Ok((Arc::new(PgKeyStore::new(cluster)), cache, peers, mine))
            })
            .await
            .context("the cluster store's start")?
            .context("cluster store")?;
            Ok(Stores {
                keys: keys.clone(),
                cache: Arc::new(cache),
                shared_keys: Some(keys),
                peers: Some(peers),
                mine,
            })
        }
    }
}

/// Apply what other masters do to the shared keys as this master's own
/// commands are applied (sessions ended, the publish key rotated). After a
/// lost notification connection, end the sessions of every minion whose
/// key is no longer accepted, since the changes in between are unknown.
async fn follow_key_changes(master: Arc<Master>, keys: Arc<PgKeyStore>) {
    let mut changes = keys.listen();
    while let Some(change) = changes.recv().await {
        let changed = match change {
            KeyChange::Changed(id, act) => vec![(id, act)],
            KeyChange::Missed => {
                let keys = master.keys.clone();
                let accepted =
                    tokio::task::spawn_blocking(move || keys.list(crate::keys::KeyState::Accepted))
                        .await;
                let accepted: std::collections::HashSet<MinionId> = match accepted {
                    Ok(Ok(ids)) => ids.into_iter().collect(),
                    _ => continue,
                };
                master
                    .sessions
                    .minions()
                    .into_iter()
                    .filter(|id| !accepted.contains(id))
                    .map(|id| (id, KeyAct::Reject))
                    .collect()
            }
        };
        if !changed.is_empty() {
            tracing::info!("key changes from another master: {changed:?}");
        }
        master.apply_key_changes(&changed, false);
    }
}

/// Start the master and serve until a termination signal arrives.
pub async fn run(config: MasterConfig) -> anyhow::Result<()> {
    raise_open_files(config.max_open_files);
    // Keys, job returns and pillar: for the master's user only.
    for dir in [&config.pki_dir, &config.cachedir] {
        brine_common::crypto::private_dir(dir)
            .with_context(|| format!("cannot make {} private (0700)", dir.display()))?;
    }
    let (priv_path, pub_path) = master_key_paths(&config);
    let identity =
        Arc::new(Identity::load_or_generate(&priv_path, &pub_path).context("master key")?);
    let Stores {
        keys,
        cache,
        shared_keys,
        peers,
        mine,
    } = open_stores(&config).await?;

    let minion_data = Arc::new(
        crate::minion_data::MinionData::load(cache.as_ref()).context("minion data cache")?,
    );
    let pub_endpoint = format!("tcp://{}:{}", config.interface, config.publish_port);
    let (publisher, publish_port) =
        Publisher::bind(&pub_endpoint, identity.clone(), config.publish_window).await?;
    let master = Arc::new(Master {
        config: config.clone(),
        identity,
        keys,
        cache,
        bus: EventBus::new(),
        publisher,
        sessions: Sessions::default(),
        // Masters sharing a cluster store keep their jids apart by a suffix.
        jids: match &peers {
            Some(peers) => {
                JidGenerator::with_suffix(peers.origin().rem_euclid(1_000_000).to_string())
            }
            None => JidGenerator::new(),
        },
        in_flight: Default::default(),
        minion_data,
        mine,
        pillar_roots: Arc::new(brine_common::fileroots::Roots::from_config(
            &config.pillar_roots,
        )),
        pillar_opts: Arc::new(brine_pillar::PillarOpts::from_master(&config)),
        functions: Arc::default(),
        fileserver: Arc::new(crate::fileserver::FileServer::from_config(&config)),
        reactor: crate::reactor::Reactor::from_config(&config),
        publish_port,
        stop: crate::stop::Stop::default(),
        peers,
    });
    let stop = &master.stop;
    if master.fileserver.has_git() {
        // The first fetch before minions are served; then every interval.
        crate::fileserver::update(&master).await;
        stop.spawn(crate::fileserver::periodic_updates(master.clone()));
    }
    if !crate::git_pillar::remotes(&master.config).is_empty() {
        // Pillar trees from git are in place before the first compile.
        crate::git_pillar::update_async(&master).await;
        stop.spawn(crate::git_pillar::periodic_updates(master.clone()));
    }
    // Into the new run's window before any minion can ask to catch up.
    match crate::jobs::publish_unfinished(&master).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("{n} unfinished jobs published again"),
        Err(e) => tracing::error!("cannot publish unfinished jobs again: {e}"),
    }
    let listener = crate::client_server::bind(&master)?;
    let ret_endpoint = format!("tcp://{}:{}", config.interface, config.ret_port);
    let ret_port = crate::reqserver::start(master.clone(), &ret_endpoint).await?;
    stop.spawn(crate::client_server::serve(master.clone(), listener));
    stop.spawn(housekeeping(master.clone()));
    crate::reactor::start(master.clone());
    stop.spawn(crate::reactor::presence::run(master.clone()));
    stop.spawn(crate::schedule::run(master.clone()));
    if let Some(shared_keys) = shared_keys {
        stop.spawn(follow_key_changes(master.clone(), shared_keys));
    }
    if let Some(peers) = master.peers.clone() {
        stop.spawn(crate::peers::follow(master.clone(), peers.clone()));
        stop.spawn(crate::peers::report_presence(master.clone(), peers));
    }
    tracing::info!(publish_port, ret_port, "brine-master ready");
    // Tests and supervisors read this line to learn the bound ports.
    println!("brine-master ready publish_port={publish_port} ret_port={ret_port}");

    brine_common::cli::wait_for_shutdown().await;
    tokio::select! {
        () = shut_down(&master) => tracing::info!("brine-master stopped"),
        () = brine_common::cli::wait_for_shutdown() => {
            tracing::warn!("a second stop signal: stopping at once");
        }
    }
    Ok(())
}

/// The graceful stop (see [`crate::stop`]): tasks told to stop, running
/// request handlers given [`HANDLER_GRACE`], the job cache committed, the
/// publisher process sent away once it has sent what was queued.
async fn shut_down(master: &Master) {
    tracing::info!("brine-master stopping: no new requests; running ones have {HANDLER_GRACE:?}");
    if !master.stop.stop(HANDLER_GRACE).await {
        tracing::warn!("request handlers still running after {HANDLER_GRACE:?}: not waited for");
    }
    let cache = master.cache.clone();
    match tokio::task::spawn_blocking(move || cache.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("job cache flush failed: {e}"),
        Err(e) => tracing::error!("job cache flush failed: {e}"),
    }
    master.publisher.stop().await;
}

/// Raise the soft open-files limit towards `max_open_files` (the hard limit
/// caps it; Salt warns the same way when it cannot get what it asked for).
fn raise_open_files(wanted: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let target = wanted.min(hard);
    if target > soft
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, target, hard)
    {
        tracing::warn!("cannot raise the open-files limit to {target}: {e}");
    }
    if hard < wanted {
        tracing::info!(
            "open files limited to {hard} (max_open_files is {wanted}): at most about {} minions",
            hard.saturating_sub(256)
        );
    }
}

/// Periodic work: expire silent sessions, prune old jobs.
async fn housekeeping(master: Arc<Master>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        master.sessions.expire(master.presence_window() * 4);
        let cache = master.cache.clone();
        let keep = master.config.keep_jobs_seconds;
        let now = jiff::Timestamp::now().as_microsecond();
        match tokio::task::spawn_blocking(move || cache.prune(now, keep)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!("pruned {n} old jobs"),
            Ok(Err(e)) => tracing::warn!("job cache prune failed: {e}"),
            _ => {}
        }
    }
}

impl Master {
    /// The minions connected to this master or, in a cluster store, to
    /// another one (as it last reported).
    pub fn connected_minions(&self) -> std::collections::HashSet<MinionId> {
        let mut connected = self.sessions.connected(self.presence_window());
        if let Some(peers) = &self.peers {
            connected.extend(peers.connected_elsewhere());
        }
        connected
    }

    /// A minion that has not spoken for this long counts as disconnected.
    pub fn presence_window(&self) -> Duration {
        Duration::from_secs(self.config.presence_timeout.max(1))
    }

    /// Run a key command with its side effects: `salt/key` events, and for
    /// removed keys the end of their sessions and a new publish key.
    pub fn key_command(&self, cmd: &KeyCommand) -> Result<KeyReply, KeyError> {
        let (reply, changes) =
            crate::key_admin::execute(self.keys.as_ref(), cmd, &self.identity.public())?;
        self.apply_key_changes(&changes, true);
        Ok(reply)
    }

    /// What key changes mean for this master: a `salt/key` event for its own
    /// commands (`announce`), and for every master the end of the sessions
    /// of rejected and deleted keys, what it holds about deleted minions,
    /// and a new publish key.
    pub fn apply_key_changes(&self, changes: &[(MinionId, KeyAct)], announce: bool) {
        let mut removed_any = false;
        for (id, act) in changes {
            if announce {
                self.bus.fire(Event::new(
                    tags::KEY,
                    json!({"act": act.as_str(), "id": id, "result": true}),
                ));
            }
            match act {
                KeyAct::Accept => self.publisher.mark_accepted(id),
                KeyAct::Reject => {
                    self.sessions.remove_minion(id);
                    removed_any = true;
                }
                KeyAct::Delete => {
                    self.forget_minion(id);
                    self.sessions.remove_minion(id);
                    removed_any = true;
                }
            }
        }
        if removed_any && let Err(e) = self.publisher.rotate_key() {
            tracing::error!("publish key rotation failed: {e}");
        }
    }

    /// What the master holds about a minion whose key was deleted: its
    /// grains and pillar, and its mine data.
    fn forget_minion(&self, id: &MinionId) {
        if let Err(e) = self.minion_data.remove(self.cache.as_ref(), id) {
            tracing::warn!("cannot forget {id}'s data: {e}");
        }
        self.mine.remove_minion(id.as_str());
    }
}

/// A JSON list of ids.
pub fn id_list<I: IntoIterator<Item = T>, T: ToString>(ids: I) -> Value {
    Value::Array(
        ids.into_iter()
            .map(|i| Value::String(i.to_string()))
            .collect(),
    )
}
