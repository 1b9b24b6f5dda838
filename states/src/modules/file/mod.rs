//! Salt's `file` states: `file.managed`, `file.directory`, `file.absent`,
//! links, copies, and the line editors (`line`, `replace`, `blockreplace`,
//! `comment`, `append`...).
//!
//! Every read and write of the host goes through the minion's `file.*`
//! execution functions: `file.stats` to look, `file.manage_contents` to put
//! bytes in place (with Salt's diff), `file.chown`/`file.set_mode` for
//! ownership, `file.replace`/`file.line`/`file.blockreplace` (with
//! `dry_run` in test mode) for edits.

mod edit;
pub(crate) mod managed;
pub(crate) mod paths;
pub(crate) mod perms;
mod recurse;
mod remote;
mod serialize;

use crate::lowstate::StateModules;

pub fn register(m: &mut StateModules) {
    m.register("file.managed", managed::managed);
    m.register("file.serialize", serialize::serialize);
    m.register("file.directory", paths::directory);
    m.register("file.absent", paths::absent);
    m.register("file.exists", paths::exists);
    m.register("file.missing", paths::missing);
    m.register("file.symlink", paths::symlink);
    m.register("file.touch", paths::touch);
    m.register("file.copy", paths::copy);
    m.register("file.rename", paths::rename);
    m.register("file.replace", edit::replace);
    m.register("file.line", edit::line);
    m.register("file.blockreplace", edit::blockreplace);
    m.register("file.comment", edit::comment);
    m.register("file.uncomment", edit::uncomment);
    m.register("file.append", edit::append);
    m.register("file.prepend", edit::prepend);
    m.register("file.keyvalue", edit::keyvalue);
    m.register("file.recurse", recurse::recurse);
}

/// Salt refuses relative paths in every file state.
fn absolute_error(name: &str) -> Option<String> {
    (!name.starts_with('/')).then(|| format!("Specified file {name} is not an absolute path"))
}

#[cfg(test)]
mod tests;
