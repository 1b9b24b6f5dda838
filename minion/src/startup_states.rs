//! Salt's `startup_states`: once the minion has connected and authenticated
//! at start, it runs one state function as a job of its own, and its return
//! goes to the master's job cache like any other.
//!
//! `highstate` runs `state.highstate`, `sls` runs `state.sls` of `sls_list`,
//! `top` runs `state.top` of `top_file` (Salt's `Minion._state_run`). Salt
//! sends the return with jid `req` and the master makes up a jid for it;
//! Brine's minion makes the jid itself (as for a scheduled job), so a return
//! re-sent after a lost acknowledgement is stored once, and the master
//! records the job for this minion alone (`Request::StandaloneReturn`).

use std::sync::Arc;
use std::time::Duration;

use brine_common::config::{MinionConfig, StartupStates};
use brine_common::functions::{Call, Functions};
use serde_json::{Value, json};

use crate::executor::Unsettled;
use crate::link::Link;
use crate::modules::MinionCtx;
use crate::outbox::Pending;
use crate::schedule::{deliver, run_minion_job, schedule_jid};

/// The call `startup_states` makes, if any (Salt's `_state_run`: the SLS
/// list and the top file are passed as one argument each).
pub fn startup_call(config: &MinionConfig) -> Option<Call> {
    let (fun, args) = match config.startup_states {
        StartupStates::None => return None,
        StartupStates::Highstate => ("state.highstate", Vec::new()),
        StartupStates::Sls => ("state.sls", vec![json!(config.sls_list)]),
        StartupStates::Top => ("state.top", vec![json!(config.top_file)]),
    };
    Some(Call {
        fun: fun.into(),
        args,
        kwargs: Default::default(),
    })
}

/// Run the startup state run once the minion is authenticated, and deliver
/// its return. Does nothing when `startup_states` is unset.
pub async fn run(ctx: MinionCtx, functions: Arc<Functions<MinionCtx>>, link: Link) {
    let Some(call) = startup_call(&ctx.config) else {
        return;
    };
    while !link.wait_connected(Duration::from_secs(3600)).await {}
    // The master compiles the run's pillar on the grains it holds: send
    // them first (the report after authentication may not have gone yet).
    crate::daemon::send_minion_data(&link, &ctx).await;
    // A stopping minion lets it finish (and its return reach the outbox)
    // like any job it took.
    let unsettled = Unsettled::new(&ctx.running);
    let Some(jid) = schedule_jid() else {
        tracing::warn!(fun = %call.fun, "startup_states not run: no job id could be made");
        return;
    };
    tracing::info!(%jid, fun = %call.fun, "running startup_states");
    let fun_args: Vec<Value> = call.args.clone();
    let mut ret = run_minion_job(&ctx, &functions, jid, call, fun_args).await;
    // Salt's minion marks state runs for the `highstate` outputter.
    ret.out = Some("highstate".into());
    deliver(&link, Pending::StandaloneReturn(ret), unsettled).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(states: StartupStates) -> MinionConfig {
        MinionConfig {
            startup_states: states,
            sls_list: vec!["web".into(), "db".into()],
            top_file: "salt://alt_top.sls".into(),
            ..MinionConfig::default()
        }
    }

    #[test]
    fn startup_states_picks_salts_function_and_argument() {
        assert!(startup_call(&config(StartupStates::None)).is_none());
        let call = |s| startup_call(&config(s)).expect("a call");
        let highstate = call(StartupStates::Highstate);
        assert_eq!(highstate.fun, "state.highstate");
        assert!(highstate.args.is_empty());
        let sls = call(StartupStates::Sls);
        assert_eq!(sls.fun, "state.sls");
        assert_eq!(sls.args, [json!(["web", "db"])]);
        let top = call(StartupStates::Top);
        assert_eq!(top.fun, "state.top");
        assert_eq!(top.args, [json!("salt://alt_top.sls")]);
    }
}
