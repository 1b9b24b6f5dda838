//! Network grains: `ipv4`, `ipv6`, `ip_interfaces`, `ip4_interfaces`,
//! `ip6_interfaces`, `hwaddr_interfaces` (from `getifaddrs`) and `dns`
//! (from the resolver configuration).

use std::net::IpAddr;

use serde_json::{Map, Value, json};

/// One interface as `getifaddrs` describes it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Interface {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub hwaddr: Option<[u8; 6]>,
}

/// Every interface, in the kernel's order, with its addresses and MAC.
pub fn interfaces() -> Vec<Interface> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out: Vec<Interface> = Vec::new();
    for ifa in addrs {
        let index = match out.iter().position(|i| i.name == ifa.interface_name) {
            Some(i) => i,
            None => {
                out.push(Interface {
                    name: ifa.interface_name.clone(),
                    ..Interface::default()
                });
                out.len() - 1
            }
        };
        let Some(address) = ifa.address else { continue };
        let iface = &mut out[index];
        if let Some(v4) = address.as_sockaddr_in() {
            iface.addresses.push(IpAddr::V4(v4.ip()));
        } else if let Some(v6) = address.as_sockaddr_in6() {
            iface.addresses.push(IpAddr::V6(v6.ip()));
        } else if let Some(link) = address.as_link_addr() {
            iface.hwaddr = link.addr().or(iface.hwaddr);
        }
    }
    out
}

/// The interface grains for a list of interfaces.
pub fn interface_grains(interfaces: &[Interface]) -> Map<String, Value> {
    let mut all = Vec::new();
    let (mut ip, mut ip4, mut ip6, mut hw) = (Map::new(), Map::new(), Map::new(), Map::new());
    for iface in interfaces {
        let text = |pred: fn(&IpAddr) -> bool| -> Vec<String> {
            iface
                .addresses
                .iter()
                .filter(|a| pred(a))
                .map(IpAddr::to_string)
                .collect()
        };
        let (v4, v6) = (text(IpAddr::is_ipv4), text(IpAddr::is_ipv6));
        ip.insert(iface.name.clone(), json!([v4.clone(), v6.clone()].concat()));
        ip4.insert(iface.name.clone(), json!(v4));
        ip6.insert(iface.name.clone(), json!(v6));
        if let Some(mac) = iface.hwaddr {
            hw.insert(iface.name.clone(), json!(mac_text(mac)));
        }
        all.extend(iface.addresses.iter().copied());
    }
    // Salt sorts the address grains numerically and includes loopback.
    all.sort();
    all.dedup();
    let list = |pred: fn(&IpAddr) -> bool| -> Vec<String> {
        all.iter()
            .filter(|a| pred(a))
            .map(IpAddr::to_string)
            .collect()
    };
    let mut grains = Map::new();
    grains.insert("ipv4".into(), json!(list(IpAddr::is_ipv4)));
    grains.insert("ipv6".into(), json!(list(IpAddr::is_ipv6)));
    grains.insert("ip_interfaces".into(), Value::Object(ip));
    grains.insert("ip4_interfaces".into(), Value::Object(ip4));
    grains.insert("ip6_interfaces".into(), Value::Object(ip6));
    grains.insert("hwaddr_interfaces".into(), Value::Object(hw));
    grains
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Salt's `dns` grain: the resolver configuration (systemd-resolved's real
/// one when present). `None` when there is no file to read.
pub fn dns() -> Option<Value> {
    ["/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| parse_resolv(&text))
}

/// Parse resolv.conf as Salt's `parse_resolv` does: name servers (split by
/// family, duplicates dropped), `domain`, `search`, `sortlist` (as
/// `address/netmask`) and the first word of each `options` line.
pub fn parse_resolv(text: &str) -> Value {
    let mut nameservers: Vec<String> = Vec::new();
    let (mut ip4, mut ip6) = (Vec::new(), Vec::new());
    let (mut domain, mut search) = (String::new(), Vec::new());
    let (mut sortlist, mut options): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let words: Vec<&str> = line
            .split_whitespace()
            .take_while(|w| !w.starts_with('#') && !w.starts_with(';'))
            .collect();
        let Some((directive, args)) = words.split_first() else {
            continue;
        };
        match (directive.to_lowercase().as_str(), args.first()) {
            ("nameserver", Some(addr)) => {
                let Ok(ip) = addr.parse::<IpAddr>() else {
                    continue;
                };
                let text = ip.to_string();
                push_unique(&mut nameservers, &text);
                push_unique(if ip.is_ipv4() { &mut ip4 } else { &mut ip6 }, &text);
            }
            ("domain", Some(d)) => domain = d.to_string(),
            ("search", _) => search = args.iter().map(|s| s.to_string()).collect(),
            ("sortlist", _) => {
                for entry in args {
                    if let Some(net) = sortlist_entry(entry) {
                        push_unique(&mut sortlist, &net);
                    }
                }
            }
            ("options", Some(opt)) => push_unique(&mut options, opt),
            _ => {}
        }
    }
    json!({
        "nameservers": nameservers,
        "ip4_nameservers": ip4,
        "ip6_nameservers": ip6,
        "sortlist": sortlist,
        "domain": domain,
        "search": search,
        "options": options,
    })
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_string());
    }
}

/// `130.155.160.0/255.255.240.0` or `130.155.160.0` (natural netmask) as
/// Python's `with_netmask`.
fn sortlist_entry(entry: &str) -> Option<String> {
    let (addr, mask) = match entry.split_once('/') {
        Some((a, m)) => (a.parse::<std::net::Ipv4Addr>().ok()?, m.to_string()),
        None => {
            let a = entry.parse::<std::net::Ipv4Addr>().ok()?;
            let natural = match a.octets()[0] {
                0..=127 => "255.0.0.0",
                128..=191 => "255.255.0.0",
                _ => "255.255.255.0",
            };
            (a, natural.to_string())
        }
    };
    let mask = match mask.parse::<u8>() {
        Ok(bits) if bits <= 32 => {
            let m = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            std::net::Ipv4Addr::from(m).to_string()
        }
        _ => mask.parse::<std::net::Ipv4Addr>().ok()?.to_string(),
    };
    Some(format!("{addr}/{mask}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_grains_like_salt() {
        let ifaces = vec![
            Interface {
                name: "lo".into(),
                addresses: vec!["127.0.0.1".parse().expect("ip"), "::1".parse().expect("ip")],
                hwaddr: Some([0; 6]),
            },
            Interface {
                name: "eth0".into(),
                addresses: vec![
                    "10.0.0.5".parse().expect("ip"),
                    "fe80::1".parse().expect("ip"),
                ],
                hwaddr: Some([0x52, 0x54, 0, 0x12, 0x34, 0xab]),
            },
            Interface {
                name: "down0".into(),
                ..Interface::default()
            },
        ];
        let g = interface_grains(&ifaces);
        assert_eq!(g["ipv4"], json!(["10.0.0.5", "127.0.0.1"]));
        assert_eq!(g["ipv6"], json!(["::1", "fe80::1"]));
        assert_eq!(g["ip_interfaces"]["eth0"], json!(["10.0.0.5", "fe80::1"]));
        assert_eq!(g["ip_interfaces"]["down0"], json!([]));
        assert_eq!(g["ip4_interfaces"]["lo"], json!(["127.0.0.1"]));
        assert_eq!(g["ip6_interfaces"]["lo"], json!(["::1"]));
        assert_eq!(g["hwaddr_interfaces"]["lo"], "00:00:00:00:00:00");
        assert_eq!(g["hwaddr_interfaces"]["eth0"], "52:54:00:12:34:ab");
    }

    #[test]
    fn this_host_has_loopback() {
        let g = interface_grains(&interfaces());
        assert!(
            g["ipv4"]
                .as_array()
                .is_some_and(|a| a.contains(&json!("127.0.0.1"))),
            "{g:?}"
        );
    }

    #[test]
    fn resolv_conf_like_salt() {
        let text = "# generated\nnameserver 10.0.0.2\nnameserver 10.0.0.2\nnameserver 2001:db8::1 # v6\nsearch example.com corp.example.com\noptions ndots:2 timeout:1\noptions rotate\nsortlist 130.155.160.0/255.255.240.0 10.0.0.0\n";
        let d = parse_resolv(text);
        assert_eq!(d["nameservers"], json!(["10.0.0.2", "2001:db8::1"]));
        assert_eq!(d["ip4_nameservers"], json!(["10.0.0.2"]));
        assert_eq!(d["ip6_nameservers"], json!(["2001:db8::1"]));
        assert_eq!(d["search"], json!(["example.com", "corp.example.com"]));
        assert_eq!(d["options"], json!(["ndots:2", "rotate"]));
        assert_eq!(
            d["sortlist"],
            json!(["130.155.160.0/255.255.240.0", "10.0.0.0/255.0.0.0"])
        );
        assert_eq!(d["domain"], "");
    }
}
