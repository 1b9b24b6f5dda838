//! Salt's file filters (`salt/utils/files.py`, `salt/utils/hashutils.py`):
//! `is_empty`, `is_text_file`, `is_bin_file`, `list_files`, `file_hashsum`.
//! They look at the minion's own filesystem while the template renders.

use std::fs;
use std::io::Read as _;
use std::path::Path;

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error};

use super::random::digest;
use super::{py_error, type_name};
use crate::render::filters::positional_or_keyword;

/// Adds the file filters to `env`.
pub(super) fn register(env: &mut Environment<'_>) {
    env.add_filter("is_empty", is_empty);
    env.add_filter("is_text_file", is_text_file);
    env.add_filter("is_bin_file", is_bin_file);
    env.add_filter("list_files", list_files);
    env.add_filter("file_hashsum", file_hashsum);
}

/// The path a filter was given; Python's `os` functions refuse anything
/// but a string (or a descriptor, which a template has no use for).
fn path_of(value: &Value, function: &str) -> Result<String, Error> {
    value.as_str().map(str::to_owned).ok_or_else(|| {
        py_error(
            "TypeError",
            format!(
                "{function}: path should be string, bytes or os.PathLike, not {}",
                type_name(value)
            ),
        )
    })
}

/// `|is_empty`: the file exists and has no bytes (false when it cannot be
/// examined).
fn is_empty(path: &Value) -> Result<bool, Error> {
    let path = path_of(path, "stat")?;
    Ok(fs::metadata(path).is_ok_and(|m| m.len() == 0))
}

/// The first `limit` bytes of a file.
fn head(path: &str, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut block = Vec::new();
    fs::File::open(path)?.take(limit).read_to_end(&mut block)?;
    Ok(block)
}

/// `|is_text_file(blocksize=512)`: the first block does not look binary
/// (false when the file cannot be read).
fn is_text_file(path: &Value, blocksize: Option<u64>, kwargs: Kwargs) -> Result<bool, Error> {
    let blocksize = positional_or_keyword(blocksize, &kwargs, "blocksize")?;
    let path = path_of(path, "open")?;
    Ok(head(&path, blocksize.unwrap_or(512)).is_ok_and(|block| !is_binary(&block)))
}

/// `|is_bin_file`: a regular file whose first 2048 bytes look binary.
fn is_bin_file(path: &Value) -> Result<bool, Error> {
    let path = path_of(path, "stat")?;
    if !Path::new(&path).is_file() {
        return Ok(false);
    }
    Ok(head(&path, 2048).is_ok_and(|block| is_binary(&block)))
}

/// Salt's `stringutils.is_binary`: a NUL byte, or more than 30% of bytes
/// outside printable ASCII and `\n\r\t\f\b` (bytes 128-254 count as text
/// when the data is UTF-8, possibly cut inside its last character).
fn is_binary(data: &[u8]) -> bool {
    if data.is_empty() {
        return false;
    }
    if data.contains(&0) {
        return true;
    }
    let utf8 = match std::str::from_utf8(data) {
        Ok(_) => true,
        // No error length: the data ends inside a character.
        Err(err) => err.error_len().is_none(),
    };
    let is_text = |b: u8| {
        (32..127).contains(&b)
            || b"\n\r\t\x0c\x08".contains(&b)
            || (utf8 && (128..255).contains(&b))
    };
    let nontext = data.iter().filter(|&&b| !is_text(b)).count();
    nontext as f64 / data.len() as f64 > 0.30
}

/// `|list_files`: the directory itself and every file and directory under
/// it (symbolic links listed, not followed), sorted. Salt returns them in
/// the order of a Python set, which changes from run to run.
fn list_files(directory: &Value) -> Result<Value, Error> {
    let directory = path_of(directory, "scandir")?;
    let mut found = vec![directory.clone()];
    walk(Path::new(&directory), &mut found);
    found.sort();
    found.dedup();
    Ok(Value::from(found))
}

/// Adds every entry under `dir` to `found` (unreadable directories are
/// skipped, as `os.walk` does).
fn walk(dir: &Path, found: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        found.push(path.to_string_lossy().into_owned());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, found);
        }
    }
}

/// `|file_hashsum(form='sha256')`: the hex digest of the file's bytes.
fn file_hashsum(path: &Value, form: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let form = positional_or_keyword(form, &kwargs, "form")?.unwrap_or_else(|| "sha256".into());
    let path = path_of(path, "open")?;
    if !["md5", "sha1", "sha256", "sha384", "sha512"].contains(&form.as_str()) {
        return Err(py_error("ValueError", format!("Invalid hash type: {form}")));
    }
    let bytes = fs::read(&path).map_err(|err| {
        let errno = err.raw_os_error().unwrap_or(0);
        let text = err.to_string();
        let reason = text.split(" (os error").next().unwrap_or(&text);
        py_error(
            "FileNotFoundError",
            format!("[Errno {errno}] {reason}: '{path}'"),
        )
    })?;
    digest(&form, &bytes)
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;
    use super::is_binary;

    fn render_in(dir: &std::path::Path, template: &str) -> String {
        render(&template.replace("DIR", &dir.display().to_string()))
    }

    #[test]
    fn binary_detection_is_salts() {
        assert!(!is_binary(b""));
        assert!(is_binary(b"a\0b"));
        assert!(!is_binary("ünïcode text".as_bytes()));
        assert!(!is_binary(&"€".as_bytes()[..2]), "cut inside a character");
        assert!(is_binary(&[0xff, 0xfe, b'a']));
        assert!(!is_binary(&[b'a', b'b', b'c', 0x01]), "25% is not enough");
    }

    #[test]
    fn file_predicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("empty"), "").expect("write");
        std::fs::write(dir.path().join("text"), "hello\n").expect("write");
        std::fs::write(dir.path().join("bin"), [0u8, 1, 2]).expect("write");
        let out = render_in(
            dir.path(),
            "{{ 'DIR/empty'|is_empty }} {{ 'DIR/text'|is_empty }} {{ 'DIR/none'|is_empty }} \
             {{ 'DIR/text'|is_text_file }} {{ 'DIR/bin'|is_text_file }} {{ 'DIR/empty'|is_text_file }} \
             {{ 'DIR/none'|is_text_file }} {{ 'DIR/bin'|is_bin_file }} {{ 'DIR/text'|is_bin_file }} \
             {{ 'DIR'|is_bin_file }}",
        );
        assert_eq!(
            out,
            "True False False True False True False True False False"
        );
    }

    #[test]
    fn list_files_walks_the_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/f"), "x").expect("write");
        std::fs::write(dir.path().join("a"), "x").expect("write");
        let out = render_in(dir.path(), "{{ 'DIR'|list_files|join(',') }}");
        let d = dir.path().display();
        assert_eq!(out, format!("{d},{d}/a,{d}/sub,{d}/sub/f"));
        assert_eq!(
            render("{{ '/nonexistent'|list_files }}"),
            "['/nonexistent']"
        );
    }

    #[test]
    fn file_hashsum_digests_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("f"), "salt").expect("write");
        let out = render_in(
            dir.path(),
            "{{ 'DIR/f'|file_hashsum }} {{ 'DIR/f'|file_hashsum('md5') }}",
        );
        assert_eq!(
            out,
            "63479ad69a090b258277ec8fba6f99419a2ffb248981510657c944ccd1148e97 \
             ceb20772e0c9d240c75eb26b0e37abee"
        );
        let err = render_in(dir.path(), "{{ 'DIR/f'|file_hashsum('crc') }}");
        assert!(err.contains("ValueError: Invalid hash type: crc"), "{err}");
        let err = render("{{ '/nonexistent'|file_hashsum }}");
        assert!(
            err.contains("[Errno 2] No such file or directory: '/nonexistent'"),
            "{err}"
        );
    }
}
