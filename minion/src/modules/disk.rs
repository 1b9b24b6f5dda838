//! Salt's `disk` execution module: filesystem usage from `df -P`, keyed by
//! mount point, with Salt's field names (`filesystem`, `1K-blocks`, `used`,
//! `available`, `capacity`).

use std::path::Path;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::HostCmd;

/// The `df` flags Salt lets through (`_clean_flags`).
const ALLOWED_FLAGS: &[char] = &['a', 'B', 'h', 'H', 'i', 'k', 'l', 'P', 't', 'T', 'x', 'v'];

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register("disk.usage", "args=None", USAGE_DOC, |_, call| async move {
        usage(&call).await
    });
}

/// The flags as one `-xyz` word (empty when none), refusing anything else.
fn clean_flags(args: Option<&Value>) -> Result<String, FnError> {
    let chars: Vec<char> = match args {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.chars().collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(
                |i| match i.as_str().map(|s| s.chars().collect::<Vec<_>>()) {
                    Some(c) if c.len() == 1 => Ok(c[0]),
                    _ => Err(FnError::Execution(
                        "Invalid flag passed to disk.usage".into(),
                    )),
                },
            )
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(FnError::Execution(
                "Invalid flag passed to disk.usage".into(),
            ));
        }
    };
    if chars.iter().any(|c| !ALLOWED_FLAGS.contains(c)) {
        return Err(FnError::Execution(
            "Invalid flag passed to disk.usage".into(),
        ));
    }
    Ok(chars.into_iter().collect())
}

async fn usage(call: &Call) -> Result<FnOutput, FnError> {
    let flags = clean_flags(call.param(0, "args"))?;
    if !Path::new("/etc/mtab").is_file() {
        tracing::error!("df cannot run without /etc/mtab");
        return Ok(json!({}).into());
    }
    let mut cmd = HostCmd::new("df").arg("-P");
    if !flags.is_empty() {
        cmd = cmd.arg(format!("-{flags}"));
    }
    // df exits 1 when one filesystem cannot be read but still prints the rest.
    let out = cmd.output().await?;
    if !out.success() && out.stdout.trim().is_empty() {
        return Err(FnError::Execution(out.failure_message()));
    }
    Ok(Value::Object(parse_df(&out.stdout)).into())
}

/// Parse `df -P` output: `{mountpoint: {filesystem, 1K-blocks, used,
/// available, capacity}}`. A filesystem name with spaces, or one printed on
/// a line of its own, is put back together.
pub fn parse_df(out: &str) -> Map<String, Value> {
    let mut ret = Map::new();
    let mut pending: Option<String> = None;
    for line in out.lines() {
        if line.is_empty() || line.starts_with("Filesystem") {
            continue;
        }
        let line = match pending.take() {
            Some(prev) => format!("{prev} {line}"),
            None => line.to_string(),
        };
        let mut comps: Vec<String> = line.split_whitespace().map(String::from).collect();
        if comps.len() == 1 {
            pending = Some(line);
            continue;
        }
        while comps.len() >= 2 && !comps[1].starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            let joined = format!("{} {}", comps[0], comps[1]);
            comps[0] = joined;
            comps.remove(1);
        }
        if comps.len() < 6 {
            tracing::error!("Problem parsing disk usage information: {line:?}");
            continue;
        }
        ret.insert(
            comps[5..].join(" "),
            json!({
                "filesystem": comps[0],
                "1K-blocks": comps[1],
                "used": comps[2],
                "available": comps[3],
                "capacity": comps[4],
            }),
        );
    }
    ret
}

const USAGE_DOC: &str = "Return usage information for volumes mounted on this minion\n\nargs\n    Extra ``df`` flags, out of ``aBhHiklPtTxv`` (a string or a list).\n\nReturns ``{mountpoint: {filesystem, 1K-blocks, used, available, capacity}}``.\n\nCLI Example:\n\n    brine '*' disk.usage";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_output() {
        let out = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n\
                   /dev/sda1         41152736  20000000  19000000      52% /\n\
                   tmpfs               819200         0    819200       0% /run/user/0\n\
                   my volume          1000       100       900      10% /mnt/my disk\n\
                   /dev/mapper/very-long-name-that-wraps\n\
                   1000 1 999 1% /data\n";
        let ret = parse_df(out);
        assert_eq!(
            ret["/"],
            json!({"filesystem": "/dev/sda1", "1K-blocks": "41152736", "used": "20000000", "available": "19000000", "capacity": "52%"})
        );
        assert_eq!(ret["/mnt/my disk"]["filesystem"], json!("my volume"));
        assert_eq!(
            ret["/data"]["filesystem"],
            json!("/dev/mapper/very-long-name-that-wraps")
        );
        assert_eq!(ret.len(), 4);
    }

    #[test]
    fn only_known_flags() {
        assert_eq!(clean_flags(None).expect("none"), "");
        assert_eq!(clean_flags(Some(&json!("ai"))).expect("ok"), "ai");
        assert_eq!(clean_flags(Some(&json!(["h"]))).expect("ok"), "h");
        assert!(clean_flags(Some(&json!("-o"))).is_err());
        assert!(clean_flags(Some(&json!("z"))).is_err());
    }
}
