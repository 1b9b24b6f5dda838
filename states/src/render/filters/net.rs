//! Salt's address filters (`salt/utils/network.py`): `is_ip`, `is_ipv4`,
//! `is_ipv6`, `ipaddr`, `ipv4`, `ipv6`, `network_size`, `network_hosts`,
//! `ipwrap`, `ip_host`, `filter_by_networks`. An entry is an address or an interface (`10.0.0.1/24`,
//! `10.0.0.1/255.255.255.0`), printed as Python's `ipaddress` prints it;
//! `options` (`private`, `loopback`, `public`, ...) use the address ranges
//! of Python 3.11's `ipaddress`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};

use super::{invalid, positional_or_keyword};

/// Adds the address filters to `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("is_ip", |v: &Value, o: Option<String>, kw: Kwargs| {
        let o = positional_or_keyword(o, &kw, "options")?;
        Ok::<_, Error>(is_version(v, None, o.as_deref()))
    });
    env.add_filter("is_ipv4", |v: &Value, o: Option<String>, kw: Kwargs| {
        let o = positional_or_keyword(o, &kw, "options")?;
        Ok::<_, Error>(is_version(v, Some(4), o.as_deref()))
    });
    env.add_filter("is_ipv6", |v: &Value, o: Option<String>, kw: Kwargs| {
        let o = positional_or_keyword(o, &kw, "options")?;
        Ok::<_, Error>(is_version(v, Some(6), o.as_deref()))
    });
    env.add_filter("ipv4", |v: &Value, o: Option<String>, kw: Kwargs| {
        let o = positional_or_keyword(o, &kw, "options")?;
        version_filter(v, 4, o.as_deref())
    });
    env.add_filter("ipv6", |v: &Value, o: Option<String>, kw: Kwargs| {
        let o = positional_or_keyword(o, &kw, "options")?;
        version_filter(v, 6, o.as_deref())
    });
    env.add_filter("ipaddr", |v: &Value, o: Option<String>, kw: Kwargs| {
        let o = positional_or_keyword(o, &kw, "options")?;
        ipaddr(v, o.as_deref())
    });
    env.add_filter("network_size", network_size);
    env.add_filter("network_hosts", network_hosts);
    env.add_filter("ipwrap", ipwrap);
    env.add_filter("ip_host", ip_host);
    env.add_filter("filter_by_networks", filter_by_networks);
}

/// An address, with a prefix length when written as an interface.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    addr: IpAddr,
    prefix: Option<u8>,
}

impl Entry {
    fn version(&self) -> u8 {
        if self.addr.is_ipv4() { 4 } else { 6 }
    }

    fn bits(&self) -> u8 {
        if self.addr.is_ipv4() { 32 } else { 128 }
    }

    /// Python's `str()` of the `ip_address` or `ip_interface`.
    fn display(&self) -> String {
        match self.prefix {
            Some(prefix) => format!("{}/{prefix}", self.addr),
            None => self.addr.to_string(),
        }
    }
}

/// Python's `ip_address(text)`, else `ip_interface(text)`.
fn parse(text: &str) -> Option<Entry> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(Entry { addr, prefix: None });
    }
    let (addr, mask) = text.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = if mask.bytes().all(|b| b.is_ascii_digit()) && !mask.is_empty() {
        mask.parse::<u8>().ok().filter(|p| *p <= bits)?
    } else if addr.is_ipv4() {
        netmask_prefix(mask.parse().ok()?)?
    } else {
        return None;
    };
    Some(Entry {
        addr,
        prefix: Some(prefix),
    })
}

/// The prefix length of a dotted netmask (or of a host mask, as Python accepts).
fn netmask_prefix(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) == 0 {
        return u8::try_from(ones).ok();
    }
    let zeros = bits.leading_zeros();
    (bits.checked_shl(zeros).unwrap_or(0) == u32::MAX << zeros)
        .then(|| u8::try_from(zeros).ok())
        .flatten()
}

fn in_v4(addr: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(addr) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(addr: Ipv6Addr, net: &str, prefix: u32) -> bool {
    let Ok(net) = net.parse::<Ipv6Addr>() else {
        return false;
    };
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(addr) & mask == u128::from(net) & mask
}

const V4_PRIVATE: [([u8; 4], u32); 14] = [
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 29),
    ([192, 0, 0, 170], 31),
    ([192, 0, 2, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([240, 0, 0, 0], 4),
    ([255, 255, 255, 255], 32),
];

const V6_PRIVATE: [(&str, u32); 10] = [
    ("::1", 128),
    ("::", 128),
    ("::ffff:0:0", 96),
    ("100::", 64),
    ("2001::", 23),
    ("2001:2::", 48),
    ("2001:db8::", 32),
    ("2001:10::", 28),
    ("fc00::", 7),
    ("fe80::", 10),
];

const V6_RESERVED: [(&str, u32); 15] = [
    ("::", 8),
    ("100::", 8),
    ("200::", 7),
    ("400::", 6),
    ("800::", 5),
    ("1000::", 4),
    ("4000::", 3),
    ("6000::", 3),
    ("8000::", 3),
    ("a000::", 3),
    ("c000::", 3),
    ("e000::", 4),
    ("f000::", 5),
    ("f800::", 6),
    ("fe00::", 9),
];

fn is_private(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => V4_PRIVATE.iter().any(|(n, p)| in_v4(a, *n, *p)),
        IpAddr::V6(a) => V6_PRIVATE.iter().any(|(n, p)| in_v6(a, n, *p)),
    }
}

/// One of Salt's `options` names applied to an address; `None` for a name
/// Salt does not know (it ignores those).
fn option_holds(option: &str, addr: IpAddr) -> Option<bool> {
    Some(match option {
        "global" | "public" => !is_private(addr),
        "private" => is_private(addr),
        "link-local" | "linklocal" | "ll" | "link_local" => match addr {
            IpAddr::V4(a) => a.is_link_local(),
            IpAddr::V6(a) => in_v6(a, "fe80::", 10),
        },
        "loopback" | "lo" => addr.is_loopback(),
        "multicast" => addr.is_multicast(),
        "reserved" => match addr {
            IpAddr::V4(a) => in_v4(a, [240, 0, 0, 0], 4),
            IpAddr::V6(a) => V6_RESERVED.iter().any(|(n, p)| in_v6(a, n, *p)),
        },
        "site-local" | "sl" | "site_local" => match addr {
            IpAddr::V4(_) => false,
            IpAddr::V6(a) => in_v6(a, "fec0::", 10),
        },
        "unspecified" => addr.is_unspecified(),
        _ => return None,
    })
}

/// Salt's `_is_ipv`: the entry as Python prints it when it parses, has
/// the version (any when `None`) and passes every option.
fn check(value: &Value, version: Option<u8>, options: Option<&str>) -> Option<String> {
    let entry = parse(value.as_str()?)?;
    if version.is_some_and(|v| v != entry.version()) {
        return None;
    }
    let passes = options
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .all(|o| option_holds(o, entry.addr) != Some(false));
    passes.then(|| entry.display())
}

fn is_version(value: &Value, version: Option<u8>, options: Option<&str>) -> bool {
    match version {
        Some(v) => check(value, Some(v), options).is_some(),
        None => [4, 6]
            .iter()
            .any(|v| check(value, Some(*v), options).is_some()),
    }
}

fn is_list(value: &Value) -> bool {
    value.kind() == ValueKind::Seq
}

/// Salt's `ipv4`/`ipv6`: a string gives the entry or `None`; a list gives
/// the entries of that version.
fn version_filter(value: &Value, version: u8, options: Option<&str>) -> Result<Value, Error> {
    if value.as_str().is_some() {
        return Ok(check(value, Some(version), options).map_or(Value::from(()), Value::from));
    }
    if !is_list(value) {
        return Ok(Value::from(()));
    }
    let kept: Vec<String> = value
        .try_iter()?
        .filter_map(|item| check(&item, Some(version), options))
        .collect();
    Ok(Value::from(kept))
}

/// Salt's `ipaddr`: the IPv4 entries, then the IPv6 ones.
fn ipaddr(value: &Value, options: Option<&str>) -> Result<Value, Error> {
    let v4 = version_filter(value, 4, options)?;
    let v6 = version_filter(value, 6, options)?;
    if v4.is_none() || v6.is_none() {
        return Ok(if v4.is_true() { v4 } else { v6 });
    }
    let both: Vec<Value> = v4.try_iter()?.chain(v6.try_iter()?).collect();
    Ok(Value::from(both))
}

/// The network an entry lies in: `(first address, prefix length)`.
fn network(entry: &Entry) -> (u128, u8) {
    let prefix = entry.prefix.unwrap_or(entry.bits());
    let raw = match entry.addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    let host_bits = u32::from(entry.bits() - prefix);
    let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
    (raw & mask, prefix)
}

/// Salt's `network_size`/`network_hosts` shape: a single entry gives one
/// result, a list one per entry; nothing valid gives `None`.
fn per_entry(
    value: &Value,
    options: Option<String>,
    version: Option<u8>,
    each: impl Fn(&Entry) -> Result<Value, Error>,
) -> Result<Value, Error> {
    let found = match version {
        Some(v) => version_filter(value, v, options.as_deref())?,
        None => ipaddr(value, options.as_deref())?,
    };
    if !found.is_true() {
        return Ok(Value::from(()));
    }
    let entries: Vec<Entry> = if is_list(&found) {
        found
            .try_iter()?
            .filter_map(|v| v.as_str().and_then(parse))
            .collect()
    } else {
        found.as_str().and_then(parse).into_iter().collect()
    };
    if !is_list(value) {
        return entries.first().map_or(Ok(Value::from(())), &each);
    }
    Ok(Value::from(
        entries.iter().map(&each).collect::<Result<Vec<_>, _>>()?,
    ))
}

fn network_size(
    value: &Value,
    options: Option<String>,
    version: Option<u8>,
) -> Result<Value, Error> {
    per_entry(value, options, version, |entry| {
        let (_, prefix) = network(entry);
        let size = 1u128
            .checked_shl(u32::from(entry.bits() - prefix))
            .ok_or_else(|| invalid("network_size: the network is too large"))?;
        Ok(Value::from(size))
    })
}

/// More hosts than a template can usefully list.
const MAX_HOSTS: u128 = 1 << 20;

fn network_hosts(
    value: &Value,
    options: Option<String>,
    version: Option<u8>,
) -> Result<Value, Error> {
    per_entry(value, options, version, hosts)
}

/// Python's `ip_network(entry, strict=False).hosts()`.
fn hosts(entry: &Entry) -> Result<Value, Error> {
    let (first, prefix) = network(entry);
    let host_bits = u32::from(entry.bits() - prefix);
    let size = 1u128.checked_shl(host_bits).unwrap_or(u128::MAX);
    if size > MAX_HOSTS {
        return Err(invalid(format!(
            "network_hosts: {} has more than {MAX_HOSTS} hosts",
            entry.display()
        )));
    }
    let last = first + (size - 1);
    let range = match (entry.addr, host_bits) {
        (_, 0) => first..=first,
        (IpAddr::V4(_), 1) => first..=last,
        (IpAddr::V4(_), _) => first + 1..=last - 1,
        (IpAddr::V6(_), 1) => first..=last,
        (IpAddr::V6(_), _) => first + 1..=last,
    };
    let show = |n: u128| match entry.addr {
        IpAddr::V4(_) => Ipv4Addr::from(n as u32).to_string(),
        IpAddr::V6(_) => Ipv6Addr::from(n).to_string(),
    };
    Ok(Value::from(range.map(show).collect::<Vec<_>>()))
}

/// `|ipwrap`: IPv6 addresses in brackets, in a string or a list.
fn ipwrap(value: &Value) -> Result<Value, Error> {
    let wrap = |item: Value| match check(&item, Some(6), None) {
        Some(_) => {
            let text = item.as_str().unwrap_or_default();
            if text.starts_with('[') {
                item
            } else {
                Value::from(format!("[{text}]"))
            }
        }
        None => item,
    };
    if is_list(value) {
        return Ok(Value::from_iter(value.try_iter()?.map(wrap)));
    }
    Ok(wrap(value.clone()))
}

/// Salt's `ip_host(options=None, version=None)`: each entry as Python's
/// `ip_interface` prints it (`10.0.0.1/32` for a bare address).
fn ip_host(
    value: &Value,
    options: Option<String>,
    version: Option<u8>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let version_keyword: Option<u8> = kwargs.get("version")?;
    let options = positional_or_keyword(options, &kwargs, "options")?;
    per_entry(value, options, version_keyword.or(version), |entry| {
        let prefix = entry.prefix.unwrap_or(entry.bits());
        Ok(Value::from(format!("{}/{prefix}", entry.addr)))
    })
}

/// Python's `repr()` of a string (or `str()` of anything else) in a
/// `ValueError` of `ipaddress`.
fn quoted(value: &Value) -> String {
    match value.as_str() {
        Some(text) if value.kind() == ValueKind::String => format!("'{text}'"),
        _ => value.to_string(),
    }
}

/// Python's `ip_network(text)` (strict): `(first address, prefix, version)`.
fn strict_network(value: &Value) -> Result<(u128, u8, u8), Error> {
    let entry = value.as_str().and_then(parse).ok_or_else(|| {
        invalid(format!(
            "ValueError: {} does not appear to be an IPv4 or IPv6 network",
            quoted(value)
        ))
    })?;
    let (first, prefix) = network(&entry);
    let shown = Entry {
        prefix: Some(prefix),
        ..entry
    };
    if first
        != network(&Entry {
            prefix: None,
            ..entry
        })
        .0
    {
        return Err(invalid(format!(
            "ValueError: {} has host bits set",
            shown.display()
        )));
    }
    Ok((first, prefix, entry.version()))
}

/// Salt's `filter_by_networks(networks)`: the addresses of a list (or of
/// each list of a mapping of interfaces) inside any of the networks, once
/// per network holding them; `None` networks keep everything.
fn filter_by_networks(values: &Value, networks: &Value) -> Result<Value, Error> {
    if networks.is_none() || networks.is_undefined() {
        return Ok(values.clone());
    }
    let networks = networks
        .try_iter()?
        .map(|n| strict_network(&n))
        .collect::<Result<Vec<_>, _>>()?;
    match values.kind() {
        ValueKind::Map => {
            let mut filtered = Vec::new();
            for interface in values.try_iter()? {
                let addresses = values.get_item(&interface)?;
                filtered.push((interface, in_networks(&addresses, &networks)?));
            }
            Ok(crate::render::mutable::new_dict(filtered))
        }
        ValueKind::Seq | ValueKind::String => in_networks(values, &networks),
        _ => Err(invalid(format!(
            "ValueError: Do not know how to filter a <class '{}'>",
            crate::render::percent::type_name(values)
        ))),
    }
}

fn in_networks(addresses: &Value, networks: &[(u128, u8, u8)]) -> Result<Value, Error> {
    let mut kept = Vec::new();
    for item in addresses.try_iter()? {
        for &(first, prefix, version) in networks {
            let addr: IpAddr = item.as_str().and_then(|t| t.parse().ok()).ok_or_else(|| {
                invalid(format!(
                    "ValueError: {} does not appear to be an IPv4 or IPv6 address",
                    quoted(&item)
                ))
            })?;
            let entry = Entry {
                addr,
                prefix: Some(prefix),
            };
            if entry.version() == version && entry.bits() >= prefix && network(&entry).0 == first {
                kept.push(item.clone());
            }
        }
    }
    Ok(Value::from(kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_filters_net_reads_addresses_and_interfaces() {
        let entry = parse("10.1.2.3/255.255.255.0");
        assert_eq!(entry.map(|e| e.display()), Some("10.1.2.3/24".to_owned()));
        assert!(parse("host").is_none());
        assert!(parse("10.0.0.1/33").is_none());
    }

    #[test]
    fn render_filters_net_options_use_python_ranges() {
        let private = |text: &str| {
            option_holds(
                "private",
                text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            )
        };
        assert_eq!(private("192.168.0.1"), Some(true));
        assert_eq!(private("8.8.8.8"), Some(false));
        assert_eq!(private("fe80::1"), Some(true));
    }

    #[test]
    fn render_filters_network_hosts_skip_network_and_broadcast() {
        let entry = parse("10.0.0.0/30").map(|e| hosts(&e).map(|v| v.to_string()));
        assert_eq!(
            entry.and_then(Result::ok).as_deref(),
            Some("['10.0.0.1', '10.0.0.2']")
        );
    }

    fn render(template: &str) -> String {
        let mut env = Environment::new();
        register(&mut env);
        env.render_str(template, ())
            .unwrap_or_else(|err| format!("ERROR: {err:#}"))
    }

    #[test]
    fn render_filters_ip_host_prints_interfaces() {
        assert_eq!(render("{{ '10.0.0.1'|ip_host }}"), "10.0.0.1/32");
        assert_eq!(
            render("{{ ['10.0.0.1/24', 'fe80::1', 'x']|ip_host }}"),
            "['10.0.0.1/24', 'fe80::1/128']"
        );
        assert_eq!(
            render("{{ '192.168.1.5/255.255.255.0'|ip_host }}"),
            "192.168.1.5/24"
        );
        assert_eq!(render("{{ 'x'|ip_host }}"), "None");
        assert_eq!(
            render("{{ ['10.0.0.1', 'fe80::1/64']|ip_host(version=6) }}"),
            "['fe80::1/64']"
        );
    }

    #[test]
    fn render_filters_filter_by_networks_keeps_matches_per_network() {
        assert_eq!(
            render(
                "{{ ['10.0.0.1', '192.168.0.5', 'fe80::1']\
                 |filter_by_networks(['192.168.0.0/24', 'fe80::/64']) }}"
            ),
            "['192.168.0.5', 'fe80::1']"
        );
        assert_eq!(
            render(
                "{{ {'eth0': ['192.168.0.5', '10.1.1.1']}\
                 |filter_by_networks(['192.168.0.0/16', '192.168.0.0/24']) }}"
            ),
            "{'eth0': ['192.168.0.5', '192.168.0.5']}"
        );
        assert_eq!(
            render("{{ ['10.0.0.1']|filter_by_networks(none) }}"),
            "['10.0.0.1']"
        );
        assert_eq!(render("{{ ['bad']|filter_by_networks([]) }}"), "[]");
        assert_eq!(
            render("{{ ['10.0.0.1']|filter_by_networks(['10.0.0.0/255.0.0.0']) }}"),
            "['10.0.0.1']"
        );
    }

    #[test]
    fn render_filters_filter_by_networks_errors_are_pythons() {
        let cases = [
            (
                "['10.0.0.1']",
                "['10.0.0.1/24']",
                "10.0.0.1/24 has host bits set",
            ),
            (
                "['10.0.0.1']",
                "['bad']",
                "'bad' does not appear to be an IPv4 or IPv6 network",
            ),
            (
                "['bad']",
                "['10.0.0.0/24']",
                "'bad' does not appear to be an IPv4 or IPv6 address",
            ),
            ("5", "[]", "Do not know how to filter a <class 'int'>"),
        ];
        for (values, networks, message) in cases {
            let err = render(&format!(
                "{{{{ {values}|filter_by_networks({networks}) }}}}"
            ));
            assert!(err.contains(message), "{err}");
        }
    }
}
