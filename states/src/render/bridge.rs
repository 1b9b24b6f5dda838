//! How `'static` template objects reach the borrowed [`StateHost`].
//!
//! minijinja requires loaders, functions and objects to be `'static`, but
//! [`render_sls`](super::render_sls) only borrows its host. A host that
//! lives in an `Arc` ([`StateHost::shared`], the minion's) is simply held by
//! the [`HostBridge`]. Any other: the render runs on the calling thread; a
//! scoped helper thread holds the `&dyn StateHost` and answers requests
//! sent over a channel by the bridge the template objects own. The helper
//! ends when the last bridge is dropped, which happens when the render (and
//! its environment) is done. Both are safe code; the helper costs a thread
//! per render and two thread switches per call (a formula's compile makes
//! dozens of renders and hundreds of calls), which is why the minion's host
//! is shared.

use std::sync::{Arc, mpsc};
use std::thread;

use brine_common::ids::{RelPath, SaltEnv};
use serde_json::{Map, Value};

use crate::host::StateHost;

pub(crate) enum Request {
    Call {
        fun: String,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
        reply: mpsc::SyncSender<Result<Value, String>>,
    },
    HasFunction {
        fun: String,
        reply: mpsc::SyncSender<bool>,
    },
    ReadFile {
        saltenv: SaltEnv,
        path: RelPath,
        reply: mpsc::SyncSender<Result<Option<Vec<u8>>, String>>,
    },
}

/// A cloneable, `'static` handle on the host for the duration of one render.
#[derive(Clone)]
pub(crate) enum HostBridge {
    /// The host itself.
    Shared(Arc<dyn StateHost>),
    /// Requests to the helper thread that borrows it.
    Helper(mpsc::Sender<Request>),
}

impl std::fmt::Debug for HostBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HostBridge::Shared(_) => "HostBridge::Shared",
            HostBridge::Helper(_) => "HostBridge::Helper",
        })
    }
}

const GONE: &str = "the state host is no longer available";

impl HostBridge {
    pub(crate) fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, String> {
        let requests = match self {
            HostBridge::Shared(host) => return host.call(fun, args, kwargs),
            HostBridge::Helper(requests) => requests,
        };
        let (reply, answer) = mpsc::sync_channel(1);
        let request = Request::Call {
            fun: fun.to_owned(),
            args,
            kwargs,
            reply,
        };
        requests.send(request).map_err(|_| GONE.to_owned())?;
        answer.recv().map_err(|_| GONE.to_owned())?
    }

    pub(crate) fn has_function(&self, fun: &str) -> bool {
        let requests = match self {
            HostBridge::Shared(host) => return host.has_function(fun),
            HostBridge::Helper(requests) => requests,
        };
        let (reply, answer) = mpsc::sync_channel(1);
        let request = Request::HasFunction {
            fun: fun.to_owned(),
            reply,
        };
        requests.send(request).is_ok() && answer.recv().unwrap_or(false)
    }

    pub(crate) fn read_file(
        &self,
        saltenv: &SaltEnv,
        path: &RelPath,
    ) -> Result<Option<Vec<u8>>, String> {
        let requests = match self {
            HostBridge::Shared(host) => return host.read_file(saltenv, path),
            HostBridge::Helper(requests) => requests,
        };
        let (reply, answer) = mpsc::sync_channel(1);
        let request = Request::ReadFile {
            saltenv: saltenv.clone(),
            path: path.clone(),
            reply,
        };
        requests.send(request).map_err(|_| GONE.to_owned())?;
        answer.recv().map_err(|_| GONE.to_owned())?
    }
}

/// Runs `work` with a bridge to `host`. Everything `work` builds from the
/// bridge must be dropped before it returns (it is, when it returns owned
/// plain data).
pub(crate) fn with_bridge<R>(host: &dyn StateHost, work: impl FnOnce(HostBridge) -> R) -> R {
    if let Some(shared) = host.shared() {
        return work(HostBridge::Shared(shared));
    }
    let (requests, inbox) = mpsc::channel();
    thread::scope(|scope| {
        scope.spawn(move || serve(host, inbox));
        work(HostBridge::Helper(requests))
    })
}

fn serve(host: &dyn StateHost, inbox: mpsc::Receiver<Request>) {
    for request in inbox {
        // A requester that went away has nothing to receive: ignore send errors.
        match request {
            Request::Call {
                fun,
                args,
                kwargs,
                reply,
            } => {
                let _ = reply.send(host.call(&fun, args, kwargs));
            }
            Request::HasFunction { fun, reply } => {
                let _ = reply.send(host.has_function(&fun));
            }
            Request::ReadFile {
                saltenv,
                path,
                reply,
            } => {
                let _ = reply.send(host.read_file(&saltenv, &path));
            }
        }
    }
}
