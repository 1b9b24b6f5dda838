//! The key store several masters share: `brine_keys` in the cluster store
//! (`cluster_store: postgres`), one row per id and state, the same rules as
//! the `pki_dir` store ([`super::verdict`]).
//!
//! Every master serves auth for every accepted key, since all read the same
//! rows. A `brine-key` command on one master reaches the others at once:
//! its transaction sends a `NOTIFY brine_keys` per changed id, and each
//! master listening ([`PgKeyStore::listen`]) ends the sessions of keys
//! rejected or deleted elsewhere, as it does for its own commands.
//!
//! Locks: an auth decision that writes takes the id's advisory lock and the
//! store-wide one shared; a `brine-key` command takes the store-wide one
//! exclusively. So a command never interleaves with a decision on the same
//! id, on any master, while decisions on different ids run side by side;
//! only decisions that add a pending key take turns (one more lock), so
//! `max_pending_keys` holds across masters.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use brine_common::crypto::PublicKey;
use brine_common::ids::MinionId;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::{
    AuthDecision, IdPattern, KeyError, KeyState, Keys, ToWrite, Verdict, autosign_matches,
    log_mismatch, sort_ids, verdict,
};
use crate::cluster_store::{Cluster, ClusterError, Exclusive, Shared};
use crate::key_admin::KeyAct;

/// The notification channel.
const CHANNEL: &str = "brine_keys";
/// The store-wide advisory lock (one bigint key: "brine" + 2).
const KEYS_LOCK: i64 = 0x6272_696e_6502;
/// The namespace of the per-id advisory locks (two int4 keys: this, hash).
const ID_LOCK_SPACE: i32 = 0x6b65_7973; // "keys"
/// Taken by a decision that adds a pending key (after the two above).
const PENDING_LOCK: i64 = 0x6272_696e_6503;

/// A change another master made, as a listening master learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    Changed(MinionId, KeyAct),
    /// The listening connection was lost and made again: changes in between
    /// may have been missed.
    Missed,
}

/// What a notification carries.
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    /// The store instance that made the change (its own are ignored).
    origin: u64,
    act: String,
    id: String,
}

#[derive(Debug)]
pub struct PgKeyStore {
    cluster: Arc<Cluster>,
    reads: Arc<Shared>,
    /// Decisions and commands run their transactions here.
    writes: Exclusive,
    /// This store's name in its notifications.
    origin: u64,
}

/// Where a key row is, for messages (it has no file path).
fn row_path(state: KeyState, id: &str) -> PathBuf {
    PathBuf::from(format!("postgres:brine_keys/{}/{id}", state.json_name()))
}

fn state_of(name: &str) -> Option<KeyState> {
    KeyState::ALL.into_iter().find(|s| s.json_name() == name)
}

/// `id`'s non-denied state and key, as [`super::KeyStore::lookup`] gives
/// them (the unique index allows one such row).
async fn lookup(client: &Client, id: &MinionId) -> Result<Option<(KeyState, PublicKey)>, KeyError> {
    let row = client
        .query_opt(
            "SELECT state, pem FROM brine_keys WHERE id = $1 AND state <> 'minions_denied'",
            &[&id.as_str()],
        )
        .await
        .map_err(ClusterError::query("a key lookup"))?;
    let Some(row) = row else { return Ok(None) };
    let (state, pem): (String, String) = (row.get(0), row.get(1));
    let state = state_of(&state).unwrap_or(KeyState::Rejected);
    let key = PublicKey::from_pem(&pem).ok_or_else(|| KeyError::BadKey {
        path: row_path(state, id.as_str()),
    })?;
    Ok(Some((state, key)))
}

impl PgKeyStore {
    pub fn new(cluster: Arc<Cluster>) -> PgKeyStore {
        PgKeyStore {
            reads: Shared::new(cluster.clone()),
            writes: Exclusive::new(cluster.clone()),
            cluster,
            origin: rand::random(),
        }
    }

    /// The changes other masters make, from now on, until the receiver is
    /// dropped. A lost connection is made again (and reported as
    /// [`KeyChange::Missed`]).
    pub fn listen(&self) -> mpsc::UnboundedReceiver<KeyChange> {
        let (tx, rx) = mpsc::unbounded_channel();
        let cluster = self.cluster.clone();
        let origin = self.origin;
        self.cluster.spawn(async move {
            let mut first = true;
            while !tx.is_closed() {
                match cluster.connect_listening().await {
                    Ok((client, notifications)) => {
                        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                            tracing::warn!("cannot listen for key changes: {e}");
                        } else {
                            if !first {
                                let _ = tx.send(KeyChange::Missed);
                            }
                            first = false;
                            forward(notifications, &tx, origin).await;
                        }
                    }
                    Err(e) => tracing::warn!("cannot listen for key changes: {e}"),
                }
                // The connection ended; try again soon (the receiver may be gone).
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        rx
    }

    /// Run `work` in a transaction holding the store-wide lock exclusively.
    fn command<R, F>(&self, what: &'static str, work: F) -> Result<R, KeyError>
    where
        R: Send + 'static,
        F: for<'t> FnOnce(
                &'t tokio_postgres::Transaction<'t>,
            ) -> futures::future::BoxFuture<'t, Result<R, KeyError>>
            + Send
            + 'static,
    {
        self.writes.block(what, move |mut held| async move {
            let outcome = async {
                let client = held.client()?;
                let txn = client
                    .transaction()
                    .await
                    .map_err(ClusterError::query(what))?;
                txn.execute("SELECT pg_advisory_xact_lock($1)", &[&KEYS_LOCK])
                    .await
                    .map_err(ClusterError::query(what))?;
                let out = work(&txn).await?;
                txn.commit().await.map_err(ClusterError::query(what))?;
                Ok::<R, KeyError>(out)
            }
            .await;
            Ok(outcome)
        })?
    }

    /// Everything stored for the ids matching `pattern`: `(id, state, pem)`.
    fn rows_matching(
        &self,
        pattern: &IdPattern,
    ) -> Result<Vec<(MinionId, KeyState, String)>, KeyError> {
        let rows = self.reads.block("a key listing", |client| async move {
            client
                .query("SELECT id, state, pem FROM brine_keys", &[])
                .await
                .map_err(ClusterError::query("a key listing"))
        })?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let id = MinionId::parse(row.get::<_, &str>(0)).ok()?;
                let state = state_of(row.get::<_, &str>(1))?;
                pattern
                    .matches(&id)
                    .then(|| (id, state, row.get::<_, String>(2)))
            })
            .collect())
    }
}

/// Pass the notifications of other stores on until the connection ends.
async fn forward(
    mut notifications: mpsc::UnboundedReceiver<tokio_postgres::Notification>,
    tx: &mpsc::UnboundedSender<KeyChange>,
    origin: u64,
) {
    while let Some(n) = notifications.recv().await {
        let notice: Notice = match serde_json::from_str(n.payload()) {
            Ok(notice) => notice,
            Err(e) => {
                tracing::warn!("ignoring a key notification {:?}: {e}", n.payload());
                continue;
            }
        };
        if notice.origin == origin {
            continue;
        }
        let act = match notice.act.as_str() {
            "accept" => KeyAct::Accept,
            "reject" => KeyAct::Reject,
            "delete" => KeyAct::Delete,
            other => {
                tracing::warn!("ignoring a key notification with act {other:?}");
                continue;
            }
        };
        match MinionId::parse(&notice.id) {
            Ok(id) => {
                if tx.send(KeyChange::Changed(id, act)).is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!("ignoring a key notification for {:?}: {e}", notice.id),
        }
    }
}

/// Tell the other masters, when the transaction commits.
async fn notify(
    txn: &tokio_postgres::Transaction<'_>,
    origin: u64,
    id: &MinionId,
    act: KeyAct,
) -> Result<(), KeyError> {
    let notice = Notice {
        origin,
        act: act.as_str().to_string(),
        id: id.to_string(),
    };
    let payload = serde_json::to_string(&notice).unwrap_or_default();
    txn.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
        .await
        .map_err(ClusterError::query("a key notification"))?;
    Ok(())
}

impl Keys for PgKeyStore {
    fn decide_auth(
        &self,
        id: &MinionId,
        presented: &PublicKey,
        auto_accept: bool,
        autosign_patterns: &[String],
        max_pending: usize,
    ) -> Result<AuthDecision, KeyError> {
        let auto = auto_accept || autosign_matches(id, autosign_patterns);
        // Most requests come from accepted minions and change nothing: one read.
        let stored = {
            let id = id.clone();
            self.reads
                .block("a key lookup", move |client| async move {
                    Ok(lookup(&client, &id).await)
                })??
        };
        if let Ok(decision) =
            verdict(stored.as_ref().map(|(s, k)| (*s, k)), presented, auto).without_write(id)
        {
            return Ok(decision);
        }
        // It writes: decide again under the locks, then write.
        let (id, presented) = (id.clone(), *presented);
        let what = "an auth decision";
        self.writes.block(what, move |mut held| async move {
            let outcome = async {
                let client = held.client()?;
                let txn = client
                    .transaction()
                    .await
                    .map_err(ClusterError::query(what))?;
                txn.execute(
                    "SELECT pg_advisory_xact_lock_shared($1), \
                     pg_advisory_xact_lock($2, hashtext($3))",
                    &[&KEYS_LOCK, &ID_LOCK_SPACE, &id.as_str()],
                )
                .await
                .map_err(ClusterError::query(what))?;
                let stored = lookup(txn.client(), &id).await?;
                let decision = write_verdict(
                    &txn,
                    &id,
                    &presented,
                    verdict(stored.as_ref().map(|(s, k)| (*s, k)), &presented, auto),
                    max_pending,
                )
                .await?;
                txn.commit().await.map_err(ClusterError::query(what))?;
                Ok::<AuthDecision, KeyError>(decision)
            }
            .await;
            Ok(outcome)
        })?
    }

    fn lookup(&self, id: &MinionId) -> Result<Option<(KeyState, PublicKey)>, KeyError> {
        let id = id.clone();
        self.reads.block("a key lookup", move |client| async move {
            Ok(lookup(&client, &id).await)
        })?
    }

    fn list(&self, state: KeyState) -> Result<Vec<MinionId>, KeyError> {
        let name = state.json_name();
        let rows = self
            .reads
            .block("a key listing", move |client| async move {
                client
                    .query("SELECT id FROM brine_keys WHERE state = $1", &[&name])
                    .await
                    .map_err(ClusterError::query("a key listing"))
            })?;
        let mut ids: Vec<MinionId> = rows
            .iter()
            .filter_map(|row| MinionId::parse(row.get::<_, &str>(0)).ok())
            .collect();
        sort_ids(&mut ids);
        Ok(ids)
    }

    /// Rows whose id is not a valid minion id (written by hand: Brine
    /// writes only valid ids) or whose key does not parse.
    fn stray_files(&self) -> Result<Vec<String>, KeyError> {
        let rows = self.reads.block("a key listing", |client| async move {
            client
                .query(
                    "SELECT state, id, pem FROM brine_keys ORDER BY state, id",
                    &[],
                )
                .await
                .map_err(ClusterError::query("a key listing"))
        })?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let (state, id, pem): (&str, &str, &str) = (row.get(0), row.get(1), row.get(2));
                let why = match MinionId::parse(id) {
                    Err(e) => e.to_string(),
                    Ok(_) if PublicKey::from_pem(pem).is_none() => {
                        "not an Ed25519 public key in PEM form".to_string()
                    }
                    Ok(_) => return None,
                };
                Some(format!("{state}/{id}: {why}"))
            })
            .collect())
    }

    fn move_matching(
        &self,
        pattern: &str,
        sources: &[KeyState],
        target: KeyState,
    ) -> Result<Vec<MinionId>, KeyError> {
        let matcher = IdPattern::new(pattern)?;
        let sources = sources.to_vec();
        let origin = self.origin;
        let act = match target {
            KeyState::Accepted => Some(KeyAct::Accept),
            KeyState::Rejected => Some(KeyAct::Reject),
            KeyState::Pending | KeyState::Denied => None,
        };
        let mut moved = self.command("a key command", move |txn| {
            Box::pin(async move {
                let mut moved: Vec<MinionId> = Vec::new();
                for source in sources {
                    let rows = txn
                        .query(
                            "SELECT id, pem FROM brine_keys WHERE state = $1",
                            &[&source.json_name()],
                        )
                        .await
                        .map_err(ClusterError::query("a key command"))?;
                    for row in &rows {
                        let Ok(id) = MinionId::parse(row.get::<_, &str>(0)) else {
                            continue;
                        };
                        if !matcher.matches(&id) || moved.contains(&id) {
                            continue;
                        }
                        // Salt refuses to accept a file that is not a valid key; so do we.
                        if PublicKey::from_pem(row.get::<_, &str>(1)).is_none() {
                            tracing::error!(
                                "not moving the key of {id} to {target}: {} is not an Ed25519 \
                                 public key in PEM form",
                                row_path(source, id.as_str()).display()
                            );
                            continue;
                        }
                        move_row(txn, &id, source, target).await?;
                        if let Some(act) = act {
                            notify(txn, origin, &id, act).await?;
                        }
                        moved.push(id);
                    }
                }
                Ok(moved)
            })
        })?;
        sort_ids(&mut moved);
        Ok(moved)
    }

    fn delete(&self, pattern: &str) -> Result<Vec<MinionId>, KeyError> {
        let matcher = IdPattern::new(pattern)?;
        let origin = self.origin;
        let mut deleted = self.command("a key deletion", move |txn| {
            Box::pin(async move {
                let rows = txn
                    .query("SELECT DISTINCT id FROM brine_keys", &[])
                    .await
                    .map_err(ClusterError::query("a key deletion"))?;
                let mut deleted = Vec::new();
                for row in &rows {
                    let Ok(id) = MinionId::parse(row.get::<_, &str>(0)) else {
                        continue;
                    };
                    if !matcher.matches(&id) {
                        continue;
                    }
                    txn.execute("DELETE FROM brine_keys WHERE id = $1", &[&id.as_str()])
                        .await
                        .map_err(ClusterError::query("a key deletion"))?;
                    notify(txn, origin, &id, KeyAct::Delete).await?;
                    deleted.push(id);
                }
                Ok(deleted)
            })
        })?;
        sort_ids(&mut deleted);
        Ok(deleted)
    }

    fn fingerprints(&self, pattern: &str) -> Result<Vec<(KeyState, MinionId, String)>, KeyError> {
        let matcher = IdPattern::new(pattern)?;
        let mut by_state: BTreeMap<KeyState, Vec<(MinionId, String)>> = BTreeMap::new();
        for (id, state, pem) in self.rows_matching(&matcher)? {
            match PublicKey::from_pem(&pem) {
                Some(key) => by_state
                    .entry(state)
                    .or_default()
                    .push((id, key.fingerprint())),
                None => tracing::warn!(
                    "skipping key of {id}: {} is not an Ed25519 public key in PEM form",
                    row_path(state, id.as_str()).display()
                ),
            }
        }
        let mut out = Vec::new();
        for (state, mut entries) in by_state {
            let mut ids: Vec<MinionId> = entries.iter().map(|(id, _)| id.clone()).collect();
            sort_ids(&mut ids);
            for id in ids {
                if let Some(pos) = entries.iter().position(|(i, _)| *i == id) {
                    let (id, fp) = entries.swap_remove(pos);
                    out.push((state, id, fp));
                }
            }
        }
        Ok(out)
    }
}

/// Do what `verdict` says for an auth request, in `txn`.
async fn write_verdict(
    txn: &tokio_postgres::Transaction<'_>,
    id: &MinionId,
    presented: &PublicKey,
    verdict: Verdict,
    max_pending: usize,
) -> Result<AuthDecision, KeyError> {
    let what = "an auth decision";
    let pem = presented.to_pem();
    let to_write = match verdict.without_write(id) {
        Ok(decision) => return Ok(decision),
        Err(to_write) => to_write,
    };
    Ok(match to_write {
        ToWrite::Mismatch => {
            log_mismatch(id);
            // The same refused key presented again writes nothing.
            let written = txn
                .execute(
                    "INSERT INTO brine_keys (id, state, pem) VALUES ($1, 'minions_denied', $2) \
                     ON CONFLICT (id, state) DO UPDATE SET pem = excluded.pem \
                     WHERE brine_keys.pem <> excluded.pem",
                    &[&id.as_str(), &pem],
                )
                .await
                .map_err(ClusterError::query(what))?;
            AuthDecision::new(KeyState::Denied, written > 0, false)
        }
        ToWrite::AcceptPending => {
            move_row(txn, id, KeyState::Pending, KeyState::Accepted).await?;
            tracing::info!("pending key of {id} accepted automatically");
            AuthDecision::new(KeyState::Accepted, true, true)
        }
        ToWrite::New(state) => {
            if state == KeyState::Pending {
                // New pending keys take turns across masters, so the count
                // and the insert cannot pass `max_pending_keys` together.
                txn.execute("SELECT pg_advisory_xact_lock($1)", &[&PENDING_LOCK])
                    .await
                    .map_err(ClusterError::query(what))?;
                let limit = i64::try_from(max_pending).unwrap_or(i64::MAX);
                let row = txn
                    .query_one(
                        "SELECT count(*) FROM (SELECT 1 FROM brine_keys \
                         WHERE state = 'minions_pre' LIMIT $1) AS p",
                        &[&limit],
                    )
                    .await
                    .map_err(ClusterError::query(what))?;
                if row.get::<_, i64>(0) >= limit {
                    return Err(KeyError::PendingFull { max: max_pending });
                }
            }
            txn.execute(
                "INSERT INTO brine_keys (id, state, pem) VALUES ($1, $2, $3)",
                &[&id.as_str(), &state.json_name(), &pem],
            )
            .await
            .map_err(ClusterError::query(what))?;
            if state == KeyState::Accepted {
                tracing::info!("new key of {id} accepted automatically");
            } else {
                tracing::info!("new key of {id} placed in pending");
            }
            AuthDecision::new(state, true, state == KeyState::Accepted)
        }
    })
}

/// Move `id`'s row from `from` to `to`, replacing a row already in `to`,
/// and keep the id in one of accepted, pending and rejected only (the
/// file store's rename and clean-up, in an order the unique index allows).
async fn move_row(
    txn: &tokio_postgres::Transaction<'_>,
    id: &MinionId,
    from: KeyState,
    to: KeyState,
) -> Result<(), KeyError> {
    let what = "a key move";
    let (from, to_name) = (from.json_name(), to.json_name());
    if to != KeyState::Denied {
        txn.execute(
            "DELETE FROM brine_keys WHERE id = $1 AND state <> 'minions_denied' \
             AND state <> $2 AND state <> $3",
            &[&id.as_str(), &from, &to_name],
        )
        .await
        .map_err(ClusterError::query(what))?;
    }
    txn.execute(
        "DELETE FROM brine_keys WHERE id = $1 AND state = $2",
        &[&id.as_str(), &to_name],
    )
    .await
    .map_err(ClusterError::query(what))?;
    txn.execute(
        "UPDATE brine_keys SET state = $3 WHERE id = $1 AND state = $2",
        &[&id.as_str(), &from, &to_name],
    )
    .await
    .map_err(ClusterError::query(what))?;
    Ok(())
}
