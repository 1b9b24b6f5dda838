//! The `salt://` files of the crate's in-memory test hosts (the modules'
//! [`MockHost`](crate::modules::mock::MockHost), the compiler's and the
//! renderer's `MemHost`s), written once: each host keeps a [`MemFiles`] and
//! answers its [`StateHost`](crate::host::StateHost) file calls from it.

use std::collections::BTreeMap;

use brine_common::ids::{RelPath, SaltEnv};

/// Files by key, in one of two layouts: every environment sees the same
/// files (keys are paths), or each environment has its own (keys are
/// `<saltenv>/<path>`, and `base` comes first among the environments).
#[derive(Debug, Default)]
pub(crate) struct MemFiles {
    files: BTreeMap<String, Vec<u8>>,
    per_env: bool,
}

impl MemFiles {
    /// Files whose keys are `<saltenv>/<path>`.
    pub(crate) fn per_env() -> Self {
        MemFiles {
            files: BTreeMap::new(),
            per_env: true,
        }
    }

    pub(crate) fn insert(&mut self, key: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.files.insert(key.into(), bytes.into());
    }

    fn key(&self, env: &SaltEnv, path: &RelPath) -> String {
        if self.per_env {
            format!("{env}/{path}")
        } else {
            path.to_string()
        }
    }

    /// What `read_file` answers.
    pub(crate) fn read(&self, env: &SaltEnv, path: &RelPath) -> Option<Vec<u8>> {
        self.files.get(&self.key(env, path)).cloned()
    }

    pub(crate) fn contains(&self, env: &SaltEnv, path: &RelPath) -> bool {
        self.files.contains_key(&self.key(env, path))
    }

    /// What `list_files` answers: the paths `env` has.
    pub(crate) fn list(&self, env: &SaltEnv) -> Vec<RelPath> {
        if !self.per_env {
            return self
                .files
                .keys()
                .filter_map(|k| RelPath::parse(k).ok())
                .collect();
        }
        let prefix = format!("{env}/");
        self.files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter_map(|k| RelPath::parse(k).ok())
            .collect()
    }

    /// What `environments` answers: `base`, then every other environment a
    /// file is under.
    pub(crate) fn environments(&self) -> Vec<SaltEnv> {
        let mut envs: Vec<SaltEnv> = SaltEnv::parse("base").into_iter().collect();
        if !self.per_env {
            return envs;
        }
        for (env, _) in self.files.keys().filter_map(|k| k.split_once('/')) {
            if !envs.iter().any(|known| known.as_str() == env)
                && let Ok(env) = SaltEnv::parse(env)
            {
                envs.push(env);
            }
        }
        envs
    }
}

impl<K: Into<String>, V: Into<Vec<u8>>> FromIterator<(K, V)> for MemFiles {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut files = MemFiles::default();
        for (key, bytes) in items {
            files.insert(key, bytes);
        }
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(env: &str, path: &str) -> (SaltEnv, RelPath) {
        brine_common::ids::salt_file(env, path).expect("valid")
    }

    #[test]
    fn shared_files_are_in_every_environment() {
        let files: MemFiles = [("a/b.sls", "x")].into_iter().collect();
        let (dev, path) = file("dev", "a/b.sls");
        assert_eq!(files.read(&dev, &path), Some(b"x".to_vec()));
        assert_eq!(files.list(&dev), vec![path]);
        assert_eq!(files.environments(), vec![file("base", "x").0]);
    }

    #[test]
    fn per_env_files_are_only_in_their_own() {
        let mut files = MemFiles::per_env();
        files.insert("dev/top.sls", "t");
        let (dev, top) = file("dev", "top.sls");
        let (base, _) = file("base", "top.sls");
        assert!(files.contains(&dev, &top) && !files.contains(&base, &top));
        assert_eq!(files.read(&base, &top), None);
        assert_eq!(files.list(&dev), vec![top]);
        assert!(files.list(&base).is_empty());
        assert_eq!(files.environments(), vec![base, dev]);
    }
}
