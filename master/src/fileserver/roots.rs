//! The `roots` backend: `file_roots` directories, through
//! [`brine_common::fileroots::Roots`] (which confines every path to its root).

use brine_common::config::MasterConfig;
use brine_common::fileroots::{FileEntry, Roots, RootsError};
use brine_common::ids::{RelPath, SaltEnv};

use super::{Backend, FileServerError};

pub struct RootsBackend {
    roots: Roots,
}

impl RootsBackend {
    pub fn new(roots: Roots) -> Self {
        RootsBackend { roots }
    }

    pub fn from_config(config: &MasterConfig) -> Self {
        RootsBackend::new(Roots::from_config(&config.file_roots))
    }
}

impl Backend for RootsBackend {
    fn name(&self) -> &'static str {
        "roots"
    }

    fn environments(&self) -> Vec<SaltEnv> {
        self.roots.environments()
    }

    fn manifest(&self, env: &SaltEnv) -> Result<Option<Vec<FileEntry>>, FileServerError> {
        match self.roots.manifest(env) {
            Ok(files) => Ok(Some(files)),
            Err(RootsError::NoEnv(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn read_chunk(
        &self,
        env: &str,
        path: &RelPath,
        offset: u64,
        len: usize,
    ) -> Result<Option<(Vec<u8>, u64)>, FileServerError> {
        match self.roots.read_chunk(env, path, offset, len) {
            Ok(found) => Ok(Some(found)),
            Err(RootsError::NoEnv(_) | RootsError::NotFound(..)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
