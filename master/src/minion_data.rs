//! What each minion last told the master about itself (grains and pillar),
//! kept in memory for targeting and written through to the job cache so it
//! survives a restart. Deciding whom a grain target expects must not decode
//! ten thousand records from disk on every publication.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use brine_common::ids::MinionId;
use serde_json::Value;

use crate::job_cache::{CacheError, JobCache};

#[derive(Default)]
pub struct MinionData {
    by_id: RwLock<HashMap<String, Arc<Value>>>,
}

impl MinionData {
    /// Everything the job cache remembers.
    pub fn load(cache: &dyn JobCache) -> Result<Self, CacheError> {
        let by_id = cache
            .all_minion_data()?
            .into_iter()
            .map(|(id, v)| (id, Arc::new(v)))
            .collect();
        Ok(MinionData {
            by_id: RwLock::new(by_id),
        })
    }

    /// Record `id`'s data (`{"grains": ..., "pillar": ...}`) here and in the cache.
    pub fn set(&self, cache: &dyn JobCache, id: &MinionId, data: Value) -> Result<(), CacheError> {
        cache.set_minion_data(id, data.clone())?;
        self.write().insert(id.to_string(), Arc::new(data));
        Ok(())
    }

    /// Forget `id` (its key was deleted).
    pub fn remove(&self, cache: &dyn JobCache, id: &MinionId) -> Result<(), CacheError> {
        cache.remove_minion_data(id)?;
        self.write().remove(id.as_str());
        Ok(())
    }

    /// Run `f` over the whole table without copying it.
    pub fn with<T>(&self, f: impl FnOnce(&HashMap<String, Arc<Value>>) -> T) -> T {
        f(&self.read())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Value>>> {
        self.by_id.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Value>>> {
        self.by_id.write().unwrap_or_else(|p| p.into_inner())
    }
}
