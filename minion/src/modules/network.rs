//! Salt's `network` execution module (being written).

use brine_common::functions::Functions;

use super::MinionCtx;

pub fn register(_f: &mut Functions<MinionCtx>) {}
