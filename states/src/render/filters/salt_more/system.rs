//! Salt's filters and globals about the host and its identity: `get_uid`
//! (`salt/utils/user.py`), `which` (`salt/utils/path.py`), `hmac`
//! (`salt/utils/hashutils.py`), `gen_mac`, `mac_str_to_bytes` and
//! `dns_check` (`salt/utils/network.py`), and the globals `raise`
//! (`salt/utils/jinja.py`) and `ifelse` (`salt/modules/match.py`).

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use base64::Engine as _;
use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::pyrandom::PyRandom;
use super::{py_error, type_name};
use crate::render::filters::positional_or_keyword;

/// Adds the host filters and the globals to `env`.
pub(super) fn register(env: &mut Environment<'_>) {
    env.add_filter("get_uid", get_uid);
    env.add_filter("which", which);
    env.add_filter("hmac", hmac);
    env.add_filter("gen_mac", gen_mac);
    env.add_filter("mac_str_to_bytes", mac_str_to_bytes);
    env.add_filter("dns_check", dns_check);
    env.add_function("raise", |message: Value| -> Result<Value, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, message.to_string()))
    });
    env.add_function("ifelse", ifelse);
}

/// `|get_uid`: the uid of the named user from the password database, the
/// effective uid for `None`, `None` for an unknown user.
fn get_uid(user: &Value) -> Result<Value, Error> {
    if user.is_none() || user.is_undefined() {
        return Ok(effective_uid().map_or(Value::from(()), Value::from));
    }
    let Some(name) = user.as_str().filter(|_| user.kind() == ValueKind::String) else {
        return Err(py_error(
            "TypeError",
            format!("getpwnam(): argument must be str, not {}", type_name(user)),
        ));
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Ok(passwd_uid(&passwd, name).map_or(Value::from(()), Value::from))
}

/// The uid of `name` in `/etc/passwd` text.
fn passwd_uid(passwd: &str, name: &str) -> Option<u32> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// The effective uid, from `/proc/self/status` (its `Uid:` line lists the
/// real, effective, saved and filesystem uids).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// `|which`: the program itself when it names an executable file, else the
/// first executable `<dir>/<program>` in `PATH` and the usual system
/// directories; `None` when there is none.
fn which(program: &Value) -> Result<Value, Error> {
    if !program.is_true() {
        return Ok(Value::from(()));
    }
    let program = program
        .as_str()
        .map_or_else(|| program.to_string(), str::to_owned);
    Ok(
        brine_common::path::which(&program).map_or(Value::from(()), |p| {
            Value::from(p.to_string_lossy().into_owned())
        }),
    )
}

/// `|hmac(shared_secret, challenge_hmac)`: whether the challenge is the
/// base64 HMAC-SHA256 of the text under the secret.
fn hmac(text: String, secret: String, challenge: String) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signature = ring::hmac::sign(&key, text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(signature.as_ref()) == challenge
}

/// `|gen_mac`: the prefix (an OUI such as `AC:DE:48`) and three random
/// bytes, in upper-case hex.
fn gen_mac(prefix: &Value) -> String {
    let prefix = prefix
        .as_str()
        .map_or_else(|| prefix.to_string(), str::to_owned);
    let mut rng = PyRandom::from_entropy();
    let mut mac = prefix;
    for _ in 0..3 {
        mac.push_str(&format!(":{:02X}", rng.randint(0, 0xff)));
    }
    mac
}

/// `|mac_str_to_bytes`: the six bytes of `08:00:27:13:69:77` (any
/// separator) or `080027136977`.
fn mac_str_to_bytes(mac: String) -> Result<Value, Error> {
    let chars: Vec<char> = mac.chars().collect();
    let digits: Vec<char> = match chars.len() {
        12 => chars,
        17 => {
            let separator = chars[2];
            chars.into_iter().filter(|&c| c != separator).collect()
        }
        _ => return Err(py_error("ValueError", "Invalid MAC address")),
    };
    let mut bytes = Vec::with_capacity(6);
    for start in (0..12).step_by(2) {
        let pair: String = digits
            .get(start..start + 2)
            .unwrap_or_default()
            .iter()
            .collect();
        let byte = u8::from_str_radix(pair.trim(), 16).map_err(|_| {
            py_error(
                "ValueError",
                format!("invalid literal for int() with base 16: '{pair}'"),
            )
        })?;
        bytes.push(byte);
    }
    Ok(Value::from_bytes(bytes))
}

/// `|dns_check(port, safe=False, ipv6=None)`: the first address of the
/// host that accepts a TCP connection on `port` (else the first address),
/// IPv6 in brackets.
fn dns_check(
    host: String,
    port: u16,
    safe: Option<bool>,
    ipv6: Option<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let ipv6_keyword: Option<Value> = kwargs.get("ipv6")?;
    let _safe = positional_or_keyword(safe, &kwargs, "safe")?;
    let family = match ipv6_keyword.or(ipv6) {
        Some(v) if v.is_none() => None,
        Some(v) => Some(v.is_true()),
        None => None,
    };
    let resolved: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map(|addrs| {
            addrs
                .filter(|a| family.is_none_or(|v6| a.is_ipv6() == v6))
                .collect()
        })
        .unwrap_or_default();
    let reachable = resolved
        .iter()
        .find(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok());
    let Some(addr) = reachable.or(resolved.first()) else {
        return Err(py_error(
            "SaltSystemExit",
            format!("DNS lookup or connection check of '{host}' failed."),
        ));
    };
    Ok(match addr.ip() {
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    })
}

/// The `ifelse(matcher, value, ..., default)` global as Salt 3008.5 has
/// it: Salt registers `match.ifelse` without the loader's `__context__`,
/// so every call that has to match a target fails; only the one-argument
/// form (the default alone) and the odd-count check work.
fn ifelse(args: Rest<Value>) -> Result<Value, Error> {
    match args.len() {
        1 => Ok(args[0].clone()),
        n if n % 2 == 0 => Err(py_error(
            "SaltException",
            "The ifelse function must have an odd number of arguments!",
        )),
        _ => Err(py_error("NameError", "name '__context__' is not defined")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;
    use super::*;

    #[test]
    fn uid_lookups() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nsalt:x:998:997::/:/sbin/nologin\n";
        assert_eq!(passwd_uid(passwd, "salt"), Some(998));
        assert_eq!(passwd_uid(passwd, "sal"), None);
        assert_eq!(render("{{ 'root'|get_uid }}"), "0");
        assert_eq!(render("{{ 'no-such-user-here'|get_uid }}"), "None");
        assert!(render("{{ none|get_uid }}").parse::<u32>().is_ok());
        let err = render("{{ 5|get_uid }}");
        assert!(err.contains("argument must be str, not int"), "{err}");
    }

    #[test]
    fn which_searches_path_then_system_dirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").expect("write");
        std::fs::write(dir.path().join("plain"), "").expect("write");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = format!("/nonexistent:{}", dir.path().display());
        let find = |program: &str, path: &str| brine_common::path::which_in(program, Some(path));
        assert_eq!(find("tool", &path), Some(tool.clone()));
        assert_eq!(find("plain", &path), None);
        assert!(find("sh", "").is_some_and(|p| p.ends_with("sh")));
        assert_eq!(find(&tool.display().to_string(), ""), Some(tool));
        assert_eq!(render("{{ ''|which }}"), "None");
    }

    #[test]
    fn hmac_checks_a_base64_signature() {
        // base64.b64encode(hmac.new(b'secret', b'salt', hashlib.sha256).digest())
        let out = render(
            "{{ 'salt'|hmac('secret', 'hoVxX2132GWCjsm3bNMpI+Ooszpn2oRRM+IEMU9rsQs=') }} \
             {{ 'salt'|hmac('secret', 'x') }}",
        );
        assert_eq!(out, "True False");
    }

    #[test]
    fn mac_addresses() {
        assert_eq!(
            render("{{ '08:00:27:13:69:77'|mac_str_to_bytes == '080027136977'|mac_str_to_bytes }}"),
            "True"
        );
        let bytes = mac_str_to_bytes("08-00-27-13-69-77".into()).expect("a MAC address");
        assert_eq!(bytes.as_bytes(), Some(&[8u8, 0, 39, 19, 105, 119][..]));
        let err = render("{{ 'abc'|mac_str_to_bytes }}");
        assert!(err.contains("ValueError: Invalid MAC address"), "{err}");
        let err = render("{{ 'zz0027136977'|mac_str_to_bytes }}");
        assert!(
            err.contains("invalid literal for int() with base 16: 'zz'"),
            "{err}"
        );
        let mac = render("{{ '52:54:00'|gen_mac }}");
        assert_eq!(mac.len(), 17, "{mac}");
        assert!(mac.starts_with("52:54:00:"), "{mac}");
    }

    #[test]
    fn dns_check_on_the_loopback_address() {
        // No name service or outside traffic: a literal loopback address.
        assert_eq!(render("{{ '127.0.0.1'|dns_check(1) }}"), "127.0.0.1");
        assert_eq!(render("{{ '::1'|dns_check(1) }}"), "[::1]");
        let err = render("{{ '127.0.0.1'|dns_check(1, ipv6=True) }}");
        assert!(
            err.contains("DNS lookup or connection check of '127.0.0.1' failed."),
            "{err}"
        );
    }

    #[test]
    fn raise_fails_the_render_with_the_message() {
        let err = render("{{ raise('custom failure') }}");
        assert!(err.contains("custom failure"), "{err}");
    }

    #[test]
    fn ifelse_is_salts_broken_global() {
        assert_eq!(render("{{ ifelse('default') }}"), "default");
        let err = render("{{ ifelse('*', 1) }}");
        assert!(
            err.contains("must have an odd number of arguments!"),
            "{err}"
        );
        let err = render("{{ ifelse('*', 1, 2) }}");
        assert!(
            err.contains("NameError: name '__context__' is not defined"),
            "{err}"
        );
    }
}
