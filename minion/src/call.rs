//! `brine-call`: run one function on this minion and print the result under
//! `local`, like `salt-call`. Without `--local` it first authenticates with the
//! master (which later serves pillar and files); with `--local` no master is
//! involved at all.

use std::sync::Arc;
use std::time::Duration;

use brine_common::config::MinionConfig;
use brine_common::functions::{Call, Outcome};
use brine_common::wire::{Reply, Request};

use crate::daemon::{link_settings, load_identity, minion_id};
use crate::link::Link;
use crate::modules::{self, MinionCtx};

pub async fn call(
    config: MinionConfig,
    local: bool,
    channel: Option<Arc<crate::channel::Channel>>,
    mut call: Call,
) -> anyhow::Result<Outcome> {
    add_pub_kwargs(&mut call);
    let id = minion_id(&config)?;
    let mut link = None;
    if !local {
        let identity = load_identity(&config)?;
        let (started, _) = Link::start(link_settings(&config, id.clone(), false), identity);
        let link = link.insert(started);
        let wait = Duration::from_secs_f64(config.auth_timeout.max(1.0) * 3.0);
        if !link.wait_connected(wait).await {
            anyhow::bail!(
                "could not authenticate with the master at {}:{} within {wait:?} (is it running, and is this minion's key accepted?); use --local to run without a master",
                config.master,
                config.master_port
            );
        }
    }
    let functions = modules::registry();
    let mut ctx = MinionCtx::new(id, Arc::new(config), &functions);
    if let Some(link) = link {
        ctx = ctx.with_link(link);
    }
    if let Some(channel) = channel {
        // brine-ssh keeps them for grain targets and compiles the pillar
        // from them, as a master does with a minion's.
        let grains = Request::MinionData {
            grains: ctx.grains(),
        };
        match channel.request(grains).await {
            Ok(Reply::Ok) => {}
            Ok(Reply::Refused { reason }) => {
                anyhow::bail!("brine-ssh refused the grains: {reason}")
            }
            Ok(other) => anyhow::bail!("unexpected answer to the grains: {}", other.kind()),
            Err(e) => anyhow::bail!(e),
        }
        ctx = ctx.with_channel(channel);
    }
    Ok(functions.call(ctx, call).await)
}

/// The `__pub_*` keyword arguments `salt-call` passes, so functions behave as
/// when called through a job (e.g. `cmd.run` uses a shell by default).
fn add_pub_kwargs(call: &mut Call) {
    let jid = brine_common::jid::JidGenerator::new().next();
    let kw = &mut call.kwargs;
    kw.insert("__pub_fun".into(), serde_json::json!(call.fun));
    kw.insert("__pub_jid".into(), serde_json::json!(jid));
    kw.insert("__pub_pid".into(), serde_json::json!(std::process::id()));
    kw.insert("__pub_tgt".into(), serde_json::json!("salt-call"));
}
