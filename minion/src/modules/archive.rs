//! Salt's `archive` execution module: list and unpack tar archives (plain,
//! gzip, bzip2, xz) and zip archives, and run the `tar` command.
//!
//! `archive.list` and `archive.extract` read archives in-process, as Salt's
//! `archive.extracted` state does with Python's `tarfile` (`archive.extract`
//! is the Brine name for that step, so the state calls an execution
//! function like every other). Extraction is confined to the destination:
//! an archive with a member that is absolute or climbs out with `..` is
//! refused as a whole before anything is written, and the unpackers refuse
//! to write through a symlink that leaves the destination.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{HostCmd, blocking, bool_param, required_str, str_param};
use super::process::shlex_split;

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "archive.list",
        "name, archive_format=None, strip_components=None, verbose=False",
        LIST_DOC,
        |_, call| async move { list(&call).await },
    );
    f.register(
        "archive.extract",
        "name, dest, archive_format=None, trim_output=False",
        EXTRACT_DOC,
        |_, call| async move { extract_call(&call, None).await },
    );
    f.register(
        "archive.unzip",
        "zip_file, dest, trim_output=False",
        UNZIP_DOC,
        |_, call| async move { extract_call(&call, Some(Format::Zip)).await },
    );
    f.register(
        "archive.tar",
        "options, tarfile, sources=None, dest=None, cwd=None",
        TAR_DOC,
        |_, call| async move { tar(&call).await },
    );
}

const LIST_DOC: &str = "List the members of a tar (plain, gz, bz2, xz) or zip archive.\n\n\
CLI Example:\n\n    salt '*' archive.list /tmp/foo.tar.gz\n    salt '*' archive.list /tmp/foo.zip verbose=True\n\n\
archive_format\n    ``tar`` or ``zip``; guessed from the file's contents when not given.\n\n\
strip_components\n    Leave out this many leading path components (as tar's ``--strip-components``).\n\n\
verbose\n    Return ``dirs``, ``files``, ``links`` and their ``top_level_*`` subsets\n    instead of one list. Directories end with ``/``.";
const EXTRACT_DOC: &str = "Unpack an archive into ``dest`` (created if missing); returns the\n\
members written. Members that are absolute or leave ``dest`` refuse the whole archive.\n\n\
CLI Example:\n\n    salt '*' archive.extract /tmp/app.tar.gz /opt/app";
const UNZIP_DOC: &str = "Unpack a zip archive into ``dest``; returns the members written.\n\n\
CLI Example:\n\n    salt '*' archive.unzip /tmp/zipfile.zip /home/strongbad/";
const TAR_DOC: &str = "Run the ``tar`` command: ``tar <options> <tarfile> <sources> [-C dest]``.\n\
Returns the lines tar printed.\n\n\
CLI Example:\n\n    salt '*' archive.tar cjvf /tmp/tarfile.tar.bz2 /tmp/file_1,/tmp/file_2\n    salt '*' archive.tar xf foo.tar dest=/target/directory";

/// The two archive families.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Tar,
    Zip,
}

impl Format {
    fn parse(text: &str) -> Result<Format, FnError> {
        match text.to_ascii_lowercase().as_str() {
            "tar" => Ok(Format::Tar),
            "zip" => Ok(Format::Zip),
            other => Err(FnError::Invocation(format!(
                "Invalid archive_format '{other}' (expected tar or zip)"
            ))),
        }
    }
}

/// What kind of thing an archive member is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Dir,
    File,
    Link,
}

/// One archive member: its path as stored (leading `./` and trailing `/`
/// removed) and its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub path: String,
    pub kind: Kind,
}

async fn list(call: &Call) -> Result<FnOutput, FnError> {
    let name = PathBuf::from(required_str(call, 0, "name")?);
    let format = format_param(call, 1)?;
    let strip = match call.param(2, "strip_components") {
        None | Some(Value::Null) => 0,
        Some(_) => usize::try_from(call.int_param(2, "strip_components", Some(0))?).unwrap_or(0),
    };
    let verbose = bool_param(call, 3, "verbose", false);
    blocking(move || {
        let members = strip_components(members(&name, format)?, strip);
        Ok(if verbose {
            Value::Object(verbose_listing(&members))
        } else {
            json!(flat_listing(&members))
        }
        .into())
    })
    .await
}

async fn extract_call(call: &Call, forced: Option<Format>) -> Result<FnOutput, FnError> {
    let name = PathBuf::from(required_str(call, 0, "name")?);
    let dest = PathBuf::from(required_str(call, 1, "dest")?);
    let format = match forced {
        Some(f) => Some(f),
        None => format_param(call, 2)?,
    };
    let trim = trim_output(call.kwargs.get("trim_output"));
    blocking(move || {
        let mut written = extract(&name, &dest, format)?;
        if let Some(n) = trim {
            written.truncate(n);
        }
        Ok(json!(written).into())
    })
    .await
}

/// Salt's `trim_output`: `True` keeps 100 entries, a number keeps that many.
fn trim_output(value: Option<&Value>) -> Option<usize> {
    match value? {
        Value::Bool(true) => Some(100),
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn format_param(call: &Call, index: usize) -> Result<Option<Format>, FnError> {
    str_param(call, index, "archive_format")
        .filter(|s| !s.is_empty())
        .map(|s| Format::parse(&s))
        .transpose()
}

/// `archive.tar`: Salt's argument order, `tar <options> <tarfile>
/// <sources...> [-C dest]`, run in `cwd`.
async fn tar(call: &Call) -> Result<FnOutput, FnError> {
    let options = required_str(call, 0, "options")?;
    let tarfile = required_str(call, 1, "tarfile")?;
    let mut cmd = HostCmd::new("tar")
        .args(shlex_split(&options).map_err(|e| FnError::Invocation(format!("options: {e}")))?)
        .arg(tarfile);
    if let Some(sources) = call.param(2, "sources").filter(|v| !v.is_null()) {
        cmd = cmd.args(super::host::list_value(sources));
    }
    if let Some(dest) = str_param(call, 3, "dest").filter(|s| !s.is_empty()) {
        cmd = cmd.arg("-C").arg(dest);
    }
    if let Some(cwd) = str_param(call, 4, "cwd").filter(|s| !s.is_empty()) {
        cmd = cmd.current_dir(cwd);
    }
    let out = cmd.checked().await?;
    // GNU tar lists to stdout; bsdtar (and `tar -v` with `-f -`) to stderr.
    let text = if out.stdout.trim().is_empty() {
        &out.stderr
    } else {
        &out.stdout
    };
    Ok(json!(text.lines().collect::<Vec<_>>()).into())
}

// ---------------------------------------------------------------------------
// Reading archives

/// The members of the archive at `path`, in archive order.
pub fn members(path: &Path, format: Option<Format>) -> Result<Vec<Member>, FnError> {
    let fail = |e: String| {
        FnError::Execution(format!(
            "Unable to list contents of {}: {e}",
            path.display()
        ))
    };
    match format.map_or_else(|| sniff(path), Ok)? {
        Format::Tar => tar_members(path).map_err(|e| fail(e.to_string())),
        Format::Zip => zip_members(path).map_err(fail),
    }
}

/// Zip archives start with `PK\x03\x04` (or `PK\x05\x06` when empty);
/// anything else is read as a (possibly compressed) tar archive.
fn sniff(path: &Path) -> Result<Format, FnError> {
    let magic = magic_bytes(path)?;
    Ok(
        if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
            Format::Zip
        } else {
            Format::Tar
        },
    )
}

fn magic_bytes(path: &Path) -> Result<Vec<u8>, FnError> {
    let mut file = open(path)?;
    let mut magic = Vec::with_capacity(6);
    (&mut file)
        .take(6)
        .read_to_end(&mut magic)
        .map_err(|e| FnError::Execution(format!("Unable to read {}: {e}", path.display())))?;
    Ok(magic)
}

fn open(path: &Path) -> Result<File, FnError> {
    File::open(path)
        .map_err(|e| FnError::Execution(format!("Unable to open {}: {e}", path.display())))
}

/// The tar stream of `path`, decompressed by what its first bytes say.
fn tar_stream(path: &Path) -> Result<Box<dyn Read>, FnError> {
    let magic = magic_bytes(path)?;
    let mut file = open(path)?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| FnError::Execution(format!("Unable to read {}: {e}", path.display())))?;
    let file = BufReader::new(file);
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if magic.starts_with(b"BZh") {
        Box::new(bzip2::read::MultiBzDecoder::new(file))
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(lzma_rust2::XzReader::new(file, true))
    } else {
        Box::new(file)
    })
}

fn tar_members(path: &Path) -> Result<Vec<Member>, Box<dyn std::error::Error>> {
    let mut archive = tar::Archive::new(tar_stream(path)?);
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink | tar::EntryType::Link => Kind::Link,
            t if t.is_pax_global_extensions() || t.is_pax_local_extensions() => continue,
            t if t.is_gnu_longname() || t.is_gnu_longlink() => continue,
            _ => Kind::File,
        };
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if let Some(path) = normalize(&raw) {
            out.push(Member { path, kind });
        }
    }
    Ok(out)
}

fn zip_members(path: &Path) -> Result<Vec<Member>, String> {
    let mut archive =
        zip::ZipArchive::new(open(path).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i).map_err(|e| e.to_string())?;
        let kind = if file.is_dir() {
            Kind::Dir
        } else if file.is_symlink() {
            Kind::Link
        } else {
            Kind::File
        };
        let raw = file.name().map_err(|e| e.to_string())?.into_owned();
        if let Some(path) = normalize(&raw) {
            out.push(Member { path, kind });
        }
    }
    Ok(out)
}

/// A member path without leading `./` or trailing `/`; `None` for the
/// archive's own `./` entry.
fn normalize(raw: &str) -> Option<String> {
    let mut p = raw;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    let p = p.trim_end_matches('/');
    (!p.is_empty() && p != ".").then(|| p.to_string())
}

/// Drop the first `n` path components; members with no more are dropped.
fn strip_components(members: Vec<Member>, n: usize) -> Vec<Member> {
    if n == 0 {
        return members;
    }
    members
        .into_iter()
        .filter_map(|m| {
            let rest: Vec<&str> = m.path.split('/').skip(n).collect();
            (!rest.is_empty()).then(|| Member {
                path: rest.join("/"),
                kind: m.kind,
            })
        })
        .collect()
}

/// Salt's verbose listing: directories (ending in `/`, including the
/// parents that only appear in member paths), files and links, each sorted,
/// and the ones at the top level.
pub fn verbose_listing(members: &[Member]) -> Map<String, Value> {
    let mut dirs = std::collections::BTreeSet::new();
    let mut files = std::collections::BTreeSet::new();
    let mut links = std::collections::BTreeSet::new();
    for m in members {
        let parts: Vec<&str> = m.path.split('/').collect();
        for depth in 1..parts.len() {
            dirs.insert(format!("{}/", parts[..depth].join("/")));
        }
        match m.kind {
            Kind::Dir => {
                dirs.insert(format!("{}/", m.path));
            }
            Kind::File => {
                files.insert(m.path.clone());
            }
            Kind::Link => {
                links.insert(m.path.clone());
            }
        }
    }
    let top_dirs: Vec<&String> = dirs
        .iter()
        .filter(|d| d.matches('/').count() == 1)
        .collect();
    let top = |set: &std::collections::BTreeSet<String>| -> Vec<String> {
        set.iter().filter(|p| !p.contains('/')).cloned().collect()
    };
    let mut out = Map::new();
    out.insert("dirs".into(), json!(dirs));
    out.insert("files".into(), json!(files));
    out.insert("links".into(), json!(links));
    out.insert("top_level_dirs".into(), json!(top_dirs));
    out.insert("top_level_files".into(), json!(top(&files)));
    out.insert("top_level_links".into(), json!(top(&links)));
    out
}

/// The plain listing: every member once, directories ending in `/`.
fn flat_listing(members: &[Member]) -> Vec<String> {
    let v = verbose_listing(members);
    let mut all: Vec<String> = ["dirs", "files", "links"]
        .iter()
        .flat_map(|k| super::host::list_value(&v[*k]))
        .collect();
    all.sort();
    all
}

// ---------------------------------------------------------------------------
// Extracting

/// Unpack `archive` into `dest`; returns the member paths written.
pub fn extract(
    archive: &Path,
    dest: &Path,
    format: Option<Format>,
) -> Result<Vec<String>, FnError> {
    let format = format.map_or_else(|| sniff(archive), Ok)?;
    let listed = members(archive, Some(format))?;
    if let Some(bad) = listed.iter().find(|m| !stays_inside(&m.path)) {
        return Err(FnError::Execution(format!(
            "Refusing to extract {}: member '{}' would be written outside {}",
            archive.display(),
            bad.path,
            dest.display()
        )));
    }
    std::fs::create_dir_all(dest)
        .map_err(|e| FnError::Execution(format!("Unable to create {}: {e}", dest.display())))?;
    let fail = |e: String| {
        FnError::Execution(format!(
            "Unable to extract {} to {}: {e}",
            archive.display(),
            dest.display()
        ))
    };
    match format {
        Format::Tar => unpack_tar(archive, dest).map_err(fail)?,
        Format::Zip => {
            let mut zip = zip::ZipArchive::new(open(archive)?).map_err(|e| fail(e.to_string()))?;
            zip.extract(dest).map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(listed.into_iter().map(|m| m.path).collect())
}

/// A relative member path that never climbs above where it starts.
fn stays_inside(path: &str) -> bool {
    let mut depth = 0usize;
    for part in Path::new(path).components() {
        match part {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    !path.contains('\0')
}

fn unpack_tar(archive: &Path, dest: &Path) -> Result<(), String> {
    let mut tar = tar::Archive::new(tar_stream(archive).map_err(|e| e.to_string())?);
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    tar.set_overwrite(true);
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        // `unpack_in` refuses members that would land outside `dest`,
        // including through a symlink an earlier member created.
        if !entry.unpack_in(dest).map_err(|e| format!("{name}: {e}"))? {
            return Err(format!(
                "member '{name}' would be written outside the destination"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_gz(dir: &Path, entries: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("a.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            File::create(&path).expect("create"),
            flate2::Compression::fast(),
        );
        let mut b = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..`; write the raw name to build hostile archives.
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).expect("append");
        }
        b.into_inner().expect("tar").finish().expect("gz");
        path
    }

    #[test]
    fn lists_gzip_tar_with_implicit_dirs() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = tar_gz(dir.path(), &[("app/bin/run", b"x"), ("app/README", b"y")]);
        let m = members(&a, None).expect("list");
        let v = verbose_listing(&m);
        assert_eq!(v["dirs"], json!(["app/", "app/bin/"]));
        assert_eq!(v["top_level_dirs"], json!(["app/"]));
        assert_eq!(v["files"], json!(["app/README", "app/bin/run"]));
        assert_eq!(v["top_level_files"], json!([]));
        let stripped = strip_components(m, 1);
        assert_eq!(stripped[0].path, "bin/run");
    }

    #[test]
    fn extracts_and_refuses_traversal() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = tar_gz(dir.path(), &[("app/f", b"hello")]);
        let dest = dir.path().join("out");
        assert_eq!(extract(&a, &dest, None).expect("extract"), vec!["app/f"]);
        assert_eq!(std::fs::read(dest.join("app/f")).expect("read"), b"hello");

        let evil = tar_gz(dir.path(), &[("ok", b"1"), ("../escape", b"2")]);
        let err = extract(&evil, &dest, None).expect_err("refused");
        assert!(
            err.to_string()
                .contains("'../escape' would be written outside"),
            "{err}"
        );
        assert!(!dir.path().join("escape").exists());
        assert!(
            !dest.join("ok").exists(),
            "nothing is written from a refused archive"
        );
    }

    #[test]
    fn zip_round_trip() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("a.zip");
        let mut w = zip::ZipWriter::new(File::create(&path).expect("create"));
        let opts = zip::write::SimpleFileOptions::default();
        w.add_directory("top/", opts).expect("dir");
        w.start_file("top/x.txt", opts).expect("file");
        w.write_all(b"zip!").expect("write");
        w.finish().expect("finish");
        assert_eq!(sniff(&path).expect("sniff"), Format::Zip);
        let dest = dir.path().join("out");
        let written = extract(&path, &dest, None).expect("extract");
        assert_eq!(written, vec!["top", "top/x.txt"]);
        assert_eq!(
            std::fs::read(dest.join("top/x.txt")).expect("read"),
            b"zip!"
        );
    }

    #[test]
    fn member_paths_are_confined() {
        assert!(stays_inside("a/b/../c"));
        assert!(!stays_inside("a/../../c"));
        assert!(!stays_inside("/etc/passwd"));
        assert_eq!(normalize("./a/b/"), Some("a/b".into()));
        assert_eq!(normalize("./"), None);
    }
}
