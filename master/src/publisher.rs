//! The publish channel: signs, seals and sends publications on the ZeroMQ PUB
//! socket, and keeps a bounded window of recent ones for catch-up.
//!
//! Each topic (broadcast, or one minion's) has its own sequence, so a minion
//! sees a gap exactly when it missed something meant for it. The PUB socket
//! drops silently for slow or absent subscribers (research/deps.md §1); the
//! window and the minions' catch-up requests are what make that harmless.
//!
//! A stopping master calls [`Publisher::stop`]: what is queued is handed to
//! the publisher process, whose stdin then closes, and the master waits for
//! it to exit.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use brine_common::crypto::{Identity, PublishKey, random_bytes};
use brine_common::ids::MinionId;
use brine_common::wire::{
    PubEnvelope, Publication, PublishState, Published, TOPIC_BROADCAST, minion_topic,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::pubproc::PubProcess;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Start(String),
    #[error("cannot seal the publication: {0}")]
    Seal(#[from] brine_common::wire::WireError),
    #[error("cannot create a key: {0}")]
    Key(#[from] brine_common::crypto::CryptoError),
    #[error("the publisher task has stopped")]
    Stopped,
}

struct PubState {
    run: u64,
    epoch: u64,
    key: PublishKey,
    seqs: HashMap<String, u64>,
    window: VecDeque<Published>,
    window_cap: usize,
    /// (broadcast, own) sequences when each minion was accepted in this run.
    accepted_at: HashMap<MinionId, (u64, u64)>,
}

pub struct Publisher {
    master: Arc<Identity>,
    state: Mutex<PubState>,
    /// `(topic, payload)` frames for the publisher process.
    out: mpsc::UnboundedSender<(Vec<u8>, Vec<u8>)>,
    /// Cancelled by [`Publisher::stop`].
    closing: CancellationToken,
    /// The task that feeds the publisher process (taken by the stop).
    forwarder: Mutex<Option<JoinHandle<()>>>,
}

impl Publisher {
    /// Bind the PUB socket on `endpoint` (e.g. `tcp://127.0.0.1:4505`) and start
    /// the task that writes to it. Returns the publisher and the bound port.
    pub async fn bind(
        endpoint: &str,
        master: Arc<Identity>,
        window_cap: usize,
    ) -> Result<(Arc<Self>, u16), PublishError> {
        let (mut process, port) = PubProcess::spawn(endpoint)
            .await
            .map_err(|e| PublishError::Start(e.to_string()))?;
        let (out, mut rx) = mpsc::unbounded_channel::<(Vec<u8>, Vec<u8>)>();
        // Pin the port a restarted publisher must bind (the first may have been 0).
        let endpoint = with_port(endpoint, port);
        let closing = CancellationToken::new();
        let stopping = closing.clone();
        let forwarder = tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    // What is queued goes out before the stop is heard.
                    biased;
                    next = rx.recv() => next,
                    () = stopping.cancelled() => {
                        rx.close();
                        continue;
                    }
                };
                let Some((topic, payload)) = next else {
                    break;
                };
                if let Err(e) = process.send(&topic, &payload).await {
                    if stopping.is_cancelled() {
                        break;
                    }
                    // The publisher process died: start another, resend once.
                    // Minions catch up on anything lost in between.
                    tracing::error!("the publisher process failed ({e}); restarting it");
                    match PubProcess::spawn(&endpoint).await {
                        Ok((restarted, _)) => process = restarted,
                        Err(e) => {
                            tracing::error!("cannot restart the publisher process: {e}");
                            continue;
                        }
                    }
                    if let Err(e) = process.send(&topic, &payload).await {
                        tracing::error!("publish failed: {e}");
                    }
                }
            }
            process.close().await;
        });
        let state = PubState {
            run: u64::from_be_bytes(random_bytes()?),
            epoch: 1,
            key: PublishKey::generate()?,
            seqs: HashMap::new(),
            window: VecDeque::new(),
            window_cap,
            accepted_at: HashMap::new(),
        };
        Ok((
            Arc::new(Publisher {
                master,
                state: Mutex::new(state),
                out,
                closing,
                forwarder: Mutex::new(Some(forwarder)),
            }),
            port,
        ))
    }

    /// Hand what is queued to the publisher process, then close its stdin and
    /// wait for it to exit. Publishing afterwards fails with `Stopped`.
    pub async fn stop(&self) {
        self.closing.cancel();
        let forwarder = self
            .forwarder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(forwarder) = forwarder
            && let Err(e) = forwarder.await
        {
            tracing::error!("the publisher task failed: {e}");
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publish to every minion.
    pub fn broadcast(&self, publication: &Publication) -> Result<(), PublishError> {
        self.publish_on(TOPIC_BROADCAST, publication)
    }

    /// Publish to exactly these minions, on their own topics.
    pub fn to_minions(
        &self,
        ids: &[MinionId],
        publication: &Publication,
    ) -> Result<(), PublishError> {
        for id in ids {
            self.publish_on(&minion_topic(id), publication)?;
        }
        Ok(())
    }

    fn publish_on(&self, topic: &str, publication: &Publication) -> Result<(), PublishError> {
        // Sequence assignment, sealing and queueing happen under one lock so
        // frames leave in sequence order.
        let mut st = self.state();
        let seq = {
            let s = st.seqs.entry(topic.to_string()).or_insert(0);
            *s += 1;
            *s
        };
        let blob = PubEnvelope::seal_and_sign(
            &self.master,
            &st.key,
            (st.run, st.epoch, seq),
            topic,
            publication,
        )?;
        let body = brine_common::frame::encode(&blob).map_err(|e| PublishError::Seal(e.into()))?;
        st.window.push_back(Published {
            topic: topic.to_string(),
            seq,
            publication: publication.clone(),
        });
        while st.window.len() > st.window_cap {
            st.window.pop_front();
        }
        self.out
            .send((topic.as_bytes().to_vec(), body))
            .map_err(|_| PublishError::Stopped)
    }

    /// A new publish key and epoch: minions whose keys were removed can no
    /// longer read publications; the others fetch the new key through their
    /// session when they see the new epoch.
    pub fn rotate_key(&self) -> Result<(), PublishError> {
        let mut st = self.state();
        st.key = PublishKey::generate()?;
        st.epoch += 1;
        tracing::info!(epoch = st.epoch, "publish key rotated");
        Ok(())
    }

    /// Remember where the stream stands as `minion` is accepted (see `Grant::accepted_at`).
    pub fn mark_accepted(&self, minion: &MinionId) {
        let mut st = self.state();
        let seq_of = |topic: &str| st.seqs.get(topic).copied().unwrap_or(0);
        let at = (seq_of(TOPIC_BROADCAST), seq_of(&minion_topic(minion)));
        st.accepted_at.insert(minion.clone(), at);
    }

    /// Where the stream stood when `minion` was accepted in this run, if it was.
    pub fn accepted_at(&self, minion: &MinionId) -> Option<(u64, u64)> {
        self.state().accepted_at.get(minion).copied()
    }

    /// The current key and stream position, as a minion sees it.
    pub fn grant_state(&self, minion: &MinionId) -> (PublishKey, PublishState) {
        let st = self.state();
        let seq_of = |topic: &str| st.seqs.get(topic).copied().unwrap_or(0);
        (
            st.key.clone(),
            PublishState {
                run: st.run,
                epoch: st.epoch,
                broadcast_seq: seq_of(TOPIC_BROADCAST),
                own_seq: seq_of(&minion_topic(minion)),
            },
        )
    }

    /// Publications `minion` may see that it has not: broadcast ones after
    /// `broadcast_after` and its own after `own_after`. A minion asking about an
    /// older run gets everything in the window.
    pub fn catch_up(
        &self,
        minion: &MinionId,
        run: u64,
        broadcast_after: u64,
        own_after: u64,
    ) -> Vec<Published> {
        let st = self.state();
        let (b_after, o_after) = if run == st.run {
            (broadcast_after, own_after)
        } else {
            (0, 0)
        };
        let own = minion_topic(minion);
        st.window
            .iter()
            .filter(|p| {
                (p.topic == TOPIC_BROADCAST && p.seq > b_after)
                    || (p.topic == own && p.seq > o_after)
            })
            .cloned()
            .collect()
    }
}

/// `tcp://host:port` with the port replaced.
fn with_port(endpoint: &str, port: u16) -> String {
    match endpoint.rsplit_once(':') {
        Some((head, _)) => format!("{head}:{port}"),
        None => endpoint.to_string(),
    }
}

/// The port of a bound endpoint such as `tcp://127.0.0.1:45678`.
pub fn endpoint_port(endpoint: &str) -> u16 {
    endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or(0)
}
