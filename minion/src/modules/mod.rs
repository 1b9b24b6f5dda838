//! The minion's execution modules, registered by name in a `Functions`
//! registry. Each module file registers its own functions with Salt's names,
//! argument conventions and return shapes.

use std::sync::{Arc, OnceLock, Weak};

use brine_common::config::MinionConfig;
use brine_common::functions::Functions;
use brine_common::ids::{Jid, MinionId};

use crate::executor::RunningJobs;

pub mod saltutil;
pub mod sys;
pub mod test;

/// What a function sees of the minion it runs on.
#[derive(Clone)]
pub struct MinionCtx {
    pub id: MinionId,
    pub config: Arc<MinionConfig>,
    pub running: Arc<RunningJobs>,
    /// The registry itself, for `sys.*` (weak: the registry does not own contexts).
    pub functions: Arc<OnceLock<Weak<Functions<MinionCtx>>>>,
    /// The job this call belongs to, if any.
    pub jid: Option<Jid>,
}

impl MinionCtx {
    pub fn new(id: MinionId, config: Arc<MinionConfig>) -> Self {
        MinionCtx {
            id,
            config,
            running: Arc::new(RunningJobs::default()),
            functions: Arc::new(OnceLock::new()),
            jid: None,
        }
    }

    pub fn for_job(&self, jid: Jid) -> Self {
        MinionCtx {
            jid: Some(jid),
            ..self.clone()
        }
    }

    pub fn registry(&self) -> Option<Arc<Functions<MinionCtx>>> {
        self.functions.get().and_then(Weak::upgrade)
    }
}

/// Every execution module, registered; `ctx` learns the registry.
pub fn registry(ctx: &MinionCtx) -> Arc<Functions<MinionCtx>> {
    let mut f = Functions::new();
    test::register(&mut f);
    sys::register(&mut f);
    saltutil::register(&mut f);
    let f = Arc::new(f);
    let _ = ctx.functions.set(Arc::downgrade(&f));
    f
}
