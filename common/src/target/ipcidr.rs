//! `-S` / `S@`: match a minion by an address or subnet against its `ipv4` or
//! `ipv6` grain (Salt's `ipcidr` matcher).

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value};

use super::TargetError;

/// An address (`10.0.0.5`, matched exactly) or a network (`10.0.0.0/8`).
#[derive(Debug, Clone, PartialEq)]
pub enum IpMatch {
    Addr(IpAddr),
    Net(IpNet),
}

impl IpMatch {
    /// Parse as Python's `ip_address`, then strict `ip_network` (a network
    /// with host bits set, like `10.0.0.5/8`, is refused as Salt refuses it).
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let text = text.trim();
        if let Ok(addr) = text.parse::<IpAddr>() {
            return Ok(IpMatch::Addr(addr));
        }
        let net: IpNet = text.parse().map_err(|_| {
            TargetError::IpCidr(
                text.to_string(),
                "not an IP address or a network like 10.0.0.0/8".into(),
            )
        })?;
        if net.trunc() != net {
            return Err(TargetError::IpCidr(
                text.to_string(),
                format!("host bits are set; did you mean {}?", net.trunc()),
            ));
        }
        Ok(IpMatch::Net(net))
    }

    fn is_v4(&self) -> bool {
        match self {
            IpMatch::Addr(a) => a.is_ipv4(),
            IpMatch::Net(n) => matches!(n, IpNet::V4(_)),
        }
    }

    fn covers(&self, addr: IpAddr) -> bool {
        match self {
            IpMatch::Addr(a) => *a == addr,
            IpMatch::Net(n) => n.contains(&addr),
        }
    }

    /// True if any address in the minion's `ipv4` (or `ipv6`) grain matches.
    pub fn matches(&self, grains: &Map<String, Value>) -> bool {
        let key = if self.is_v4() { "ipv4" } else { "ipv6" };
        let addresses: Vec<&str> = match grains.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(one)) => vec![one.as_str()],
            _ => return false,
        };
        addresses
            .into_iter()
            .filter_map(|a| a.split('%').next()?.parse::<IpAddr>().ok())
            .any(|a| self.covers(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grains() -> Map<String, Value> {
        json!({"ipv4": ["127.0.0.1", "10.1.2.3"], "ipv6": ["::1", "fe80::1%eth0"]})
            .as_object()
            .cloned()
            .expect("object")
    }

    fn m(text: &str) -> bool {
        IpMatch::parse(text).expect("parse").matches(&grains())
    }

    #[test]
    fn networks_and_addresses() {
        assert!(m("127.0.0.0/8") && m("10.1.0.0/16") && !m("192.168.0.0/16"));
        assert!(m("10.1.2.3") && !m("10.1.2.4"));
        assert!(m("::1") && m("fe80::/10") && !m("2001:db8::/32"));
    }

    #[test]
    fn bad_targets_are_errors() {
        assert!(IpMatch::parse("10.0.0.5/8").is_err());
        assert!(IpMatch::parse("nonsense").is_err());
        assert!(IpMatch::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn minions_without_the_grain_do_not_match() {
        assert!(
            !IpMatch::parse("10.0.0.0/8")
                .expect("p")
                .matches(&Map::new())
        );
    }
}
