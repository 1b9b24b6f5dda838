//! `postgres_extension.present` and `postgres_extension.absent`: an
//! extension installed (in a schema, at a version) in `maintenance_db`.

use serde_json::{Map, Value, json};

use super::{AbsentTexts, absent_flow, db_args, with_db_args};
use crate::lowstate::{StateCall, StateModules, StateResult};
use crate::modules::{arg, call, changed, name_of, one, pending, strings, truthy};

pub fn register(m: &mut StateModules) {
    m.register("postgres_extension.present", present);
    m.register("postgres_extension.absent", absent);
}

/// `create_metadata`'s flags (Salt's `_EXTENSION_*` constants).
const NOT_INSTALLED: &str = "EXTENSION NOT INSTALLED";
const INSTALLED: &str = "EXTENSION INSTALLED";
const TO_UPGRADE: &str = "EXTENSION TO UPGRADE";
const TO_MOVE: &str = "EXTENSION TO MOVE";

/// What to do with the extension, by its `create_metadata` flags: `None`
/// when it is there as wanted.
fn mode(flags: &[String]) -> Option<&'static str> {
    let has = |flag: &str| flags.iter().any(|f| f == flag);
    if has(NOT_INSTALLED) {
        Some("install")
    } else if has(INSTALLED) && (has(TO_MOVE) || has(TO_UPGRADE)) {
        Some("upgrade")
    } else {
        None
    }
}

/// "install" -> "installed", "upgrade" -> "upgraded".
fn past(mode: &str) -> String {
    if mode.ends_with('e') {
        format!("{mode}d")
    } else {
        format!("{mode}ed")
    }
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        let wanted = vec![
            ("schema", arg(c.chunk, "schema")),
            ("ext_version", arg(c.chunk, "ext_version")),
        ];
        let flags = call(
            c.host,
            "postgres.create_metadata",
            vec![json!(name)],
            &with_db_args(c, wanted),
        )?;
        let Some(mode) = mode(&strings(&flags)) else {
            return Ok(StateResult::ok(
                name,
                format!("Extension {name} is already present"),
            ));
        };
        let done = past(mode);
        if c.test {
            return Ok(pending(
                name,
                format!("Extension {name} is set to be {done}"),
                Map::new(),
            ));
        }
        let create_args = vec![
            ("name", json!(name)),
            ("if_not_exists", arg(c.chunk, "if_not_exists")),
            ("schema", arg(c.chunk, "schema")),
            ("ext_version", arg(c.chunk, "ext_version")),
            ("from_version", arg(c.chunk, "from_version")),
        ];
        let created = call(
            c.host,
            "postgres.create_extension",
            vec![],
            &with_db_args(c, create_args),
        )?;
        Ok(if truthy(&created) {
            let mut label = done.clone();
            label[..1].make_ascii_uppercase();
            changed(
                name,
                format!("The extension {name} has been {done}"),
                one(name, Value::String(label)),
            )
        } else {
            StateResult::fail(name, format!("Failed to {mode} extension {name}"))
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let texts = AbsentTexts {
        not_present: format!("Extension {name} is not present, so it cannot be removed"),
        to_remove: format!("Extension {name} is set to be removed"),
        removed: format!("Extension {name} has been removed"),
        failed: format!("Extension {name} failed to be removed"),
    };
    let drop_args = vec![
        ("if_exists", arg(c.chunk, "if_exists")),
        ("restrict", arg(c.chunk, "restrict")),
        ("cascade", arg(c.chunk, "cascade")),
    ];
    absent_flow(
        c,
        ("postgres.is_installed_extension", &db_args(c)),
        ("postgres.drop_extension", &with_db_args(c, drop_args)),
        vec![json!(name)],
        texts,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn host(flags: Value) -> MockHost {
        MockHost::new(move |f, _, _| match f {
            "postgres.create_metadata" => Ok(flags.clone()),
            "postgres.is_installed_extension" => Ok(json!(
                flags
                    .as_array()
                    .is_some_and(|a| a.contains(&json!(INSTALLED)))
            )),
            "postgres.create_extension" | "postgres.drop_extension" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn missing_extension_is_set_to_be_installed() {
        let h = host(json!([NOT_INSTALLED]));
        let ch = chunk(
            "postgres_extension",
            "present",
            "uuid-ossp",
            json!({"schema": "uuid-ossp", "maintenance_db": "db1", "user": "postgres"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "Extension uuid-ossp is set to be installed");
        let meta = &h.calls_to("postgres.create_metadata")[0];
        assert_eq!(meta.kwargs["maintenance_db"], json!("db1"));
        assert_eq!(meta.kwargs["schema"], json!("uuid-ossp"));
        let r = run(present, &h, &ch, false);
        assert_eq!(r.comment, "The extension uuid-ossp has been installed");
        assert_eq!(r.changes["uuid-ossp"], json!("Installed"));
    }

    #[test]
    fn installed_extension_upgrades_or_stays() {
        let ch = chunk(
            "postgres_extension",
            "present",
            "hstore",
            json!({"ext_version": "2"}),
        );
        let h = host(json!([INSTALLED, TO_UPGRADE]));
        assert_eq!(
            run(present, &h, &ch, true).comment,
            "Extension hstore is set to be upgraded"
        );
        assert_eq!(
            run(present, &h, &ch, false).changes["hstore"],
            json!("Upgraded")
        );
        let h = host(json!([INSTALLED]));
        assert_eq!(
            run(present, &h, &ch, true).comment,
            "Extension hstore is already present"
        );
    }

    #[test]
    fn absent_extension() {
        let ch = chunk("postgres_extension", "absent", "hstore", json!({}));
        assert_eq!(
            run(absent, &host(json!([NOT_INSTALLED])), &ch, true).comment,
            "Extension hstore is not present, so it cannot be removed"
        );
        let h = host(json!([INSTALLED]));
        assert_eq!(
            run(absent, &h, &ch, true).comment,
            "Extension hstore is set to be removed"
        );
        assert_eq!(
            run(absent, &h, &ch, false).changes["hstore"],
            json!("Absent")
        );
    }
}
