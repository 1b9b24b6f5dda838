//! `file.join`, `file.basename` and `file.dirname`: Python's `os.path`
//! functions on POSIX paths, as formulas call them while rendering. Pure:
//! the minion and the master register the same functions.

use crate::functions::{Call, FnError, FnOutput, Functions};
use serde_json::Value;

use crate::output::python::python_type;

pub fn register<C: Send + 'static>(f: &mut Functions<C>) {
    f.register("file.join", "a, *p", JOIN_DOC, |_: C, call| async move {
        join(&call)
    });
    f.register(
        "file.basename",
        "path",
        BASENAME_DOC,
        |_: C, call| async move {
            let path = path_arg(&call)?;
            Ok(Value::String(basename(path).to_string()).into())
        },
    );
    f.register(
        "file.dirname",
        "path",
        DIRNAME_DOC,
        |_: C, call| async move {
            let path = path_arg(&call)?;
            Ok(Value::String(dirname(path).to_string()).into())
        },
    );
}

const JOIN_DOC: &str = "Return a normalized file system path for the underlying OS\n\nThis can be useful at the CLI but is frequently useful when scripting\ncombining path variables:\n\n    {% set www_root = '/var' %}\n    {% set app_dir = 'myapp' %}\n\n    myapp_config:\n      file:\n        - managed\n        - name: {{ salt['file.join'](www_root, app_dir, 'config.yaml') }}\n\nCLI Example:\n\n    brine '*' file.join '/' 'usr' 'local' 'bin'";
const BASENAME_DOC: &str = "Returns the final component of a pathname\n\nCLI Example:\n\n    brine '*' file.basename 'test/test.config'";
const DIRNAME_DOC: &str = "Returns the directory component of a pathname\n\nCLI Example:\n\n    brine '*' file.dirname 'test/path/filename.config'";

/// Python's `TypeError` for a path that is not a string.
fn not_a_path(value: &Value) -> FnError {
    FnError::Type(format!(
        "expected str, bytes or os.PathLike object, not {}",
        python_type(value)
    ))
}

fn path_arg(call: &Call) -> Result<&str, FnError> {
    match call.param(0, "path") {
        Some(Value::String(path)) => Ok(path),
        other => Err(not_a_path(other.unwrap_or(&Value::Null))),
    }
}

/// `os.path.join(a, *p)`: an absolute part starts over.
fn join(call: &Call) -> Result<FnOutput, FnError> {
    let mut parts = call.args.iter();
    let mut path = match call.param(0, "a") {
        Some(Value::String(first)) => {
            parts.next();
            first.clone()
        }
        other => return Err(not_a_path(other.unwrap_or(&Value::Null))),
    };
    for part in parts {
        let Value::String(part) = part else {
            return Err(FnError::Type(format!(
                "join() argument must be str, bytes, or os.PathLike object, not '{}'",
                python_type(part)
            )));
        };
        if part.starts_with('/') {
            path.clone_from(part);
        } else if path.is_empty() || path.ends_with('/') {
            path.push_str(part);
        } else {
            path.push('/');
            path.push_str(part);
        }
    }
    Ok(Value::String(path).into())
}

/// `os.path.basename`: everything after the last `/`.
fn basename(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// `os.path.dirname`: everything before the last `/`, trailing slashes
/// dropped unless it is all slashes.
fn dirname(path: &str) -> &str {
    let head = path.rfind('/').map_or("", |at| &path[..=at]);
    if head.chars().all(|c| c == '/') {
        head
    } else {
        head.trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn call(args: Vec<Value>) -> Call {
        Call {
            fun: "file.join".into(),
            args,
            kwargs: Map::new(),
        }
    }

    #[test]
    fn join_like_python() {
        let joined = |args: Vec<Value>| join(&call(args)).map(|o| o.ret);
        assert_eq!(
            joined(vec![json!("/a"), json!("b"), json!("c")]),
            Ok(json!("/a/b/c"))
        );
        assert_eq!(
            joined(vec![json!("a"), json!("/b"), json!("c")]),
            Ok(json!("/b/c"))
        );
        assert_eq!(joined(vec![json!("a/"), json!("b")]), Ok(json!("a/b")));
        assert_eq!(joined(vec![json!(""), json!("b")]), Ok(json!("b")));
        assert_eq!(
            joined(vec![json!("/a"), json!(1)]),
            Err(FnError::Type(
                "join() argument must be str, bytes, or os.PathLike object, not 'int'".into()
            ))
        );
        assert_eq!(
            joined(vec![json!(1)]),
            Err(FnError::Type(
                "expected str, bytes or os.PathLike object, not int".into()
            ))
        );
    }

    #[test]
    fn basename_and_dirname_like_python() {
        assert_eq!(basename("/x/y.conf"), "y.conf");
        assert_eq!(basename("/x/"), "");
        assert_eq!(basename("y"), "y");
        assert_eq!(dirname("/x/y.conf"), "/x");
        assert_eq!(dirname("y.conf"), "");
        assert_eq!(dirname("/"), "/");
        assert_eq!(dirname("//a"), "//");
        assert_eq!(dirname("/a//b"), "/a");
        assert_eq!(dirname("a/"), "a");
    }
}
