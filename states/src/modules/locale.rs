//! Salt's `locale` states: `system` (the system locale) and `present` (a
//! generated locale), through `locale.get_locale`/`set_locale` and
//! `locale.avail`/`gen_locale`.

use serde_json::{Map, json};

use super::{call, changed, name_of, one, pending, text, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("locale.system", system);
    m.register("locale.present", present);
}

/// `locale.system`: the system locale is `name`.
fn system(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let current = match call(c.host, "locale.get_locale", vec![], &[]) {
        Ok(v) => text(&v),
        Err(e) => return StateResult::fail(name, format!("Failed to set system locale: {e}")),
    };
    if current == name {
        return StateResult::ok(name, format!("System locale {name} already set"));
    }
    if c.test {
        return pending(
            name,
            format!("System locale {name} needs to be set"),
            Map::new(),
        );
    }
    match call(c.host, "locale.set_locale", vec![json!(name)], &[]) {
        Ok(v) if truthy(&v) => changed(
            name,
            format!("Set system locale {name}"),
            one("locale", json!(name)),
        ),
        Ok(_) => StateResult::fail(name, format!("Failed to set system locale to {name}")),
        Err(e) => StateResult::fail(name, format!("Failed to set system locale: {e}")),
    }
}

/// `locale.present`: the locale `name` is generated.
fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        if truthy(&call(c.host, "locale.avail", vec![json!(name)], &[])?) {
            return Ok(StateResult::ok(
                name,
                format!("Locale {name} is already present"),
            ));
        }
        if c.test {
            return Ok(pending(
                name,
                format!("Locale {name} needs to be generated"),
                Map::new(),
            ));
        }
        Ok(
            if truthy(&call(c.host, "locale.gen_locale", vec![json!(name)], &[])?) {
                changed(
                    name,
                    format!("Generated locale {name}"),
                    one("locale", json!(name)),
                )
            } else {
                StateResult::fail(name, format!("Failed to generate locale {name}"))
            },
        )
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn locale_host() -> MockHost {
        MockHost::new(|f, args, _| match f {
            "locale.get_locale" => Ok(json!("")),
            "locale.avail" => Ok(json!(args.first() == Some(&json!("C.UTF-8")))),
            "locale.set_locale" | "locale.gen_locale" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn system_predicts_then_sets_the_locale() {
        let h = locale_host();
        let ch = chunk("locale", "system", "en_US.UTF-8", json!({}));
        let r = run(system, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "System locale en_US.UTF-8 needs to be set");
        let r = run(system, &h, &ch, false);
        assert_eq!(r.comment, "Set system locale en_US.UTF-8");
        assert_eq!(r.changes["locale"], json!("en_US.UTF-8"));
    }

    #[test]
    fn present_generates_only_missing_locales() {
        let h = locale_host();
        let have = chunk("locale", "present", "C.UTF-8", json!({}));
        assert_eq!(
            run(present, &h, &have, true).comment,
            "Locale C.UTF-8 is already present"
        );
        let want = chunk("locale", "present", "de_DE.UTF-8 UTF-8", json!({}));
        let r = run(present, &h, &want, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "Locale de_DE.UTF-8 UTF-8 needs to be generated");
        assert!(!h.called("locale.gen_locale"));
        let r = run(present, &h, &want, false);
        assert_eq!(r.comment, "Generated locale de_DE.UTF-8 UTF-8");
    }
}
