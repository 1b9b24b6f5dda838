//! Salt's `sysctl.present`: a kernel parameter set now and persisted, via
//! `sysctl.get` and `sysctl.persist`.

use serde_json::json;

use super::{call, changed, name_of, one, pending, str_of, text};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("sysctl.present", present);
}

/// Kernel values print tabs between fields; compare them word by word.
fn same(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let Some(value) = str_of(c.chunk, "value") else {
        return StateResult::fail(name, "sysctl.present needs a value");
    };
    let run = || -> Result<StateResult, String> {
        if c.test {
            let current = text(&call(c.host, "sysctl.get", vec![json!(name)], &[])?);
            if same(&current, &value) {
                return Ok(StateResult::ok(
                    name,
                    format!("Sysctl value {name} = {value} is already set"),
                ));
            }
            let msg = format!("Sysctl option {name} set to be changed to {value}");
            return Ok(pending(name, msg, Default::default()));
        }
        let config = c
            .chunk
            .arg("config")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let out = text(&call(
            c.host,
            "sysctl.persist",
            vec![json!(name), json!(value)],
            &[("config", config)],
        )?);
        Ok(match out.as_str() {
            "Already set" => StateResult::ok(
                name,
                format!("Sysctl value {name} = {value} is already set"),
            ),
            _ => changed(
                name,
                format!("Updated sysctl value {name} = {value}"),
                one(name, json!(value)),
            ),
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    #[test]
    fn present_predicts_and_persists() {
        let h = MockHost::new(|f, _, _| match f {
            "sysctl.get" => Ok(json!("0")),
            "sysctl.persist" => Ok(json!("Updated")),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "sysctl",
            "present",
            "net.ipv4.ip_forward",
            json!({"value": 1}),
        );
        assert_eq!(
            run(present, &h, &ch, true).comment,
            "Sysctl option net.ipv4.ip_forward set to be changed to 1"
        );
        let r = run(present, &h, &ch, false);
        assert_eq!(r.changes["net.ipv4.ip_forward"], json!("1"));
    }
}
