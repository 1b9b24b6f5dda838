//! Salt's `file` execution module: read, write and edit files, and inspect
//! and change their owners and modes.
//!
//! Names, arguments, defaults and return values are Salt's, including the
//! diffs `file.replace`, `file.line` and `file.blockreplace` return (see
//! [`diff`]) and the quirks of their algorithms (see [`edit`]). Unlike Salt,
//! every path must be absolute (`~` is expanded first): a relative path would
//! depend on the minion's working directory. Errors name the path.
//!
//! Every function here blocks: a state run calls it on its own thread, a
//! job on tokio's blocking pool.

mod diff;
mod edit;
mod find;
pub(super) mod hash;
pub(crate) mod meta;
mod owner_names;
mod pyre;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use brine_common::functions::{FnError, FnOutput, Functions, Signature};
use nix::sys::time::TimeVal;
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::process::{Args, py_str, truthy};
use meta::{Perms, absolute, os_error, os_exception};

type FileResult = Result<Value, FnError>;

/// Register `name`: a blocking function (see [`Functions::register_blocking`])
/// with the call's arguments bound to `sig`.
fn reg(
    f: &mut Functions<MinionCtx>,
    name: &str,
    sig: &'static str,
    doc: &'static str,
    handler: fn(&Args) -> FileResult,
) {
    // Parsed at the first call, not at registration (see `Functions`).
    let params = std::sync::OnceLock::new();
    f.register_blocking(name, sig, doc, move |_, call| {
        let params = params.get_or_init(|| Signature::parse(sig).args);
        handler(&Args::bind_to(&call, params)).map(FnOutput::from)
    });
}

pub fn register(f: &mut Functions<MinionCtx>) {
    brine_common::pure_functions::file_paths::register(f);
    reg(f, "file.exists", "path", EXISTS_DOC, exists);
    reg(f, "file.file_exists", "path", FILE_EXISTS_DOC, file_exists);
    reg(
        f,
        "file.directory_exists",
        "path",
        DIRECTORY_EXISTS_DOC,
        directory_exists,
    );
    reg(f, "file.is_link", "path", IS_LINK_DOC, is_link);
    reg(f, "file.read", "path, binary=False", READ_DOC, read);
    reg(f, "file.write", "path, *args, **kwargs", WRITE_DOC, write);
    reg(
        f,
        "file.append",
        "path, *args, **kwargs",
        APPEND_DOC,
        append,
    );
    reg(
        f,
        "file.prepend",
        "path, *args, **kwargs",
        PREPEND_DOC,
        prepend,
    );
    reg(
        f,
        "file.touch",
        "name, atime=None, mtime=None",
        TOUCH_DOC,
        touch,
    );
    reg(f, "file.remove", "path, **kwargs", REMOVE_DOC, remove);
    reg(
        f,
        "file.mkdir",
        "dir_path, user=None, group=None, mode=None",
        MKDIR_DOC,
        mkdir,
    );
    reg(
        f,
        "file.makedirs",
        "path, user=None, group=None, mode=None",
        MAKEDIRS_DOC,
        makedirs,
    );
    reg(
        f,
        "file.copy",
        "src, dst, recurse=False, remove_existing=False",
        COPY_DOC,
        copy,
    );
    reg(f, "file.rename", "src, dst", RENAME_DOC, rename);
    reg(
        f,
        "file.symlink",
        "src, path, force=False, atomic=False, follow_symlinks=True",
        SYMLINK_DOC,
        symlink,
    );
    reg(
        f,
        "file.readlink",
        "path, canonicalize=False",
        READLINK_DOC,
        readlink,
    );
    reg(f, "file.readdir", "path", READDIR_DOC, readdir);
    reg(
        f,
        "file.stats",
        "path, hash_type=None, follow_symlinks=True",
        STATS_DOC,
        stats,
    );
    reg(
        f,
        "file.get_hash",
        "path, form='sha256', chunk_size=65536",
        GET_HASH_DOC,
        get_hash,
    );
    reg(
        f,
        "file.get_sum",
        "path, form='sha256'",
        GET_SUM_DOC,
        get_sum,
    );
    reg(
        f,
        "file.get_mode",
        "path, follow_symlinks=True",
        GET_MODE_DOC,
        get_mode,
    );
    reg(f, "file.set_mode", "path, mode", SET_MODE_DOC, set_mode);
    reg(
        f,
        "file.get_user",
        "path, follow_symlinks=True",
        GET_USER_DOC,
        get_user,
    );
    reg(
        f,
        "file.get_group",
        "path, follow_symlinks=True",
        GET_GROUP_DOC,
        get_group,
    );
    reg(
        f,
        "file.get_uid",
        "path, follow_symlinks=True",
        GET_UID_DOC,
        get_uid,
    );
    reg(
        f,
        "file.get_gid",
        "path, follow_symlinks=True",
        GET_GID_DOC,
        get_gid,
    );
    reg(f, "file.chown", "path, user, group", CHOWN_DOC, chown);
    reg(f, "file.replace", REPLACE_SIG, REPLACE_DOC, replace);
    reg(
        f,
        "file.search",
        "path, pattern, flags=8, bufsize=1, ignore_if_missing=False, multiline=False",
        SEARCH_DOC,
        search,
    );
    reg(f, "file.contains", "path, text", CONTAINS_DOC, contains);
    reg(f, "file.find", "path, *args, **kwargs", FIND_DOC, find_fn);
    reg(f, "file.line", LINE_SIG, LINE_DOC, line);
    reg(
        f,
        "file.blockreplace",
        BLOCK_SIG,
        BLOCKREPLACE_DOC,
        blockreplace,
    );
    reg(
        f,
        "file.comment",
        "path, regex, char='#', backup='.bak'",
        COMMENT_DOC,
        comment,
    );
    reg(
        f,
        "file.uncomment",
        "path, regex, char='#', backup='.bak'",
        UNCOMMENT_DOC,
        uncomment,
    );
    reg(
        f,
        "file.comment_line",
        "path, regex, char='#', cmnt=True, backup='.bak'",
        COMMENT_LINE_DOC,
        comment_line,
    );
    reg(f, "file.diskusage", "path", DISKUSAGE_DOC, diskusage);
    reg(
        f,
        "file.mkstemp",
        "suffix='', prefix='__salt.tmp.', dir=None",
        MKSTEMP_DOC,
        mkstemp,
    );
    reg(
        f,
        "file.manage_contents",
        "path, contents=None, source=None, backup=None, dry_run=False, show_changes=True, diff_lines=False",
        MANAGE_CONTENTS_DOC,
        manage_contents,
    );
}

const REPLACE_SIG: &str = "path, pattern, repl, count=0, flags=8, bufsize=1, append_if_not_found=False, prepend_if_not_found=False, not_found_content=None, backup='.bak', dry_run=False, search_only=False, show_changes=True, ignore_if_missing=False, preserve_inode=True, backslash_literal=False";
const LINE_SIG: &str = "path, content=None, match=None, mode=None, location=None, before=None, after=None, show_changes=True, backup=False, quiet=False, indent=True, dry_run=False";
const BLOCK_SIG: &str = "path, marker_start='#-- start managed zone --', marker_end='#-- end managed zone --', content='', append_if_not_found=False, prepend_if_not_found=False, backup='.bak', dry_run=False, show_changes=True, append_newline=False, insert_before_match=None, insert_after_match=None";

const EXISTS_DOC: &str = "Tests to see if path exists (a file, a directory, anything). Returns True/False.\n\nCLI Example:\n\n    brine '*' file.exists /etc/passwd";
const FILE_EXISTS_DOC: &str = "Tests to see if path is a valid file.  Returns True/False.\n\nCLI Example:\n\n    brine '*' file.file_exists /etc/passwd";
const DIRECTORY_EXISTS_DOC: &str = "Tests to see if path is a valid directory.  Returns True/False.\n\nCLI Example:\n\n    brine '*' file.directory_exists /etc";
const IS_LINK_DOC: &str = "Check if the path is a symbolic link\n\nCLI Example:\n\n    brine '*' file.is_link /path/to/link";
const READ_DOC: &str = "Return the content of the file.\n\nbinary\n    Read the bytes as they are; each byte comes back as one character\n    (U+0000 to U+00FF), so nothing is lost.\n\nCLI Example:\n\n    brine '*' file.read /path/to/file";
const WRITE_DOC: &str = "Write text to a file, overwriting any existing contents; each argument\nbecomes one line.\n\nCLI Example:\n\n    brine '*' file.write /etc/motd \"With all thine offerings thou shalt offer salt.\"\n    brine '*' file.write /etc/motd args=\"['cheese=spam','spam=cheese']\"";
const APPEND_DOC: &str = "Append text to the end of a file (which must exist), one line per\nargument, after making sure the file ends with a newline.\n\nCLI Example:\n\n    brine '*' file.append /etc/motd \"first line\" \"second line\"";
const PREPEND_DOC: &str = "Prepend text to the beginning of a file, one line per argument.\n\nCLI Example:\n\n    brine '*' file.prepend /etc/motd \"first line\"";
const TOUCH_DOC: &str = "Just like the ``touch`` command, create a file if it doesn't exist or\nsimply update the atime and mtime if it already does.\n\natime / mtime\n    Times in Unix epoch seconds (default: now).\n\nCLI Example:\n\n    brine '*' file.touch /var/log/emptyfile";
const REMOVE_DOC: &str = "Remove the named file. If a directory is supplied, it will be recursively\ndeleted. Returns False if there was nothing to remove.\n\nCLI Example:\n\n    brine '*' file.remove /tmp/foo";
const MKDIR_DOC: &str = "Ensure that a directory is available, creating parents as needed; the\ncreated directories get ``user``, ``group`` and ``mode``.\n\nCLI Example:\n\n    brine '*' file.mkdir /opt/jetty/context";
const MAKEDIRS_DOC: &str = "Ensure that the directory containing this path is available.\n\nThe path must end with a trailing slash otherwise the directory/directories\nwill be created up to the parent directory: ``/opt/code`` creates ``/opt``,\n``/opt/code/`` creates ``/opt/code``.\n\nCLI Example:\n\n    brine '*' file.makedirs /opt/code/";
const COPY_DOC: &str = "Copy a file or directory from source to dst. Copying a directory needs\n``recurse=True``; it overwrites files of the same name and keeps the rest,\nunless ``remove_existing=True`` empties the destination first.\n\nCLI Example:\n\n    brine '*' file.copy /path/to/src /path/to/dst\n    brine '*' file.copy /path/to/src_dir /path/to/dst_dir recurse=True";
const RENAME_DOC: &str = "Rename a file or directory\n\nCLI Example:\n\n    brine '*' file.rename /path/to/src /path/to/dst";
const SYMLINK_DOC: &str = "Create a symbolic link (symlink, soft link) to a file\n\nforce\n    Overwrite an existing file or symlink at ``path``.\n\natomic\n    Replace ``path`` atomically.\n\nfollow_symlinks\n    If False, a broken symlink at ``path`` counts as existing.\n\nCLI Example:\n\n    brine '*' file.symlink /path/to/file /path/to/link";
const READLINK_DOC: &str = "Return the path that a symlink points to\n\ncanonicalize\n    Resolve every symlink on the way (``realpath``).\n\nCLI Example:\n\n    brine '*' file.readlink /path/to/link";
const READDIR_DOC: &str = "Return a list containing the contents of a directory: \".\", \"..\" and\nits entries in the order the directory gives them.\n\nCLI Example:\n\n    brine '*' file.readdir /path/to/dir/";
const STATS_DOC: &str = "Return a dict containing the stats for a given file: inode, uid, gid,\ngroup, user, atime, mtime, ctime, size, mode, type, target (and sum with\n``hash_type``).\n\nCLI Example:\n\n    brine '*' file.stats /etc/passwd";
const GET_HASH_DOC: &str = "Get the hash sum of a file: md5, sha1, sha224, sha256 (default), sha384\nor sha512.\n\nCLI Example:\n\n    brine '*' file.get_hash /etc/shadow\n    brine '*' file.get_hash /etc/shadow md5";
const GET_SUM_DOC: &str = "Return the checksum for the given file (``File not found`` if it is not\na file).\n\nCLI Example:\n\n    brine '*' file.get_sum /etc/passwd sha512";
const GET_MODE_DOC: &str = "Return the mode of a file, e.g. '0644'\n\nCLI Example:\n\n    brine '*' file.get_mode /etc/passwd";
const SET_MODE_DOC: &str = "Set the mode of a file; ``644``, ``0644`` and ``'0644'`` all mean octal 644.\n\nCLI Example:\n\n    brine '*' file.set_mode /etc/passwd 0644";
const GET_USER_DOC: &str = "Return the user that owns a given file\n\nCLI Example:\n\n    brine '*' file.get_user /etc/passwd";
const GET_GROUP_DOC: &str = "Return the group that owns a given file\n\nCLI Example:\n\n    brine '*' file.get_group /etc/passwd";
const GET_UID_DOC: &str = "Return the id of the user that owns a given file\n\nCLI Example:\n\n    brine '*' file.get_uid /etc/passwd";
const GET_GID_DOC: &str = "Return the id of the group that owns a given file\n\nCLI Example:\n\n    brine '*' file.get_gid /etc/passwd";
const CHOWN_DOC: &str = "Chown a file, pass the file the desired user and group\n\nCLI Example:\n\n    brine '*' file.chown /etc/passwd root root";
const REPLACE_DOC: &str = "Replace occurrences of a pattern in a file. Returns a diff of the changes\n(or, with ``show_changes=False``, whether anything changed).\n\npattern / repl\n    A regular expression and its replacement (``\\1`` and ``\\g<name>``\n    refer to groups).\ncount\n    How many occurrences to replace (0: all).\nflags\n    re flags as an integer (default 8, MULTILINE) or names:\n    ``flags='[MULTILINE, IGNORECASE]'``.\nappend_if_not_found / prepend_if_not_found / not_found_content\n    Add the content (default ``repl``) when the pattern is not found.\nbackup\n    Extension of the backup of the original (``False`` for none).\ndry_run / search_only / ignore_if_missing / preserve_inode / backslash_literal\n    As in Salt.\n\nCLI Example:\n\n    brine '*' file.replace /etc/httpd/httpd.conf pattern='LogLevel warn' repl='LogLevel info'";
const SEARCH_DOC: &str = "Search for occurrences of a pattern in a file. Returns True/False.\n\nmultiline\n    Add MULTILINE to ``flags``.\n\nCLI Example:\n\n    brine '*' file.search /etc/crontab 'mymaintenance.sh'";
const CONTAINS_DOC: &str = "Return ``True`` if the file at ``path`` contains ``text``\n\nCLI Example:\n\n    brine '*' file.contains /etc/crontab 'mymaintenance.sh'";
const FIND_DOC: &str = "Approximate the Unix ``find(1)`` command and return a sorted list of\npaths that meet the criteria.\n\nCriteria: name, iname (globs), regex, iregex, type (bcdfpls), owner, group,\nsize ([+-]N[bkmgt]), mtime ([+-]NwNdNhNmNs), grep.\nActions: print (path,name,size,type,mode,mtime,user,group,md5), delete\n[=types], exec (``{}`` is the path). Depth: mindepth, maxdepth.\n\nCLI Example:\n\n    brine '*' file.find / type=f name=\\*.bak size=+10m\n    brine '*' file.find /var mtime=+30d size=+10m print=path,size,mtime";
const LINE_DOC: &str = "Line-focused editing of a file (Salt's quirks included).\n\nmode\n    ensure, replace, delete or insert.\ncontent / match\n    The line, and a regex or fragment finding the target (default: content).\nlocation\n    ``start`` or ``end``, for insert.\nbefore / after\n    Regex or fragment of the line to place the content before / after; must\n    match exactly one line.\nshow_changes / backup / quiet / indent\n    Return a diff; keep a dated backup; do not fail on a missing file; keep\n    the neighbouring line's indentation.\n\nCLI Example:\n\n    brine '*' file.line /etc/nsswitch.conf \"networks:\\tfiles dns\" after=\"hosts:.*?\" mode='ensure'";
const BLOCKREPLACE_DOC: &str = "Replace content of a text block in a file, delimited by line markers.\nReturns a diff (or, with ``show_changes=False``, whether anything changed).\n\nappend_if_not_found / prepend_if_not_found / insert_before_match / insert_after_match\n    Where to add the block when the markers are missing.\nappend_newline\n    Add a newline after the content (None: only if it lacks one).\n\nCLI Example:\n\n    brine '*' file.blockreplace /etc/hosts '#-- start managed zone foobar --' '#-- end managed zone foobar --' $'10.0.1.1 foo.foobar\\n10.0.1.2 bar.foobar' True";
const COMMENT_DOC: &str = "Comment out specified lines in a file (lines matching ``regex`` at their\nstart). Returns the diff of the changed lines, or False.\n\nCLI Example:\n\n    brine '*' file.comment /etc/modules pcspkr";
const UNCOMMENT_DOC: &str = "Uncomment specified commented lines in a file. Returns the diff of the\nchanged lines, or False.\n\nCLI Example:\n\n    brine '*' file.uncomment /etc/hosts.deny 'ALL: PARANOID'";
const COMMENT_LINE_DOC: &str = "Comment (``cmnt=True``) or uncomment a line in a text file.\n\nCLI Example:\n\n    brine '*' file.comment_line '/etc/modules' '^pcspkr'";
const MKSTEMP_DOC: &str = "Create a temporary file that is kept, and return its path (Salt's\n``salt.utils.files.mkstemp``).\n\nsuffix / prefix\n    Around the random part of the name (prefix ``__salt.tmp.`` by default).\ndir\n    The directory (the system's temporary directory by default).\n\nCLI Example:\n\n    brine '*' file.mkstemp";
const MANAGE_CONTENTS_DOC: &str = "Make a file hold exactly the given bytes (Brine: what Salt's ``file.manage_file``\ndoes with a fetched source or ``contents``, used by the ``file`` states).\n\ncontents / source\n    The new text, or a local file to copy the bytes from.\nbackup\n    Suffix for a copy of the original before it is replaced (none by default).\ndry_run\n    Only report what would change.\nshow_changes\n    Put the diff in the result (else ``<show_changes=False>``).\n\nReturns ``{'changed': bool, 'diff': str}``; the diff is ``New file`` for a\nnew file and ``Replace binary file`` when either side is binary. An\nexisting file keeps its owner and mode.\n\nCLI Example:\n\n    brine '*' file.manage_contents /etc/motd contents='hello'";
const DISKUSAGE_DOC: &str = "Recursively calculate disk usage of path and return it in bytes\n\nCLI Example:\n\n    brine '*' file.diskusage /path/to/check";

// ---------------------------------------------------------------------------
// Helpers

/// A path argument: `~` expanded, absolute.
fn path_arg(args: &Args, name: &str) -> Result<PathBuf, FnError> {
    absolute(&args.get(name).map(py_str).unwrap_or_else(|| "None".into()))
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// The lines `write`, `append` and `prepend` take: `args=` wins over the
/// positional ones.
fn lines_arg(args: &Args) -> Vec<String> {
    match args.get("args") {
        Some(Value::Array(items)) => items.iter().map(py_str).collect(),
        Some(other) => vec![py_str(other)],
        None => args.rest.iter().map(py_str).collect(),
    }
}

/// A backup suffix: `False`, `None` and `""` mean no backup.
fn backup_arg(args: &Args, default: &str) -> Option<String> {
    match args.get("backup") {
        None if args.given("backup") => None,
        None => Some(default.to_string()),
        Some(Value::Bool(false)) => None,
        Some(v) => Some(py_str(v)).filter(|s| !s.is_empty()),
    }
}

/// Replace a file's content through a temp file and a rename, keeping its
/// owner and mode (Salt's `atomic_open`). New files are made the same way:
/// the rename replaces whatever is at `path`, so a dangling symlink planted
/// there is not followed to create a file elsewhere. The temp file is
/// created exclusively, so a symlink planted at its name is not followed
/// either.
fn atomic_write(path: &Path, data: &[u8]) -> Result<(), FnError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let tmp = dir.join(format!(".___atomic_write{:016x}", rand::random::<u64>()));
    let result = (|| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?
            .write_all(data)?;
        if let Ok(perms) = Perms::of(path) {
            perms.apply(&tmp)?;
        }
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        FnError::Execution(format!(
            "Unable to write file '{}': {}",
            shown(path),
            os_error(&e, path)
        ))
    })
}

/// Rewrite a file in place (same inode, so hard links stay linked).
fn write_in_place(path: &Path, data: &[u8]) -> Result<(), FnError> {
    std::fs::write(path, data).map_err(|e| {
        FnError::Execution(format!(
            "Unable to write file '{}': {}",
            shown(path),
            os_error(&e, path)
        ))
    })
}

/// Copy the original to `path + suffix` before an edit.
fn backup_copy(path: &Path, suffix: &str) -> Result<(), FnError> {
    let target = PathBuf::from(format!("{}{suffix}", shown(path)));
    std::fs::copy(path, &target).map(|_| ()).map_err(|e| {
        FnError::Execution(format!(
            "Unable to create the backup file '{}': {}",
            shown(&target),
            os_error(&e, &target)
        ))
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, FnError> {
    std::fs::read(path).map_err(|e| {
        FnError::Execution(format!(
            "Unable to open file '{}'. Exception: {}",
            shown(path),
            os_error(&e, path)
        ))
    })
}

/// The bytes of `path` when it is a regular file (symlinks followed),
/// `None` when it is missing or something else. One open: the type comes
/// from the open file, which `O_NONBLOCK` keeps a FIFO from blocking.
fn read_regular_file(path: &Path) -> Result<Option<Vec<u8>>, FnError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let unreadable = |e: std::io::Error| {
        FnError::Execution(format!(
            "Unable to open file '{}'. Exception: {}",
            shown(path),
            os_error(&e, path)
        ))
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
    {
        Ok(file) => file,
        // Missing (or a dangling link) is no file; a file that is there
        // but cannot be opened is an error.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if path.is_file() => return Err(unreadable(e)),
        Err(_) => return Ok(None),
    };
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // Through `take`: `File::read_to_end` would ask the size again
    // (`fstat` and `lseek`), which `meta` has just said.
    file.take(u64::MAX)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    Ok(Some(bytes))
}

fn binary_error(path: &Path) -> FnError {
    FnError::Invocation(format!(
        "Cannot perform string replacements on a binary file: {}",
        shown(path)
    ))
}

// ---------------------------------------------------------------------------
// Existence and reading

fn exists(args: &Args) -> FileResult {
    Ok(json!(path_arg(args, "path")?.exists()))
}

fn file_exists(args: &Args) -> FileResult {
    Ok(json!(path_arg(args, "path")?.is_file()))
}

fn directory_exists(args: &Args) -> FileResult {
    Ok(json!(path_arg(args, "path")?.is_dir()))
}

fn is_link(args: &Args) -> FileResult {
    Ok(json!(path_arg(args, "path")?.is_symlink()))
}

fn read(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let data = std::fs::read(&path).map_err(|e| os_exception(&e, &path))?;
    if args.get("binary") == Some(&Value::Bool(true)) {
        return Ok(json!(
            data.iter().map(|b| char::from(*b)).collect::<String>()
        ));
    }
    match String::from_utf8(data) {
        Ok(text) => Ok(json!(text)),
        Err(e) => {
            let pos = e.utf8_error().valid_up_to();
            let byte = e.as_bytes().get(pos).copied().unwrap_or_default();
            Err(FnError::Exception(format!(
                "UnicodeDecodeError: 'utf-8' codec can't decode byte 0x{byte:02x} in position {pos}: invalid start byte (reading {}; use binary=True)",
                shown(&path)
            )))
        }
    }
}

fn contains(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let text = args.str("text").unwrap_or_else(|| "None".into());
    let found = std::fs::read(&path)
        .map(|data| String::from_utf8_lossy(&data).contains(text.trim()))
        .unwrap_or(false);
    Ok(json!(found))
}

// ---------------------------------------------------------------------------
// Writing

fn write(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let lines = lines_arg(args);
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, body).map_err(|e| os_exception(&e, &path))?;
    Ok(json!(format!(
        "Wrote {} lines to \"{}\"",
        lines.len(),
        shown(&path)
    )))
}

fn append(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let lines = lines_arg(args);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| os_exception(&e, &path))?;
    let io = |e: std::io::Error| os_exception(&e, &path);
    let len = file.metadata().map_err(io)?.len();
    let mut body = String::new();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1)).map_err(io)?;
        file.read_exact(&mut last).map_err(io)?;
        if last[0] != b'\n' {
            body.push('\n');
        }
    }
    for l in &lines {
        body.push_str(l);
        body.push('\n');
    }
    file.seek(SeekFrom::End(0)).map_err(io)?;
    file.write_all(body.as_bytes()).map_err(io)?;
    Ok(json!(format!(
        "Wrote {} lines to \"{}\"",
        lines.len(),
        shown(&path)
    )))
}

fn prepend(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let lines = lines_arg(args);
    let existing = std::fs::read(&path).unwrap_or_default();
    let mut body: Vec<u8> = lines
        .iter()
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    body.extend(existing);
    std::fs::write(&path, body).map_err(|e| os_exception(&e, &path))?;
    Ok(json!(format!(
        "Prepended {} lines to \"{}\"",
        lines.len(),
        shown(&path)
    )))
}

/// A time argument of `touch`: digits are seconds; anything else is refused.
fn time_arg(args: &Args, name: &str) -> Result<Option<f64>, FnError> {
    let bad = || FnError::Invocation("atime and mtime must be integers".into());
    match args.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map(Some).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}

fn touch(args: &Args) -> FileResult {
    let path = path_arg(args, "name")?;
    let atime = time_arg(args, "atime")?;
    let mtime = time_arg(args, "mtime")?;
    let fail = |e: std::io::Error| FnError::Execution(os_error(&e, &path));
    if !path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(fail)?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let tv = |secs: f64| {
        let whole = secs.floor();
        TimeVal::new(whole as i64, ((secs - whole) * 1e6) as _)
    };
    nix::sys::stat::utimes(&path, &tv(atime.unwrap_or(now)), &tv(mtime.unwrap_or(now)))
        .map_err(|e| FnError::Execution(format!("{}: {}", e.desc(), shown(&path))))?;
    Ok(json!(path.exists()))
}

fn remove(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let result = if path.is_symlink() || (path.exists() && !path.is_dir()) {
        std::fs::remove_file(&path)
    } else if path.is_dir() {
        std::fs::remove_dir_all(&path)
    } else {
        return Ok(json!(false));
    };
    result.map(|_| json!(true)).map_err(|e| {
        FnError::Execution(format!(
            "Could not remove '{}': {}",
            shown(&path),
            os_error(&e, &path)
        ))
    })
}

// ---------------------------------------------------------------------------
// Directories

/// The mode argument of `mkdir`/`makedirs` (octal digits), if given.
fn mode_arg(args: &Args) -> Result<Option<u32>, FnError> {
    args.get("mode")
        .filter(|m| truthy(m))
        .map(|m| {
            meta::parse_mode(m).map_err(|bad| FnError::Invocation(format!("Invalid Mode {bad}")))
        })
        .transpose()
}

/// Salt's `makedirs_perms`: create `dir` and missing parents, each with the
/// owner and mode given.
fn make_dirs(
    dir: &Path,
    user: Option<&Value>,
    group: Option<&Value>,
    mode: Option<u32>,
) -> Result<(), FnError> {
    if let Some(parent) = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.exists())
    {
        make_dirs(parent, user, group, mode)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => meta::set_owner_and_mode(dir, user, group, mode),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(os_exception(&e, dir)),
    }
}

fn mkdir(args: &Args) -> FileResult {
    let raw = path_arg(args, "dir_path")?;
    let dir = PathBuf::from(meta::normpath(&shown(&raw)));
    let mode = mode_arg(args)?;
    if !dir.is_dir() {
        make_dirs(&dir, args.get("user"), args.get("group"), mode)?;
    }
    Ok(json!(true))
}

fn makedirs(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let mode = mode_arg(args)?;
    let mut dirname = meta::normpath(&meta::dirname(&shown(&path)));
    if Path::new(&dirname).is_dir() {
        return Ok(json!(format!("Directory '{dirname}' already exists")));
    }
    if Path::new(&dirname).exists() {
        return Ok(json!(format!(
            "The path '{dirname}' already exists and is not a directory"
        )));
    }
    let mut to_create = Vec::new();
    while !Path::new(&dirname).is_dir() {
        to_create.push(dirname.clone());
        let parent = meta::dirname(&dirname);
        if parent == dirname {
            return Err(FnError::Invocation(format!(
                "Recursive creation for path '{parent}' would result in an infinite loop. Please use an absolute path."
            )));
        }
        dirname = parent;
    }
    for dir in to_create.iter().rev() {
        make_dirs(Path::new(dir), args.get("user"), args.get("group"), mode)?;
    }
    Ok(Value::Null)
}

fn diskusage(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    if path.is_file() {
        return Ok(json!(
            std::fs::metadata(&path)
                .map(|m| m.size())
                .unwrap_or_default()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![path];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let p = entry.path();
            // os.walk: real directories are walked, everything else is a file.
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                stack.push(p);
                continue;
            }
            if p.is_dir() {
                continue;
            }
            if let Ok(m) = std::fs::metadata(&p)
                && seen.insert(m.ino())
            {
                total += m.size();
            }
        }
    }
    Ok(json!(total))
}

// ---------------------------------------------------------------------------
// Copy, rename, links

/// `shutil.copytree`-like recursion: with `fresh`, copy modes too (copy2);
/// without, Salt's `recursive_copy` (copyfile over what exists).
fn copy_tree(src: &Path, dst: &Path, fresh: bool) -> std::io::Result<()> {
    if !dst.exists() {
        std::fs::create_dir_all(dst)?;
        if fresh {
            std::fs::set_permissions(dst, std::fs::metadata(src)?.permissions())?;
        }
    }
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let real_dir = std::fs::symlink_metadata(&from)?.is_dir();
        if real_dir || (fresh && from.is_dir()) {
            // copytree follows symlinked directories; os.walk does not.
            copy_tree(&from, &to, fresh)?;
        } else if from.is_dir() {
            continue;
        } else if fresh {
            std::fs::copy(&from, &to)?;
        } else {
            copy_contents(&from, &to)?;
        }
    }
    Ok(())
}

/// `shutil.copyfile`: the bytes only; an existing destination keeps its mode.
fn copy_contents(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut input = std::fs::File::open(from)?;
    let mut output = std::fs::File::create(to)?;
    std::io::copy(&mut input, &mut output).map(|_| ())
}

fn copy(args: &Args) -> FileResult {
    let src = path_arg(args, "src")?;
    let dst = path_arg(args, "dst")?;
    if !src.exists() {
        return Err(FnError::Execution(format!(
            "No such file or directory '{}'",
            shown(&src)
        )));
    }
    let perms = Perms::of(&src).map_err(|e| os_exception(&e, &src))?;
    let failed = |_| {
        FnError::Execution(format!(
            "Could not copy '{}' to '{}'",
            shown(&src),
            shown(&dst)
        ))
    };
    if dst.is_dir() || src.is_dir() {
        if !args.bool("recurse", false) {
            return Err(FnError::Invocation(
                "Cannot copy overwriting a directory without recurse flag set to true!".into(),
            ));
        }
        if args.bool("remove_existing", false) {
            if dst.exists() {
                std::fs::remove_dir_all(&dst).map_err(failed)?;
            }
            copy_tree(&src, &dst, true).map_err(failed)?;
        } else {
            copy_tree(&src, &dst, false).map_err(failed)?;
        }
    } else {
        copy_contents(&src, &dst).map_err(failed)?;
    }
    perms.apply(&dst).map_err(|e| os_exception(&e, &dst))?;
    Ok(json!(true))
}

fn rename(args: &Args) -> FileResult {
    let src = path_arg(args, "src")?;
    let dst = path_arg(args, "dst")?;
    std::fs::rename(&src, &dst)
        .map(|_| json!(true))
        .map_err(|_| {
            FnError::Execution(format!(
                "Could not rename '{}' to '{}'",
                shown(&src),
                shown(&dst)
            ))
        })
}

fn symlink(args: &Args) -> FileResult {
    let src = args.str_or("src", "None");
    let raw = meta::expand_user(&args.str_or("path", "None"));
    let path = PathBuf::from(&raw);
    if !path.is_absolute() {
        return Err(FnError::Invocation(format!(
            "Link path must be absolute: {raw}"
        )));
    }
    let (force, atomic) = (args.bool("force", false), args.bool("atomic", false));
    let exists = |p: &Path| {
        if args.bool("follow_symlinks", true) {
            p.exists()
        } else {
            p.symlink_metadata().is_ok()
        }
    };
    if path.is_symlink() {
        let current = std::fs::read_link(&path).map(|t| meta::normpath(&shown(&t)));
        if current.is_ok_and(|c| c == meta::normpath(&src)) {
            return Ok(json!(true));
        }
        if !force && !atomic {
            return Err(FnError::Execution(format!("Found existing symlink: {raw}")));
        }
    }
    if exists(&path) && !force && !atomic {
        return Err(FnError::Execution(format!(
            "Existing path is not a symlink: {raw}"
        )));
    }
    let could_not = || FnError::Execution(format!("Could not create '{raw}'"));
    if atomic {
        let dir = path.parent().unwrap_or(Path::new("/"));
        let tmp = dir.join(format!(".brine-link-{:016x}", rand::random::<u64>()));
        std::os::unix::fs::symlink(&src, &tmp).map_err(|_| could_not())?;
        return std::fs::rename(&tmp, &path)
            .map(|_| json!(true))
            .map_err(|_| {
                let _ = std::fs::remove_file(&tmp);
                could_not()
            });
    }
    if force && (path.is_symlink() || exists(&path)) {
        std::fs::remove_file(&path).map_err(|_| could_not())?;
    }
    std::os::unix::fs::symlink(&src, &path)
        .map(|_| json!(true))
        .map_err(|_| could_not())
}

fn readlink(args: &Args) -> FileResult {
    let raw = meta::expand_vars(&meta::expand_user(&args.str_or("path", "None")));
    let path = PathBuf::from(&raw);
    if !path.is_absolute() {
        return Err(FnError::Invocation(format!(
            "Path to link must be absolute: {raw}"
        )));
    }
    if !path.is_symlink() {
        return Err(FnError::Invocation(format!(
            "A valid link was not specified: {raw}"
        )));
    }
    if args.bool("canonicalize", false) {
        return Ok(json!(shown(&meta::realpath(&path))));
    }
    std::fs::read_link(&path)
        .map(|t| json!(shown(&t)))
        .map_err(|e| FnError::Execution(os_error(&e, &path)))
}

/// Salt's `file.readdir`: `.`, `..`, then the entries in the directory's own
/// order (`os.listdir`), which is also the order `os.walk` visits them in.
fn readdir(args: &Args) -> FileResult {
    let raw = meta::expand_user(&args.str_or("path", "None"));
    let path = PathBuf::from(&raw);
    if !path.is_absolute() {
        return Err(FnError::Invocation("Dir path must be absolute.".into()));
    }
    if !path.is_dir() {
        return Err(FnError::Invocation(format!(
            "A valid directory was not specified: {raw}"
        )));
    }
    let entries = std::fs::read_dir(&path).map_err(|e| FnError::Execution(os_error(&e, &path)))?;
    let mut out = vec![json!("."), json!("..")];
    for entry in entries {
        let entry = entry.map_err(|e| FnError::Execution(os_error(&e, &path)))?;
        out.push(json!(entry.file_name().to_string_lossy()));
    }
    Ok(Value::Array(out))
}

// ---------------------------------------------------------------------------
// Metadata

fn stats(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let hash_type = args.str("hash_type");
    Ok(Value::Object(meta::stats(
        &path,
        hash_type.as_deref(),
        args.bool("follow_symlinks", true),
    )?))
}

/// One key of `file.stats` (what `get_mode`, `get_user`, ... return).
fn stat_key(args: &Args, key: &str) -> FileResult {
    let path = path_arg(args, "path")?;
    let mut s = meta::stats(&path, None, args.bool("follow_symlinks", true))?;
    Ok(s.remove(key).unwrap_or(Value::Null))
}

fn get_mode(args: &Args) -> FileResult {
    stat_key(args, "mode")
}

fn get_user(args: &Args) -> FileResult {
    stat_key(args, "user")
}

fn get_group(args: &Args) -> FileResult {
    stat_key(args, "group")
}

fn get_uid(args: &Args) -> FileResult {
    stat_key(args, "uid")
}

fn get_gid(args: &Args) -> FileResult {
    stat_key(args, "gid")
}

fn get_hash(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let form = args.str_or("form", "sha256");
    let chunk = usize::try_from(args.int("chunk_size", 65536)?).unwrap_or(65536);
    hash::file_digest(&path, &form, chunk)
        .map(|h| json!(h))
        .map_err(|e| meta::hash_error(e, &path))
}

fn get_sum(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    if !path.is_file() {
        return Ok(json!("File not found"));
    }
    let form = args.str_or("form", "sha256");
    hash::file_digest(&path, &form, 4096)
        .map(|h| json!(h))
        .map_err(|e| meta::hash_error(e, &path))
}

fn set_mode(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let mode = args.get("mode").cloned().unwrap_or(Value::Null);
    if !path.exists() {
        return Err(FnError::Execution(format!(
            "{}: File not found",
            shown(&path)
        )));
    }
    let bits = match meta::parse_mode(&mode) {
        Ok(bits) => bits,
        Err(bad) => return Ok(json!(format!("Invalid Mode {bad}"))),
    };
    use std::os::unix::fs::PermissionsExt;
    if std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bits)).is_err() {
        return Ok(json!(format!("Invalid Mode {bits:o}")));
    }
    stat_key(args, "mode")
}

fn chown(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let user = args.get("user");
    let group = args.get("group");
    let mut err = String::new();
    let uid = match (meta::uid_of(user), user) {
        (Some(uid), _) => Some(uid),
        (None, Some(u)) if truthy(u) => {
            err.push_str("User does not exist\n");
            None
        }
        (None, _) => None,
    };
    let gid = match (group.and_then(meta::gid_of), group) {
        (Some(gid), _) => Some(gid),
        (None, Some(g)) if truthy(g) => {
            err.push_str("Group does not exist\n");
            None
        }
        (None, _) => None,
    };
    if !path.exists() {
        // A broken symlink is still chowned.
        if path.is_symlink() && std::os::unix::fs::lchown(&path, uid, gid).is_ok() {
            return Ok(Value::Null);
        }
        err.push_str("File not found");
    }
    if !err.is_empty() {
        return Ok(json!(err));
    }
    std::os::unix::fs::chown(&path, uid, gid).map_err(|e| os_exception(&e, &path))?;
    Ok(Value::Null)
}

// ---------------------------------------------------------------------------
// Editing

/// The file to edit for `replace`/`search`: resolved through symlinks,
/// present (or `None` with `ignore_if_missing`), and text.
fn text_file(given: &Path, ignore_if_missing: bool) -> Result<Option<PathBuf>, FnError> {
    let path = meta::realpath(given);
    if !path.exists() {
        if ignore_if_missing {
            return Ok(None);
        }
        return Err(FnError::Invocation(format!(
            "File not found: {}",
            shown(&path)
        )));
    }
    if !meta::is_text(&path) {
        return Err(binary_error(&path));
    }
    Ok(Some(path))
}

fn flags_arg(args: &Args, default: u32) -> Result<u32, FnError> {
    match args.get("flags") {
        None => Ok(default),
        Some(v) => pyre::parse_flags(v).map_err(FnError::Execution),
    }
}

fn replace(args: &Args) -> FileResult {
    let given = path_arg(args, "path")?;
    let Some(path) = text_file(&given, args.bool("ignore_if_missing", false))? else {
        return Ok(json!(false));
    };
    let (append, prepend) = replace_modes(args)?;
    let flags = flags_arg(args, pyre::MULTILINE)?;
    let pattern = args.str_or("pattern", "None");
    let data = read_bytes(&path)?;
    if args.bool("search_only", false) {
        return edit::search(&data, &pattern, flags)
            .map(|b| json!(b))
            .map_err(FnError::Execution);
    }
    let repl = args.str_or("repl", "None");
    let not_found = args.str("not_found_content");
    let spec = edit::Replace {
        pattern: &pattern,
        repl: &repl,
        count: usize::try_from(args.int("count", 0)?).unwrap_or(0),
        flags,
        append_if_not_found: append,
        prepend_if_not_found: prepend,
        not_found_content: not_found.as_deref(),
        backslash_literal: args.bool("backslash_literal", false),
    };
    let out = edit::replace(&data, &spec).map_err(FnError::Execution)?;
    if out.has_changes && !args.bool("dry_run", false) {
        commit_replace(args, &given, &path, &out.content)?;
    }
    if args.bool("show_changes", true) {
        Ok(json!(out.diff))
    } else {
        Ok(json!(out.has_changes && !out.diff.is_empty()))
    }
}

/// `append_if_not_found` and `prepend_if_not_found`, checked against each
/// other and `search_only` with Salt's messages.
fn replace_modes(args: &Args) -> Result<(bool, bool), FnError> {
    let append = args.bool("append_if_not_found", false);
    let prepend = args.bool("prepend_if_not_found", false);
    if args.bool("search_only", false) && (append || prepend) {
        return Err(FnError::Invocation(
            "search_only cannot be used with append/prepend_if_not_found".into(),
        ));
    }
    if append && prepend {
        return Err(FnError::Invocation(
            "Only one of append and prepend_if_not_found is permitted".into(),
        ));
    }
    Ok((append, prepend))
}

/// Write `file.replace`'s result: backup first, then the new content in
/// place (or through a new inode with `preserve_inode=False`), keeping the
/// owner and mode.
fn commit_replace(args: &Args, given: &Path, path: &Path, content: &[u8]) -> Result<(), FnError> {
    if let Some(suffix) = backup_arg(args, ".bak") {
        backup_copy(path, &suffix)?;
        link_backup(given, path, &suffix);
    }
    let perms = Perms::of(path).ok();
    if args.bool("preserve_inode", true) {
        write_in_place(path, content)?;
    } else {
        atomic_write(path, content)?;
    }
    match perms {
        Some(p) => p.apply(path).map_err(|e| os_exception(&e, path)),
        None => Ok(()),
    }
}

/// When the edited path was a symlink, Salt links its backup name to the
/// target's backup too.
fn link_backup(given: &Path, target: &Path, suffix: &str) {
    if !given.is_symlink() {
        return;
    }
    let link = PathBuf::from(format!("{}{suffix}", shown(given)));
    let to = PathBuf::from(format!("{}{suffix}", shown(target)));
    let _ = std::fs::remove_file(&link);
    if let Err(e) = std::os::unix::fs::symlink(&to, &link) {
        tracing::warn!("Unable to create backup symlink '{}': {e}", shown(&link));
    }
}

fn search(args: &Args) -> FileResult {
    let given = path_arg(args, "path")?;
    let mut flags = flags_arg(args, pyre::MULTILINE)?;
    if args.bool("multiline", false) {
        flags |= pyre::MULTILINE;
    }
    let Some(path) = text_file(&given, args.bool("ignore_if_missing", false))? else {
        return Ok(json!(false));
    };
    let data = read_bytes(&path)?;
    edit::search(&data, &args.str_or("pattern", "None"), flags)
        .map(|b| json!(b))
        .map_err(FnError::Execution)
}

fn line(args: &Args) -> FileResult {
    let path = meta::realpath(&path_arg(args, "path")?);
    if !path.is_file() {
        if args.bool("quiet", false) {
            return Ok(json!(false));
        }
        return Err(FnError::Execution(format!(
            "File \"{}\" does not exists or is not a file.",
            shown(&path)
        )));
    }
    let mode = edit::Mode::parse(args.str("mode").as_deref()).map_err(FnError::Execution)?;
    let (content, matches) = (args.str("content"), args.str("match"));
    let (location, before, after) = (args.str("location"), args.str("before"), args.str("after"));
    let spec = edit::LineEdit {
        content: content.as_deref(),
        matches: matches.as_deref(),
        mode,
        location: location.as_deref(),
        before: before.as_deref(),
        after: after.as_deref(),
        indent: args.bool("indent", true),
    };
    let old = String::from_utf8_lossy(&read_bytes(&path)?).into_owned();
    let body = edit::edit_line(&old, &spec).map_err(FnError::Execution)?;
    let changed = body.concat() != old;
    if changed && args.bool("backup", false) && !args.bool("dry_run", false) {
        let stamp = brine_common::local_time::now()
            .strftime("%Y-%m-%d-%H-%M-%S")
            .to_string();
        backup_copy(&path, &format!(".{stamp}"))?;
    }
    let mut diff = String::new();
    if changed {
        if args.bool("show_changes", true) {
            diff = diff::unified_diff(&edit::split_lines(&old), &body);
        }
        if !args.bool("dry_run", false) {
            atomic_write(&path, body.concat().as_bytes())?;
        }
    }
    if args.bool("show_changes", true) && !diff.is_empty() {
        Ok(json!(diff))
    } else {
        Ok(json!(changed))
    }
}

fn blockreplace(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    if !path.exists() {
        return Err(FnError::Invocation(format!(
            "File not found: {}",
            shown(&path)
        )));
    }
    if !meta::is_text(&path) {
        return Err(binary_error(&path));
    }
    for key in ["insert_before_match", "insert_after_match"] {
        if args.get(key).is_some_and(|v| truthy(v) && !v.is_string()) {
            return Err(FnError::Execution(format!(
                "RegEx expected in {key} parameter."
            )));
        }
    }
    let start = args.str_or("marker_start", "#-- start managed zone --");
    let end = args.str_or("marker_end", "#-- end managed zone --");
    let content = args.str_or("content", "");
    let (before, after) = (
        args.str("insert_before_match"),
        args.str("insert_after_match"),
    );
    let spec = edit::Block {
        marker_start: &start,
        marker_end: &end,
        content: &content,
        append_if_not_found: args.bool("append_if_not_found", false),
        prepend_if_not_found: args.bool("prepend_if_not_found", false),
        append_newline: match args.get("append_newline") {
            None if args.given("append_newline") => None,
            v => Some(v.is_some_and(truthy)),
        },
        insert_before_match: before.as_deref(),
        insert_after_match: after.as_deref(),
    };
    let text = String::from_utf8_lossy(&read_bytes(&path)?).into_owned();
    let (new, diff) = edit::block_replace(&text, &spec).map_err(FnError::Execution)?;
    let has_changes = !diff.is_empty();
    if has_changes && !args.bool("dry_run", false) {
        if let Some(suffix) = backup_arg(args, ".bak") {
            backup_copy(&path, &suffix)?;
        }
        atomic_write(&path, new.as_bytes())?;
    }
    if args.bool("show_changes", true) {
        Ok(json!(diff))
    } else {
        Ok(json!(has_changes))
    }
}

fn comment_impl(args: &Args, comment: bool) -> FileResult {
    let path = meta::realpath(&path_arg(args, "path")?);
    if !path.is_file() {
        return Err(FnError::Invocation(format!(
            "File not found: {}",
            shown(&path)
        )));
    }
    if !meta::is_text(&path) {
        return Err(binary_error(&path));
    }
    let regex = args.str_or("regex", "None");
    let ch = args.str_or("char", "#");
    let text = String::from_utf8_lossy(&read_bytes(&path)?).into_owned();
    let Some((new, diff)) =
        edit::comment_line(&text, &regex, &ch, comment).map_err(FnError::Execution)?
    else {
        return Ok(json!(false));
    };
    if let Some(suffix) = backup_arg(args, ".bak") {
        backup_copy(&path, &suffix)?;
    }
    atomic_write(&path, new.as_bytes())?;
    Ok(json!(diff))
}

fn comment(args: &Args) -> FileResult {
    comment_impl(args, true)
}

fn uncomment(args: &Args) -> FileResult {
    comment_impl(args, false)
}

fn comment_line(args: &Args) -> FileResult {
    comment_impl(args, args.bool("cmnt", true))
}

// ---------------------------------------------------------------------------
// manage_contents

/// The bytes `manage_contents` should leave in the file.
fn wanted_bytes(args: &Args) -> Result<Vec<u8>, FnError> {
    match (args.get("contents"), args.str("source")) {
        (Some(Value::String(text)), _) => Ok(text.clone().into_bytes()),
        (Some(other), _) if !other.is_null() => Ok(py_str(other).into_bytes()),
        (_, Some(source)) => read_bytes(&absolute(&source)?),
        _ => Err(FnError::Invocation(
            "file.manage_contents needs contents or source".into(),
        )),
    }
}

/// Salt's diff of an old and a new file body (`file.manage_file`).
/// The diff `file.manage_contents` reports. `diff_lines` is Salt's
/// `file.append` form: difflib over the lines without their endings, its
/// output lines joined with newlines.
fn contents_diff(old: Option<&[u8]>, new: &[u8], show_changes: bool, diff_lines: bool) -> String {
    let Some(old) = old else {
        return "New file".into();
    };
    let text = |b: &[u8]| !b.contains(&0) && std::str::from_utf8(b).is_ok();
    if !text(old) || !text(new) {
        return "Replace binary file".into();
    }
    if !show_changes {
        return "<show_changes=False>".into();
    }
    let (a, b) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    if diff_lines {
        let lines = |t: &str| t.lines().map(String::from).collect::<Vec<_>>();
        return diff::unified_diff_lines(&lines(&a), &lines(&b)).join("\n");
    }
    diff::unified_diff(&edit::split_lines(&a), &edit::split_lines(&b))
}

/// Salt's `salt.utils.files.mkstemp`: a new empty file (mode 0600, a name
/// no other file has), kept; its path.
fn mkstemp(args: &Args) -> FileResult {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = args
        .str("dir")
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let prefix = args.str_or("prefix", "__salt.tmp.");
    let suffix = args.str_or("suffix", "");
    let mut last_error = None;
    // Python's `tempfile` draws 8 characters and retries on a clash.
    for _ in 0..100 {
        let path = dir.join(format!("{prefix}{}{suffix}", random_name()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(_) => return Ok(json!(path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => {
                return Err(FnError::Execution(format!(
                    "{}: {}",
                    shown(&dir),
                    os_error(&e, &dir)
                )));
            }
        }
    }
    let detail = last_error.map(|e| e.to_string()).unwrap_or_default();
    Err(FnError::Execution(format!(
        "No usable temporary file name found in {}: {detail}",
        shown(&dir)
    )))
}

/// Eight characters of Python's `tempfile` alphabet.
fn random_name() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    (0..8)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

fn manage_contents(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    let new = wanted_bytes(args)?;
    let old = read_regular_file(&path)?;
    if old.as_deref() == Some(new.as_slice()) {
        return Ok(json!({"changed": false, "diff": ""}));
    }
    let diff = contents_diff(
        old.as_deref(),
        &new,
        args.bool("show_changes", true),
        args.bool("diff_lines", false),
    );
    if !args.bool("dry_run", false) {
        let backup = args.str("backup").filter(|s| !s.is_empty());
        if let (Some(_), Some(suffix)) = (&old, backup) {
            backup_copy(&path, &suffix)?;
        }
        atomic_write(&path, &new)?;
    }
    Ok(json!({"changed": true, "diff": diff}))
}

// ---------------------------------------------------------------------------
// find

fn find_fn(args: &Args) -> FileResult {
    let path = path_arg(args, "path")?;
    // Every keyword is an option (unknown ones are refused by the Finder).
    let mut options: Map<String, Value> = args.named().clone();
    options.remove("path");
    let words: Vec<String> = args.rest.iter().map(py_str).collect();
    if words.iter().any(|w| w == "delete") {
        options.insert("delete".into(), json!("f"));
    } else if words.iter().any(|w| w == "print") {
        options.insert("print".into(), json!("path"));
    }
    let finder = match find::Finder::new(&options) {
        Ok(f) => f,
        Err(e) => return Ok(json!(format!("error: {e}"))),
    };
    let mut results: Vec<Value> = find::glob(&shown(&path))
        .iter()
        .flat_map(|root| finder.find(root))
        .collect();
    results.sort_by(find::py_cmp);
    Ok(Value::Array(results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brine_common::functions::Call;

    #[test]
    fn only_a_regular_file_is_read_and_a_fifo_does_not_block() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("file");
        std::fs::write(&file, "bytes").expect("test setup");
        assert_eq!(
            read_regular_file(&file).expect("read"),
            Some(b"bytes".to_vec())
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).expect("test setup");
        assert_eq!(
            read_regular_file(&link).expect("read"),
            Some(b"bytes".to_vec())
        );
        assert_eq!(
            read_regular_file(&dir.path().join("missing")).expect("read"),
            None
        );
        assert_eq!(
            read_regular_file(dir.path()).expect("read"),
            None,
            "a directory"
        );
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("test setup");
        assert_eq!(read_regular_file(&fifo).expect("read"), None, "a FIFO");
    }

    #[test]
    fn mkstemp_makes_a_new_private_file_with_salts_prefix() {
        let dir = std::env::temp_dir().join(format!("brine-mkstemp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut kwargs = Map::new();
        kwargs.insert("dir".into(), json!(dir.display().to_string()));
        kwargs.insert("suffix".into(), json!(".conf"));
        let call = Call {
            fun: "file.mkstemp".into(),
            args: vec![],
            kwargs,
        };
        let args = Args::bind(&call, "suffix='', prefix='__salt.tmp.', dir=None");
        let first = mkstemp(&args).expect("mkstemp");
        let second = mkstemp(&args).expect("mkstemp");
        assert_ne!(first, second);
        let path = PathBuf::from(first.as_str().unwrap_or_default());
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        assert!(
            name.starts_with("__salt.tmp.") && name.ends_with(".conf"),
            "{name}"
        );
        let mode = std::fs::metadata(&path).map(|m| m.mode() & 0o777).ok();
        assert_eq!(mode, Some(0o600));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn readdir_lists_dot_entries_first_then_the_directory() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("a"), "").expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let bind = |path: &str| {
            let call = Call {
                fun: "file.readdir".into(),
                args: vec![json!(path)],
                kwargs: Map::new(),
            };
            readdir(&Args::bind(&call, "path"))
        };
        let listed = bind(&dir.path().display().to_string()).expect("readdir");
        let names: Vec<&str> = listed
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(&names[..2], &[".", ".."]);
        let mut rest = names[2..].to_vec();
        rest.sort_unstable();
        assert_eq!(rest, ["a", "sub"]);
        let relative = bind("rel").map_err(|e| e.to_string());
        assert!(relative.is_err_and(|e| e.contains("Dir path must be absolute.")));
        let missing = format!("{}/nope", dir.path().display());
        let err = bind(&missing).map_err(|e| e.to_string());
        assert!(err.is_err_and(|e| {
            e.contains(&format!("A valid directory was not specified: {missing}"))
        }));
    }
}
