//! Salt's `network` execution module: interfaces and addresses (from
//! `ip addr show`, parsed as Salt's `_interfaces_ip` does), `ping` with the
//! system's ping, `connect` (a TCP connection or a UDP exchange with a
//! bound), `netstat` and `get_hostname`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use ipnet::IpNet;
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{HostCmd, bool_param, required_str, str_param, value_text, which};

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "network.interfaces",
        "",
        INTERFACES_DOC,
        |_, _| async move { Ok(Value::Object(interfaces().await?).into()) },
    );
    f.register(
        "network.ip_addrs",
        "interface=None, include_loopback=False, cidr=None, type=None",
        IP_ADDRS_DOC,
        |_, call| async move { ip_addrs(&call, Family::V4).await },
    );
    f.register(
        "network.ip_addrs6",
        "interface=None, include_loopback=False, cidr=None",
        IP_ADDRS6_DOC,
        |_, call| async move { ip_addrs(&call, Family::V6).await },
    );
    f.register(
        "network.hw_addr",
        "iface",
        HW_ADDR_DOC,
        |_, call| async move { iface_field(&call, "hwaddr").await },
    );
    f.register(
        "network.interface",
        "iface",
        INTERFACE_DOC,
        |_, call| async move { iface_field(&call, "inet").await },
    );
    f.register(
        "network.ping",
        "host, timeout=False, return_boolean=False",
        PING_DOC,
        |_, call| async move { ping(&call).await },
    );
    f.register(
        "network.connect",
        "host, port=None, **kwargs",
        CONNECT_DOC,
        |_, call| async move { connect(&call).await.map(Into::into) },
    );
    f.register("network.netstat", "", NETSTAT_DOC, |_, _| async move {
        netstat().await
    });
    f.register("network.get_hostname", "", GET_HOSTNAME_DOC, |_, _| async {
        get_hostname().map(FnOutput::from)
    });
}

/// Salt's `get_hostname`: the kernel's host name (`socket.gethostname()`).
fn get_hostname() -> Result<Value, FnError> {
    let name = hostname::get()
        .map_err(|e| FnError::Execution(format!("Unable to read the host name: {e}")))?;
    Ok(Value::String(name.to_string_lossy().into_owned()))
}

const GET_HOSTNAME_DOC: &str = "Get hostname\n\nCLI Example:\n\n    brine '*' network.get_hostname";

// ---------------------------------------------------------------------------
// Interfaces

/// Salt's `interfaces()`: `{iface: {up, hwaddr, inet: [...], inet6: [...]}}`.
pub async fn interfaces() -> Result<Map<String, Value>, FnError> {
    if which("ip").is_none() {
        return Err(FnError::Execution(
            "network.interfaces needs the 'ip' command (iproute2)".into(),
        ));
    }
    let out = HostCmd::new("ip").args(["addr", "show"]).checked().await?;
    Ok(parse_ip_addr(&out.stdout))
}

/// Parse `ip addr show` output into Salt's interface dicts.
pub fn parse_ip_addr(out: &str) -> Map<String, Value> {
    let mut ret = Map::new();
    let mut current: Option<(String, Map<String, Value>)> = None;
    for line in out.lines() {
        if let Some((iface, parent, up)) = parse_iface_line(line) {
            if let Some((name, data)) = current.take() {
                ret.insert(name, Value::Object(data));
            }
            let mut data = Map::new();
            data.insert("up".into(), json!(up));
            if let Some(parent) = parent {
                data.insert("parent".into(), json!(parent));
            }
            current = Some((iface, data));
            continue;
        }
        if let Some((_, data)) = current.as_mut() {
            parse_detail_line(line, data);
        }
    }
    if let Some((name, data)) = current {
        ret.insert(name, Value::Object(data));
    }
    ret
}

/// `2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ...`
fn parse_iface_line(line: &str) -> Option<(String, Option<String>, bool)> {
    let (index, rest) = line.split_once(':')?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.trim_start();
    let (names, rest) = rest.split_once(": <")?;
    let attrs = rest.split_once('>')?.0;
    let (iface, parent) = match names.split_once('@') {
        Some((i, p)) => (i, Some(p.to_string())),
        None => (names, None),
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    if !valid(iface) {
        return None;
    }
    let up = attrs.split(',').any(|a| a == "UP");
    Some((iface.to_string(), parent.filter(|p| valid(p)), up))
}

/// `link/ether ...`, `inet ...` and `inet6 ...` lines of one interface.
fn parse_detail_line(line: &str, data: &mut Map<String, Value>) {
    let cols: Vec<&str> = line.split_whitespace().collect();
    let [kind, value, ..] = cols.as_slice() else {
        return;
    };
    let label = cols.last().copied().unwrap_or_default();
    if kind.starts_with("link") {
        data.insert("hwaddr".into(), json!(value));
        return;
    }
    if *kind != "inet" && *kind != "inet6" {
        return;
    }
    let (address, netmask, broadcast, scope) = parse_network(kind, value, &cols);
    if cols.contains(&"secondary") {
        push(
            data,
            "secondary",
            json!({"type": kind, "address": address, "netmask": netmask, "broadcast": broadcast, "label": label}),
        );
    } else if *kind == "inet" {
        push(
            data,
            "inet",
            json!({"address": address, "netmask": netmask, "broadcast": broadcast, "label": label}),
        );
    } else {
        push(
            data,
            "inet6",
            json!({"address": address, "prefixlen": netmask, "scope": scope}),
        );
    }
}

fn push(data: &mut Map<String, Value>, key: &str, item: Value) {
    if let Some(Value::Array(list)) = data.get_mut(key) {
        list.push(item);
    } else {
        data.insert(key.into(), json!([item]));
    }
}

/// Address, netmask (dotted for IPv4, the prefix length for IPv6),
/// broadcast (IPv4) and scope (IPv6).
fn parse_network(
    kind: &str,
    value: &str,
    cols: &[&str],
) -> (String, String, Option<String>, Option<String>) {
    let (ip, cidr) = value.split_once('/').unwrap_or((value, "32"));
    let after = |key: &str| {
        cols.iter()
            .position(|c| *c == key)
            .and_then(|i| cols.get(i + 1))
            .map(|s| s.to_string())
    };
    if kind == "inet" {
        let bits: u32 = cidr.parse().unwrap_or(32).min(32);
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        (
            ip.to_string(),
            Ipv4Addr::from(mask).to_string(),
            after("brd"),
            None,
        )
    } else {
        (ip.to_string(), cidr.to_string(), None, after("scope"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    V4,
    V6,
}

async fn ip_addrs(call: &Call, family: Family) -> Result<FnOutput, FnError> {
    let interface = str_param(call, 0, "interface");
    let include_loopback = bool_param(call, 1, "include_loopback", false);
    let cidr = str_param(call, 2, "cidr")
        .map(|c| {
            c.parse::<IpNet>()
                .map_err(|e| FnError::Invocation(format!("invalid cidr {c:?}: {e}")))
        })
        .transpose()?;
    let kind = if family == Family::V4 {
        str_param(call, 3, "type")
    } else {
        None
    };
    let ifaces = interfaces().await?;
    let addrs = addresses(&ifaces, interface.as_deref(), family, include_loopback);
    let kept: Vec<String> = addrs
        .into_iter()
        .filter(|a| cidr.is_none_or(|net| net.contains(a)))
        .filter(|a| match kind.as_deref() {
            Some("public") => !is_private(a),
            Some("private") => is_private(a),
            _ => true,
        })
        .map(|a| a.to_string())
        .collect();
    Ok(json!(kept).into())
}

/// The addresses of one family, sorted, loopback left out unless asked for.
fn addresses(
    ifaces: &Map<String, Value>,
    interface: Option<&str>,
    family: Family,
    include_loopback: bool,
) -> Vec<IpAddr> {
    let proto = if family == Family::V4 {
        "inet"
    } else {
        "inet6"
    };
    let mut ret = BTreeSet::new();
    for (name, info) in ifaces {
        if interface.is_some_and(|i| i != name) {
            continue;
        }
        let primary = info[proto].as_array().cloned().unwrap_or_default();
        let secondary = info["secondary"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s["type"] == proto);
        for addr in primary.into_iter().chain(secondary) {
            let Some(ip) = addr["address"]
                .as_str()
                .and_then(|a| a.parse::<IpAddr>().ok())
            else {
                continue;
            };
            if include_loopback || !ip.is_loopback() {
                ret.insert(ip);
            }
        }
    }
    ret.into_iter().collect()
}

fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// One field of one interface, or Salt's error text when there is no such
/// interface.
async fn iface_field(call: &Call, field: &str) -> Result<FnOutput, FnError> {
    let iface = required_str(call, 0, "iface")?;
    let ifaces = interfaces().await?;
    let Some(info) = ifaces.get(&iface) else {
        let names: Vec<&str> = ifaces.keys().map(String::as_str).collect();
        return Ok(json!(format!(
            "Interface \"{iface}\" not in available interfaces: \"{}\"",
            names.join("\", \"")
        ))
        .into());
    };
    Ok(info.get(field).cloned().unwrap_or(json!("")).into())
}

// ---------------------------------------------------------------------------
// ping, connect

/// Keep only the characters a host name or address can have.
fn sanitize_host(host: &str) -> String {
    host.chars()
        .take(255)
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        .collect::<String>()
        .trim_start_matches('-')
        .to_string()
}

/// `ping -c 4 [-W timeout] host`.
pub fn ping_command(host: &str, timeout: Option<i64>) -> Result<HostCmd, FnError> {
    let host = sanitize_host(host);
    if host.is_empty() {
        return Err(FnError::Invocation("ping: no valid host given".into()));
    }
    let mut cmd = HostCmd::new("ping");
    if let Some(t) = timeout {
        cmd = cmd.args(["-W".to_string(), t.to_string()]);
    }
    Ok(cmd.args(["-c".to_string(), "4".to_string(), host]))
}

async fn ping(call: &Call) -> Result<FnOutput, FnError> {
    let host = required_str(call, 0, "host")?;
    let timeout = match call.param(1, "timeout") {
        None | Some(Value::Bool(false)) | Some(Value::Null) => None,
        Some(_) => Some(call.int_param(1, "timeout", None)?),
    };
    let out = ping_command(&host, timeout)?.output().await?;
    if bool_param(call, 2, "return_boolean", false) {
        return Ok(json!(out.success()).into());
    }
    Ok(json!(out.combined()).into())
}

/// Salt's `connect`: `{result, comment}`.
async fn connect(call: &Call) -> Result<Value, FnError> {
    let host = str_param(call, 0, "host").unwrap_or_default();
    let port = call
        .param(1, "port")
        .and_then(value_text)
        .unwrap_or_default();
    if host.is_empty() {
        return Ok(json!({"result": false, "comment": "Required argument, host, is missing."}));
    }
    if port.is_empty() {
        return Ok(json!({"result": false, "comment": "Required argument, port, is missing."}));
    }
    let port_num: u16 = port
        .parse()
        .map_err(|_| FnError::Invocation(format!("invalid port {port:?}")))?;
    let udp = call.kwargs.get("proto").and_then(Value::as_str) == Some("udp");
    let proto = if udp { "udp" } else { "tcp" };
    let timeout = match call.kwargs.get("timeout") {
        // A keyword-only argument: no position reaches usize::MAX.
        Some(v) if !v.is_null() => call.float_param(usize::MAX, "timeout", Some(5.0))?,
        _ => 5.0,
    };
    let limit = Duration::from_secs_f64(timeout.clamp(0.001, 3600.0));
    let family = call.kwargs.get("family").and_then(Value::as_str);
    let Some(addr) = resolve(&host, port_num, family).await else {
        return Ok(json!({
            "result": false,
            "comment": format!("Unable to resolve host {host} on {proto} port {port}"),
        }));
    };
    let connected = if udp {
        udp_exchange(addr, limit).await
    } else {
        tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr))
            .await
            .is_ok_and(|r| r.is_ok())
    };
    let ip = addr.ip();
    Ok(if connected {
        json!({"result": true, "comment": format!("Successfully connected to {host} ({ip}) on {proto} port {port}")})
    } else {
        json!({"result": false, "comment": format!("Unable to connect to {host} ({ip}) on {proto} port {port}")})
    })
}

/// The first address `host` resolves to (of `family` `ipv4`/`ipv6` if given).
async fn resolve(host: &str, port: u16, family: Option<&str>) -> Option<SocketAddr> {
    let addrs = tokio::net::lookup_host((host, port)).await.ok()?;
    addrs.into_iter().find(|a| match family {
        Some("ipv4") => a.is_ipv4(),
        Some("ipv6") => a.is_ipv6(),
        _ => true,
    })
}

/// Send a datagram and wait for any answer.
async fn udp_exchange(addr: SocketAddr, limit: Duration) -> bool {
    let bind: SocketAddr = if addr.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let exchange = async {
        let sock = tokio::net::UdpSocket::bind(bind).await.ok()?;
        let msg = format!("{:x}", rand::random::<u128>());
        sock.send_to(msg.as_bytes(), addr).await.ok()?;
        let mut buf = [0u8; 255];
        sock.recv_from(&mut buf).await.ok()
    };
    tokio::time::timeout(limit, exchange)
        .await
        .ok()
        .flatten()
        .is_some()
}

// ---------------------------------------------------------------------------
// netstat

async fn netstat() -> Result<FnOutput, FnError> {
    if which("netstat").is_some() {
        let out = HostCmd::new("netstat").arg("-tulpnea").checked().await?;
        return Ok(json!(parse_netstat(&out.stdout)).into());
    }
    let out = HostCmd::new("ss").arg("-tulpnea").checked().await?;
    Ok(json!(parse_ss(&out.stdout)).into())
}

/// `netstat -tulpnea` rows as Salt's dicts.
pub fn parse_netstat(out: &str) -> Vec<Value> {
    let mut ret = Vec::new();
    for line in out.lines() {
        let c: Vec<&str> = line.split_whitespace().collect();
        let get = |i: usize| c.get(i).copied().unwrap_or("");
        if line.starts_with("tcp") && c.len() >= 8 {
            ret.push(json!({
                "proto": get(0), "recv-q": get(1), "send-q": get(2),
                "local-address": get(3), "remote-address": get(4), "state": get(5),
                "user": get(6), "inode": get(7), "program": c[8.min(c.len())..].join(" "),
            }));
        } else if line.starts_with("udp") && c.len() >= 7 {
            // UDP rows have no state column, unless netstat printed one.
            let off = usize::from(c.len() >= 9);
            ret.push(json!({
                "proto": get(0), "recv-q": get(1), "send-q": get(2),
                "local-address": get(3), "remote-address": get(4),
                "user": get(5 + off), "inode": get(6 + off),
                "program": c[(7 + off).min(c.len())..].join(" "),
            }));
        }
    }
    ret
}

/// `ss -tulpnea` rows in the same shape.
pub fn parse_ss(out: &str) -> Vec<Value> {
    let mut ret = Vec::new();
    for line in out.lines() {
        let c: Vec<&str> = line.split_whitespace().collect();
        if !(line.starts_with("tcp") || line.starts_with("udp")) || c.len() < 6 {
            continue;
        }
        let (mut user, mut inode, mut program) = ("0".to_string(), "0".to_string(), String::new());
        for field in &c[6..] {
            if let Some(users) = field.strip_prefix("users:") {
                program = users.split('"').nth(1).unwrap_or_default().to_string();
            } else if let Some(uid) = field.strip_prefix("uid:") {
                user = uid.to_string();
            } else if let Some(ino) = field.strip_prefix("ino:") {
                inode = ino.to_string();
            }
        }
        let mut row = json!({
            "proto": c[0], "recv-q": c[2], "send-q": c[3],
            "local-address": c[4], "remote-address": c[5],
            "user": user, "inode": inode, "program": program,
        });
        if line.starts_with("tcp") {
            let state = if c[1] == "ESTAB" { "ESTABLISHED" } else { c[1] };
            row["state"] = json!(state);
        }
        ret.push(row);
    }
    ret
}

const INTERFACES_DOC: &str = "Return a dictionary of information about all the interfaces on the minion\n\nCLI Example:\n\n    brine '*' network.interfaces";
const IP_ADDRS_DOC: &str = "Returns a list of IPv4 addresses assigned to the host. 127.0.0.1 is\nignored, unless 'include_loopback=True' is indicated. If 'interface' is\nprovided, then only IP addresses from that interface will be returned.\nProviding a CIDR via 'cidr=\"10.0.0.0/8\"' will return only the addresses\nwhich are within that subnet. If 'type' is 'public', then only public\naddresses will be returned. Ditto for 'type'='private'.\n\nCLI Example:\n\n    brine '*' network.ip_addrs";
const IP_ADDRS6_DOC: &str = "Returns a list of IPv6 addresses assigned to the host. ::1 is ignored,\nunless 'include_loopback=True' is indicated. If 'interface' is provided,\nthen only IP addresses from that interface will be returned.\nProviding a CIDR via 'cidr=\"2000::/3\"' will return only the addresses\nwhich are within that subnet.\n\nCLI Example:\n\n    brine '*' network.ip_addrs6";
const HW_ADDR_DOC: &str = "Return the hardware address (a.k.a. MAC address) for a given interface\n\nCLI Example:\n\n    brine '*' network.hw_addr eth0";
const INTERFACE_DOC: &str = "Return the inet address for a given interface\n\nCLI Example:\n\n    brine '*' network.interface eth0";
const PING_DOC: &str = "Performs an ICMP ping to a host\n\nreturn_boolean : False\n    Return True or False instead of ping output.\n\ntimeout\n    A timeout for ping, in seconds.\n\nCLI Example:\n\n    brine '*' network.ping archlinux.org\n    brine '*' network.ping archlinux.org return_boolean=True\n    brine '*' network.ping archlinux.org timeout=3";
const CONNECT_DOC: &str = "Test connectivity to a host using a particular\nport from the minion.\n\nproto : tcp\n    ``tcp`` or ``udp``\n\ntimeout : 5\n    Seconds to wait\n\nfamily\n    ``ipv4`` or ``ipv6``\n\nReturns {'result': bool, 'comment': str}\n\nCLI Example:\n\n    brine '*' network.connect archlinux.org 80\n    brine '*' network.connect archlinux.org 80 timeout=3\n    brine '*' network.connect google-public-dns-a.google.com port=53 proto=udp timeout=3";
const NETSTAT_DOC: &str =
    "Return information on open ports and states\n\nCLI Example:\n\n    brine '*' network.netstat";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_hostname_is_the_kernels_host_name() {
        let expected = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
        assert_eq!(
            get_hostname().expect("hostname"),
            Value::String(expected.trim().into())
        );
    }

    const IP_ADDR: &str = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host noprefixroute
       valid_lft forever preferred_lft forever
2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default
    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0
       valid_lft forever preferred_lft forever
    inet 172.17.0.9/16 brd 172.17.255.255 scope global secondary eth0:1
       valid_lft forever preferred_lft forever
    inet6 fe80::42:acff:fe11:2/64 scope link
       valid_lft forever preferred_lft forever
3: dummy0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN group default qlen 1000
    link/ether 9a:1b:2c:3d:4e:5f brd ff:ff:ff:ff:ff:ff
";

    #[test]
    fn ip_addr_output_has_salts_shape() {
        let ifaces = parse_ip_addr(IP_ADDR);
        assert_eq!(
            ifaces["lo"],
            json!({
                "up": true,
                "hwaddr": "00:00:00:00:00:00",
                "inet": [{"address": "127.0.0.1", "netmask": "255.0.0.0", "broadcast": null, "label": "lo"}],
                "inet6": [{"address": "::1", "prefixlen": "128", "scope": "host"}],
            })
        );
        let eth0 = &ifaces["eth0"];
        assert_eq!(eth0["parent"], json!("if7"));
        assert_eq!(
            eth0["inet"],
            json!([{"address": "172.17.0.2", "netmask": "255.255.0.0", "broadcast": "172.17.255.255", "label": "eth0"}])
        );
        assert_eq!(
            eth0["secondary"],
            json!([{"type": "inet", "address": "172.17.0.9", "netmask": "255.255.0.0", "broadcast": "172.17.255.255", "label": "eth0:1"}])
        );
        assert_eq!(
            ifaces["dummy0"],
            json!({"up": false, "hwaddr": "9a:1b:2c:3d:4e:5f"})
        );
    }

    #[test]
    fn address_lists() {
        let ifaces = parse_ip_addr(IP_ADDR);
        let v4 = |lo| {
            addresses(&ifaces, None, Family::V4, lo)
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(v4(false), ["172.17.0.2", "172.17.0.9"]);
        assert_eq!(v4(true), ["127.0.0.1", "172.17.0.2", "172.17.0.9"]);
        let v6: Vec<String> = addresses(&ifaces, Some("eth0"), Family::V6, false)
            .iter()
            .map(IpAddr::to_string)
            .collect();
        assert_eq!(v6, ["fe80::42:acff:fe11:2"]);
    }

    #[test]
    fn ping_arguments_are_sanitized() {
        let cmd = ping_command("127.0.0.1; rm -rf /", Some(2)).expect("cmd");
        assert_eq!(cmd.argv(), ["-W", "2", "-c", "4", "127.0.0.1rm-rf"]);
        let cmd = ping_command("--help", None).expect("cmd");
        assert_eq!(cmd.argv(), ["-c", "4", "help"]);
        assert!(ping_command(";;", None).is_err());
    }

    #[test]
    fn netstat_and_ss_rows() {
        let out = "Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address Foreign Address State User Inode PID/Program name\ntcp        0      0 127.0.0.1:5432          0.0.0.0:*               LISTEN      104        12345      88/postgres\nudp        0      0 0.0.0.0:68              0.0.0.0:*                           0          2222       9/dhclient\n";
        let rows = parse_netstat(out);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["state"], json!("LISTEN"));
        assert_eq!(rows[0]["program"], json!("88/postgres"));
        assert_eq!(rows[1]["user"], json!("0"));
        assert_eq!(rows[1]["program"], json!("9/dhclient"));
        let ss = "Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\ntcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:((\"sshd\",pid=1,fd=3)) ino:1234 sk:1\ntcp ESTAB 0 0 10.0.0.1:22 10.0.0.2:5000 uid:1000 ino:99\n";
        let rows = parse_ss(ss);
        assert_eq!(rows[0]["program"], json!("sshd"));
        assert_eq!(rows[0]["inode"], json!("1234"));
        assert_eq!(rows[1]["state"], json!("ESTABLISHED"));
        assert_eq!(rows[1]["user"], json!("1000"));
    }

    #[tokio::test]
    async fn connect_reports_like_salt() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let call = Call {
            fun: "network.connect".into(),
            args: vec![json!("127.0.0.1"), json!(port)],
            kwargs: Map::new(),
        };
        let ret = connect(&call).await.expect("connect");
        assert_eq!(ret["result"], json!(true));
        assert_eq!(
            ret["comment"],
            json!(format!(
                "Successfully connected to 127.0.0.1 (127.0.0.1) on tcp port {port}"
            ))
        );
        drop(listener);
        let ret = connect(&call).await.expect("connect");
        assert_eq!(ret["result"], json!(false));
        let missing = Call {
            fun: "network.connect".into(),
            args: vec![json!("127.0.0.1")],
            kwargs: Map::new(),
        };
        assert_eq!(
            connect(&missing).await.expect("connect"),
            json!({"result": false, "comment": "Required argument, port, is missing."})
        );
    }
}
