//! Who answers what a master answers (the file server, the pillar): the link
//! to a master, or the channel of the `brine-ssh` that started this
//! `brine-call` (`crate::channel`).

use std::sync::Arc;
use std::time::Duration;

use brine_common::wire::{Reply, Request};

use crate::channel::Channel;
use crate::link::Link;

#[derive(Clone)]
pub enum Upstream {
    Link(Link),
    Channel(Arc<Channel>),
}

impl Upstream {
    /// Asks and waits at most `timeout` for the answer.
    pub async fn request(&self, body: Request, timeout: Duration) -> Result<Reply, String> {
        match self {
            Upstream::Link(link) => link.request(body, timeout).await.map_err(|e| e.to_string()),
            Upstream::Channel(channel) => {
                match tokio::time::timeout(timeout, channel.request(body)).await {
                    Ok(answer) => answer,
                    Err(_) => Err(format!("no answer from brine-ssh within {timeout:?}")),
                }
            }
        }
    }
}
