//! Salt's `cp` module: files from the file server (`salt://`).

use std::path::Path;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::ids::{RelPath, SaltEnv, salt_file};
use brine_common::salt_url;
use serde_json::{Value, json};

use super::MinionCtx;
use crate::fileclient::FileClient;

pub mod remote;

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "cp.cache_file",
        "path, saltenv='base', source_hash=None, verify_ssl=True, use_etag=False",
        CACHE_FILE_DOC,
        |ctx, call| async move {
            if let Some(url) = str_param(&call, 0, "path").filter(|p| remote::is_remote(p)) {
                return cache_remote(&ctx, &call, url).await;
            }
            let (env, path) = salt_source(&call, 0, 1)?;
            let local = client(&ctx)
                .cache_file(&env, &path)
                .await
                .map_err(FnError::Execution)?;
            Ok(json!(local.display().to_string()).into())
        },
    );
    f.register(
        "cp.get_file",
        "path, dest, saltenv='base', makedirs=False",
        GET_FILE_DOC,
        |ctx, call| async move { get_file(&ctx, &call).await },
    );
    f.register(
        "cp.list_master",
        "saltenv='base', prefix=''",
        LIST_MASTER_DOC,
        |ctx, call| async move {
            let (env, prefix) = env_and_prefix(&call);
            let files = master_files(&ctx, &env, &prefix).await?;
            Ok(json!(files).into())
        },
    );
    f.register(
        "cp.list_master_dirs",
        "saltenv='base', prefix=''",
        LIST_MASTER_DIRS_DOC,
        |ctx, call| async move {
            let (env, prefix) = env_and_prefix(&call);
            let files = master_files(&ctx, &env, "").await?;
            Ok(json!(dirs_of(&files, &prefix)).into())
        },
    );
    f.register(
        "cp.get_file_str",
        "path, saltenv='base'",
        GET_FILE_STR_DOC,
        |ctx, call| async move { get_file_str(&ctx, &call).await },
    );
    f.register(
        "cp.list_states",
        "saltenv='base'",
        LIST_STATES_DOC,
        |ctx, call| async move {
            let env = str_param(&call, 0, "saltenv").unwrap_or_else(|| "base".into());
            let files = client(&ctx)
                .list_paths(&saltenv(&env)?)
                .await
                .map_err(FnError::Execution)?;
            Ok(Value::Array(
                sls_names(files.iter().map(|path| path.as_str()))
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            )
            .into())
        },
    );
    f.register(
        "cp.hash_file",
        "path, saltenv='base'",
        HASH_FILE_DOC,
        |ctx, call| async move {
            let (env, path) = source(&call, 0, 1)?;
            let files = client(&ctx)
                .manifest(&saltenv(&env)?)
                .await
                .map_err(FnError::Execution)?;
            Ok(match files.iter().find(|e| e.path.as_str() == path) {
                Some(e) => json!({"hash_type": "sha256", "hsum": e.hash}),
                None => json!({}),
            }
            .into())
        },
    );
    f.register(
        "cp.get_dir",
        "path, dest, saltenv='base', template=None, gzip=None, **kwargs",
        GET_DIR_DOC,
        |ctx, call| async move { get_dir(&ctx, &call).await },
    );
    f.register(
        "cp.get_template",
        "path, dest, template='jinja', saltenv='base', makedirs=False, **kwargs",
        GET_TEMPLATE_DOC,
        |ctx, call| async move { get_template(ctx, call).await },
    );
    f.register("cp.recv", "files, dest", RECV_DOC, |_, call| async move {
        recv(&call)
    });
    f.register(
        "cp.is_cached",
        "path, saltenv='base'",
        IS_CACHED_DOC,
        |ctx, call| async move {
            if let Some(url) = str_param(&call, 0, "path").filter(|p| remote::is_remote(p)) {
                return is_cached_remote(&ctx, &call, &url);
            }
            let (env, path) = source(&call, 0, 1)?;
            // A path that could not be on the file server is not cached.
            let Ok((env, path)) = salt_file(&env, &path) else {
                return Ok(json!("").into());
            };
            let local = ctx
                .config
                .cachedir
                .join("files")
                .join(env.as_str())
                .join(path.as_str());
            Ok(json!(if local.is_file() {
                local.display().to_string()
            } else {
                String::new()
            })
            .into())
        },
    );
}

const CACHE_FILE_DOC: &str = "Used to cache a single file on the Minion\n\nReturns the location of the new cached file on the Minion.\n\nCLI Example:\n\n    brine '*' cp.cache_file salt://path/to/file";
const GET_FILE_DOC: &str = "Used to get a single file from the salt master\n\nCLI Example:\n\n    brine '*' cp.get_file salt://path/to/file /minion/dest";
const LIST_MASTER_DOC: &str =
    "List all of the files stored on the master\n\nCLI Example:\n\n    brine '*' cp.list_master";
const LIST_MASTER_DIRS_DOC: &str = "List all of the directories stored on the master\n\nCLI Example:\n\n    brine '*' cp.list_master_dirs";
const GET_FILE_STR_DOC: &str = "Download a file from a URL to the Minion cache directory and return the\ncontents of that file\n\nReturns ``False`` if Salt was unable to cache a file from a URL.\n\nCLI Example:\n\n    brine '*' cp.get_file_str salt://my/file";
const LIST_STATES_DOC: &str = "List all of the available state files in an environment\n\nCLI Example:\n\n    brine '*' cp.list_states";
const HASH_FILE_DOC: &str = "Return the hash of a file, to get the hash of a file on the salt master file server\n\nCLI Example:\n\n    brine '*' cp.hash_file salt://path/to/file";
const IS_CACHED_DOC: &str = "Return a boolean if the given path on the master has been cached on the minion\n\nCLI Example:\n\n    brine '*' cp.is_cached salt://path/to/file";

const GET_DIR_DOC: &str = "Used to recursively copy a directory from the salt master\n\nCLI Example:\n\n    brine '*' cp.get_dir salt://path/to/dir/ /minion/dest";
const GET_TEMPLATE_DOC: &str = "Render a file as a template before setting it down.\nWarning, order is not the same as in fileclient.cp for non breaking old API.\n\nCLI Example:\n\n    brine '*' cp.get_template salt://path/to/template /minion/dest";
const RECV_DOC: &str = "Used with brine-cp: write the files sent in the publication (name to\nbase64 content) to dest. One file and a dest that is not a directory: dest\nis the file's new path; otherwise the files go into dest.";

/// Write `brine-cp`'s files; Salt's answer is `{path: True}` per file.
fn recv(call: &Call) -> Result<FnOutput, FnError> {
    use base64::Engine;
    let files = call
        .param(0, "files")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            FnError::Invocation("files must be a mapping of names to contents".into())
        })?;
    let dest = str_param(call, 1, "dest")
        .ok_or_else(|| FnError::Invocation("missing required argument 'dest'".into()))?;
    let dest = Path::new(&dest);
    let into_dir = files.len() > 1 || dest.is_dir() || dest.to_string_lossy().ends_with('/');
    let mut written = serde_json::Map::new();
    for (name, content) in files {
        // A name is a bare file name: it must not lead anywhere else.
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(FnError::Invocation(format!("refusing file name {name:?}")));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content.as_str().unwrap_or_default())
            .map_err(|e| FnError::Invocation(format!("{name}: not base64: {e}")))?;
        let path = if into_dir {
            dest.join(name)
        } else {
            dest.to_path_buf()
        };
        std::fs::write(&path, bytes)
            .map_err(|e| FnError::Execution(format!("{}: {e}", path.display())))?;
        written.insert(path.display().to_string(), json!(true));
    }
    Ok(Value::Object(written).into())
}

/// `cp.cache_file` of an http(s)/ftp URL: downloaded into `extrn_files`.
async fn cache_remote(ctx: &MinionCtx, call: &Call, url: String) -> Result<FnOutput, FnError> {
    let cachedir = ctx.config.cachedir.clone();
    let saltenv = str_param(call, 1, "saltenv").unwrap_or_else(|| "base".into());
    let source_hash = str_param(call, 2, "source_hash");
    let verify_ssl = call
        .param(3, "verify_ssl")
        .is_none_or(brine_common::output::python::truthy);
    let local = tokio::task::spawn_blocking(move || {
        let fetch = remote::Fetch {
            cachedir: &cachedir,
            saltenv: &saltenv,
            url: &url,
            source_hash: source_hash.as_deref(),
            verify_ssl,
        };
        remote::cache_url(&fetch, remote::system_lookup)
    })
    .await
    .map_err(|e| FnError::Exception(e.to_string()))?
    .map_err(|e| FnError::Execution(e.to_string()))?;
    Ok(json!(local.display().to_string()).into())
}

/// `cp.is_cached` of a URL: its `extrn_files` copy, or `""`.
fn is_cached_remote(ctx: &MinionCtx, call: &Call, url: &str) -> Result<FnOutput, FnError> {
    let saltenv = str_param(call, 1, "saltenv").unwrap_or_else(|| "base".into());
    let parsed = remote::RemoteUrl::parse(url).map_err(|e| FnError::Invocation(e.to_string()))?;
    let local = remote::extrn_path(&ctx.config.cachedir, &saltenv, &parsed);
    Ok(json!(if local.is_file() {
        local.display().to_string()
    } else {
        String::new()
    })
    .into())
}

fn client(ctx: &MinionCtx) -> FileClient {
    FileClient::new(&ctx.config, ctx.upstream())
}

fn str_param(call: &Call, index: usize, name: &str) -> Option<String> {
    call.param(index, name)
        .and_then(Value::as_str)
        .map(String::from)
}

/// `salt://path?saltenv=env` or a path plus a `saltenv` argument.
fn source(call: &Call, path_index: usize, env_index: usize) -> Result<(String, String), FnError> {
    let raw = str_param(call, path_index, "path")
        .ok_or_else(|| FnError::Invocation("missing required argument 'path'".into()))?;
    let (path, query_env) = salt_url::split(&raw).unwrap_or((&raw, None));
    let env = query_env
        .map(String::from)
        .or_else(|| str_param(call, env_index, "saltenv"))
        .unwrap_or_else(|| "base".into());
    Ok((env, path.to_string()))
}

/// A `saltenv` argument as an environment name.
fn saltenv(raw: &str) -> Result<SaltEnv, FnError> {
    SaltEnv::parse(raw).map_err(|e| FnError::Execution(e.to_string()))
}

/// [`source`] naming one file: its environment and path validated, so the
/// file server (and the cache directory) is never asked for a path outside
/// its roots.
fn salt_source(
    call: &Call,
    path_index: usize,
    env_index: usize,
) -> Result<(SaltEnv, RelPath), FnError> {
    let (env, path) = source(call, path_index, env_index)?;
    salt_file(&env, &path).map_err(|e| FnError::Execution(e.to_string()))
}

async fn get_file(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let (env, path) = salt_source(call, 0, 2)?;
    let dest = str_param(call, 1, "dest")
        .ok_or_else(|| FnError::Invocation("missing required argument 'dest'".into()))?;
    let makedirs = call
        .param(3, "makedirs")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let cached = match client(ctx).cache_file(&env, &path).await {
        Ok(p) => p,
        // Salt returns '' when the source does not exist.
        Err(e) if e.contains("does not exist") => return Ok(json!("").into()),
        Err(e) => return Err(FnError::Execution(e)),
    };
    let mut dest_path = Path::new(&dest).to_path_buf();
    if dest.ends_with('/') || dest_path.is_dir() {
        dest_path = dest_path.join(Path::new(path.as_str()).file_name().unwrap_or_default());
    }
    destination_dir(&dest_path, makedirs)?;
    std::fs::copy(&cached, &dest_path)
        .map_err(|e| FnError::Execution(format!("{}: {e}", dest_path.display())))?;
    Ok(json!(dest_path.display().to_string()).into())
}

/// Salt's `cp.get_dir`: every file under `salt://path/` lands under
/// `dest/<last component of path>/`; returns the files written.
async fn get_dir(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let (env, path) = source(call, 0, 2)?;
    let dest = str_param(call, 1, "dest")
        .ok_or_else(|| FnError::Invocation("missing required argument 'dest'".into()))?;
    let prefix = path.trim_end_matches('/');
    let base = Path::new(prefix)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let files = client(ctx);
    let mut written = Vec::new();
    let saltenv = saltenv(&env)?;
    for entry in files
        .manifest(&saltenv)
        .await
        .map_err(FnError::Execution)?
        .iter()
    {
        let Some(rel) = entry
            .path
            .as_str()
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('/'))
        else {
            continue;
        };
        let cached = files
            .cache_file(&saltenv, &entry.path)
            .await
            .map_err(FnError::Execution)?;
        let target = Path::new(&dest).join(&base).join(rel);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| FnError::Execution(format!("{}: {e}", dir.display())))?;
        }
        std::fs::copy(&cached, &target)
            .map_err(|e| FnError::Execution(format!("{}: {e}", target.display())))?;
        written.push(json!(target.display().to_string()));
    }
    Ok(Value::Array(written).into())
}

/// Salt's `cp.get_template`: render `salt://path` with Jinja (grains, pillar,
/// `salt[...]` and the call's keyword arguments in its context) into `dest`.
async fn get_template(ctx: MinionCtx, call: Call) -> Result<FnOutput, FnError> {
    let (env, path) = salt_source(&call, 0, 3)?;
    let dest = str_param(&call, 1, "dest")
        .ok_or_else(|| FnError::Invocation("missing required argument 'dest'".into()))?;
    let engine = str_param(&call, 2, "template").unwrap_or_else(|| "jinja".into());
    if engine != "jinja" {
        return Err(FnError::Invocation(format!(
            "template engine {engine:?} is not available; use jinja"
        )));
    }
    let makedirs = call
        .param(4, "makedirs")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let text = match client(&ctx)
        .read_file(&env, &path)
        .await
        .map_err(FnError::Execution)?
    {
        Some(bytes) => String::from_utf8(bytes)
            .map_err(|_| FnError::Execution(format!("salt://{path} is not UTF-8 text")))?,
        None => return Ok(json!("").into()),
    };
    let functions = ctx
        .registry()
        .ok_or_else(|| FnError::Execution("the function registry is gone".into()))?;
    let context: serde_json::Map<String, Value> = call.user_kwargs();
    let pillar = ctx.pillar();
    let handle = tokio::runtime::Handle::current();
    let rendered = tokio::task::spawn_blocking(move || {
        let host = crate::state_host::MinionStateHost::new(ctx, functions, handle, pillar);
        let tctx = brine_states::render::TemplateContext {
            saltenv: env.to_string(),
            path: path.to_string(),
            context,
            ..Default::default()
        };
        brine_states::render::render_template(&*host, &text, &tctx).map_err(|e| e.message)
    })
    .await
    .map_err(|e| FnError::Exception(e.to_string()))?
    .map_err(FnError::Execution)?;
    let dest = Path::new(&dest);
    destination_dir(dest, makedirs)?;
    std::fs::write(dest, rendered)
        .map_err(|e| FnError::Execution(format!("{}: {e}", dest.display())))?;
    Ok(json!(dest.display().to_string()).into())
}

/// `saltenv` and `prefix` of the `list_master*` functions.
fn env_and_prefix(call: &Call) -> (String, String) {
    let env = str_param(call, 0, "saltenv").unwrap_or_else(|| "base".into());
    let prefix = str_param(call, 1, "prefix").unwrap_or_default();
    (env, prefix)
}

/// The files of `saltenv` on the file server whose path starts with
/// `prefix` (without its leading and trailing `/`), sorted.
pub async fn master_files(
    ctx: &MinionCtx,
    saltenv: &str,
    prefix: &str,
) -> Result<Vec<String>, FnError> {
    let prefix = prefix.trim_matches('/');
    let mut files: Vec<String> = client(ctx)
        .list_paths(&self::saltenv(saltenv)?)
        .await
        .map_err(FnError::Execution)?
        .into_iter()
        .map(|path| path.to_string())
        .filter(|p| p.starts_with(prefix))
        .collect();
    files.sort();
    Ok(files)
}

/// Every directory holding a file of `files` (the file server lists files
/// only, so an empty directory is not among them), starting with `prefix`.
pub fn dirs_of(files: &[String], prefix: &str) -> Vec<String> {
    let prefix = prefix.trim_matches('/');
    let mut dirs: Vec<String> = files
        .iter()
        .flat_map(|f| f.match_indices('/').map(move |(at, _)| f[..at].to_string()))
        .filter(|d| d.starts_with(prefix))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Salt's `cp.get_file_str`: the text of `salt://path`, `False` when it
/// is not on the file server.
async fn get_file_str(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let url = str_param(call, 0, "path").unwrap_or_default();
    let default_env = str_param(call, 1, "saltenv").unwrap_or_else(|| "base".into());
    let Some(file) = salt_url::file_of(&url, &default_env) else {
        return local_file_str(&url);
    };
    let (env, rel) = file.map_err(|e| FnError::Execution(e.to_string()))?;
    match client(ctx)
        .read_file(&env, &rel)
        .await
        .map_err(FnError::Execution)?
    {
        Some(bytes) => Ok(json!(String::from_utf8_lossy(&bytes)).into()),
        None => Ok(json!(false).into()),
    }
}

/// `cp.get_file_str` of a local path: Salt reads an absolute path as is and
/// refuses a relative one.
fn local_file_str(path: &str) -> Result<FnOutput, FnError> {
    if !Path::new(path).is_absolute() {
        return Err(FnError::Execution(format!("Path '{path}' is not absolute")));
    }
    Ok(match std::fs::read(path) {
        Ok(bytes) => json!(String::from_utf8_lossy(&bytes)),
        Err(_) => json!(false),
    }
    .into())
}

/// SLS names of the files of an environment (`a/b.sls` -> `a.b`, `a/init.sls` -> `a`).
fn sls_names<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = paths
        .filter_map(|p| p.strip_suffix(".sls"))
        .map(|p| p.strip_suffix("/init").unwrap_or(p).replace('/', "."))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `get_file`/`get_template`: the destination's directory, created with
/// `makedirs=True`, else an error naming it.
fn destination_dir(dest: &Path, makedirs: bool) -> Result<(), FnError> {
    let Some(dir) = dest.parent().filter(|dir| !dir.exists()) else {
        return Ok(());
    };
    if !makedirs {
        return Err(FnError::Execution(format!(
            "Destination directory {} does not exist",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| FnError::Execution(format!("{}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sls_names_like_salt() {
        let names =
            sls_names(["top.sls", "web/init.sls", "web/conf.sls", "files/motd"].into_iter());
        assert_eq!(names, ["top", "web", "web.conf"]);
    }

    #[test]
    fn dirs_hold_files() {
        let files = ["a/b/c.sls", "a/d.sls", "top.sls", "x/y/z"].map(String::from);
        assert_eq!(dirs_of(&files, ""), ["a", "a/b", "x", "x/y"]);
        assert_eq!(dirs_of(&files, "/x/"), ["x", "x/y"]);
    }

    #[test]
    fn local_file_str_needs_an_absolute_path() {
        assert_eq!(
            local_file_str("rel/x"),
            Err(FnError::Execution("Path 'rel/x' is not absolute".into()))
        );
        assert_eq!(
            local_file_str("/nonexistent/brine").map(|o| o.ret),
            Ok(json!(false))
        );
    }
}
