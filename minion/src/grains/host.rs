//! Host grains: CPU, memory, host names, machine id, hardware (DMI),
//! virtualisation, the minion process, environment and locale.
//!
//! Everything is a file read (`/proc`, `/sys`, `/etc`); where Salt runs a
//! command (`systemd-detect-virt`, `dmidecode`, `lspci`) we read what those
//! commands read, and where Salt asks DNS (`fqdn`) we read `/etc/hosts`, so
//! that collecting grains never waits on the network.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::read_trimmed;

/// `num_cpus`, `cpu_model`, `cpu_flags` from `/proc/cpuinfo` text.
pub fn cpu_grains(cpuinfo: &str) -> Map<String, Value> {
    let mut num_cpus = 0u64;
    let mut model: Option<String> = None;
    let mut flags: Vec<String> = Vec::new();
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => num_cpus += 1,
            "# processors" => num_cpus = value.parse().unwrap_or(num_cpus),
            "vendor_id" | "model name" | "cpu" => model = Some(value.to_string()),
            "Processor" => {
                model = Some(value.split('-').next().unwrap_or(value).to_string());
                num_cpus = 1;
            }
            "flags" | "Features" => {
                flags = value.split_whitespace().map(String::from).collect();
            }
            _ => {}
        }
    }
    let mut grains = Map::new();
    grains.insert("num_cpus".into(), json!(num_cpus));
    grains.insert(
        "cpu_model".into(),
        json!(model.unwrap_or_else(|| "Unknown".into())),
    );
    grains.insert("cpu_flags".into(), json!(flags));
    grains
}

/// `mem_total` and `swap_total` in MiB from `/proc/meminfo` text.
pub fn memory_grains(meminfo: &str) -> Map<String, Value> {
    let kib = |name: &str| {
        meminfo
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .and_then(|(_, v)| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut grains = Map::new();
    grains.insert("mem_total".into(), json!(kib("MemTotal") / 1024));
    grains.insert("swap_total".into(), json!(kib("SwapTotal") / 1024));
    grains
}

/// `localhost`, `fqdn`, `host`, `domain`, `nodename`: the host name and the
/// fully qualified name `/etc/hosts` gives it (no DNS query).
pub fn name_grains(hostname: &str, hosts: &str) -> Map<String, Value> {
    let fqdn = fqdn_from_hosts(hostname, hosts).unwrap_or_else(|| hostname.to_string());
    let (host, domain) = fqdn.split_once('.').unwrap_or((fqdn.as_str(), ""));
    let mut grains = Map::new();
    grains.insert("localhost".into(), json!(hostname));
    grains.insert("nodename".into(), json!(hostname));
    grains.insert("host".into(), json!(host));
    grains.insert("domain".into(), json!(domain));
    grains.insert("fqdn".into(), json!(fqdn));
    grains
}

/// The canonical name of the `/etc/hosts` line that lists `hostname`, when
/// it is qualified (`10.0.0.5 web1.example.com web1`).
fn fqdn_from_hosts(hostname: &str, hosts: &str) -> Option<String> {
    if hostname.contains('.') {
        return Some(hostname.to_string());
    }
    hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|words| words.len() >= 2)
        .find(|words| words[1..].contains(&hostname))
        .and_then(|words| {
            words[1..]
                .iter()
                .find(|n| n.starts_with(&format!("{hostname}.")))
                .or_else(|| Some(&words[1]).filter(|n| n.contains('.')))
                .map(|n| n.to_string())
        })
}

/// The addresses `/etc/hosts` gives a name (Salt's `fqdn_ip4`/`fqdn_ip6`
/// come from DNS; we do not query it).
pub fn hosts_addresses(name: &str, hosts: &str) -> (Vec<String>, Vec<String>) {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for line in hosts.lines().map(|l| l.split('#').next().unwrap_or("")) {
        let mut words = line.split_whitespace();
        let Some(addr) = words.next() else { continue };
        if !words.any(|w| w == name) {
            continue;
        }
        match addr.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) if !v4.contains(&a.to_string()) => v4.push(a.to_string()),
            Ok(std::net::IpAddr::V6(a)) if !v6.contains(&a.to_string()) => v6.push(a.to_string()),
            _ => {}
        }
    }
    (v4, v6)
}

/// `machine_id` from `/etc/machine-id` or D-Bus's copy.
pub fn machine_id() -> Option<String> {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| read_trimmed(Path::new(p)))
        .filter(|id| !id.is_empty())
}

/// DMI grains Salt reads from `/sys/class/dmi/id` (those readable as this user).
pub fn hardware_grains() -> Map<String, Value> {
    const FILES: [(&str, &str); 8] = [
        ("biosversion", "bios_version"),
        ("biosvendor", "bios_vendor"),
        ("boardname", "board_name"),
        ("productname", "product_name"),
        ("manufacturer", "sys_vendor"),
        ("biosreleasedate", "bios_date"),
        ("uuid", "product_uuid"),
        ("serialnumber", "product_serial"),
    ];
    let dir = Path::new("/sys/class/dmi/id");
    let mut grains = Map::new();
    for (grain, file) in FILES {
        if let Some(value) = read_trimmed(&dir.join(file)) {
            let value = if grain == "uuid" {
                value.to_lowercase()
            } else {
                value
            };
            grains.insert(grain.into(), json!(value));
        }
    }
    grains
}

/// What `virtual` and `virtual_subtype` are decided from.
#[derive(Debug, Default)]
pub struct VirtualEvidence {
    pub product_name: String,
    pub sys_vendor: String,
    pub clocksources: String,
    pub cpuinfo_has_qemu: bool,
    pub xen: bool,
    pub pid1_cgroup: String,
    pub pid1_environ: String,
    pub dockerenv: bool,
    pub containerenv: bool,
}

impl VirtualEvidence {
    pub fn gather(cpuinfo: &str) -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        VirtualEvidence {
            product_name: read("/sys/class/dmi/id/product_name"),
            sys_vendor: read("/sys/class/dmi/id/sys_vendor"),
            clocksources: read(
                "/sys/devices/system/clocksource/clocksource0/available_clocksource",
            ),
            cpuinfo_has_qemu: cpuinfo.contains("QEMU Virtual CPU"),
            xen: Path::new("/proc/xen").is_dir() || Path::new("/sys/bus/xen").is_dir(),
            pid1_cgroup: read("/proc/1/cgroup"),
            pid1_environ: String::from_utf8_lossy(
                &std::fs::read("/proc/1/environ").unwrap_or_default(),
            )
            .into_owned(),
            dockerenv: Path::new("/.dockerenv").exists(),
            containerenv: Path::new("/run/.containerenv").exists(),
        }
    }
}

/// Salt's `virtual` grain (`physical`, `kvm`, `VMware`, `container`, ...)
/// and `virtual_subtype` where there is one.
pub fn virtual_grains(e: &VirtualEvidence) -> Map<String, Value> {
    let mut virt = hypervisor(e).unwrap_or("physical").to_string();
    let mut subtype: Option<&str> = None;
    let cg = &e.pid1_cgroup;
    if cg.contains(":/lxc/") || e.pid1_environ.contains("container=lxc") {
        (virt, subtype) = ("container".into(), Some("LXC"));
    } else if cg.contains(":/kubepods/") {
        subtype = Some("kubernetes");
    } else if cg.contains(":/libpod_parent/") || e.containerenv {
        subtype = Some("libpod");
    } else if [":/system.slice/docker", ":/docker/", ":/docker-ce/"]
        .iter()
        .any(|d| cg.contains(d))
        || e.dockerenv
    {
        (virt, subtype) = ("container".into(), Some("Docker"));
    }
    if subtype.is_some() && virt == "physical" {
        virt = "virtual".into();
    }
    let mut grains = Map::new();
    grains.insert("virtual".into(), json!(virt));
    if let Some(s) = subtype {
        grains.insert("virtual_subtype".into(), json!(s));
    }
    grains
}

/// The hypervisor, from DMI strings, Xen's sysfs and KVM's clock source.
fn hypervisor(e: &VirtualEvidence) -> Option<&'static str> {
    let (product, vendor) = (e.product_name.as_str(), e.sys_vendor.as_str());
    let found = if product.contains("VirtualBox") {
        "VirtualBox"
    } else if product.contains("VMware") || vendor.contains("VMware") {
        "VMware"
    } else if vendor.contains("Microsoft") && product.contains("Virtual Machine") {
        "VirtualPC"
    } else if product.contains("Google") || vendor.contains("Google") {
        "gce"
    } else if product.contains("BHYVE") {
        "bhyve"
    } else if vendor.contains("Amazon EC2") {
        "Nitro"
    } else if e.xen || vendor.contains("Xen") {
        "xen"
    } else if vendor.contains("QEMU")
        || product.contains("KVM")
        || e.cpuinfo_has_qemu
        || e.clocksources.contains("kvm-clock")
    {
        "kvm"
    } else {
        return None;
    };
    Some(found)
}

/// The minion process: `uid`, `gid`, `username`, `groupname`, `pid`.
pub fn process_grains() -> Map<String, Value> {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let username = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    let groupname = nix::unistd::Group::from_gid(gid)
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_default();
    let mut grains = Map::new();
    grains.insert("uid".into(), json!(uid.as_raw()));
    grains.insert("gid".into(), json!(gid.as_raw()));
    grains.insert("username".into(), json!(username));
    grains.insert("groupname".into(), json!(groupname));
    grains.insert("pid".into(), json!(std::process::id()));
    grains
}

/// `shell`, `path`, `systempath`, `cwd` from the minion's environment.
pub fn environment_grains(env: impl Fn(&str) -> Option<String>) -> Map<String, Value> {
    let path = env("PATH").unwrap_or_default().trim().to_string();
    let systempath: Vec<&str> = path.split(':').collect();
    let mut grains = Map::new();
    grains.insert(
        "shell".into(),
        json!(env("SHELL").unwrap_or_else(|| "/bin/sh".into())),
    );
    grains.insert("systempath".into(), json!(systempath));
    grains.insert("path".into(), json!(path));
    if let Ok(cwd) = std::env::current_dir() {
        grains.insert("cwd".into(), json!(cwd.to_string_lossy()));
    }
    grains
}

/// Salt's `locale_info`: Python's `locale.getlocale()` (language and
/// encoding of `LC_ALL`/`LC_CTYPE`/`LANG`), the detected encoding and the
/// local time zone's abbreviation.
pub fn locale_info(env: impl Fn(&str) -> Option<String>) -> Value {
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()));
    let (language, encoding) = match locale.as_deref() {
        None | Some("C" | "POSIX") => (Value::Null, Value::Null),
        Some(l) => {
            let l = l.split('@').next().unwrap_or(l);
            match l.split_once('.') {
                Some((lang, enc)) => (json!(lang), json!(normalize_encoding(enc))),
                None => (json!(l), Value::Null),
            }
        }
    };
    let timezone = brine_common::local_time::zone()
        .to_offset_info(jiff::Timestamp::now())
        .abbreviation()
        .to_string();
    json!({
        "defaultlanguage": language,
        "defaultencoding": encoding,
        "detectedencoding": "utf-8",
        "timezone": timezone,
    })
}

fn normalize_encoding(enc: &str) -> String {
    match enc.to_lowercase().replace('-', "").as_str() {
        "utf8" => "UTF-8".into(),
        "iso88591" => "ISO8859-1".into(),
        _ => enc.to_string(),
    }
}

/// `kernelparams`: `[name, value]` pairs of `/proc/cmdline` (value `null`
/// for a bare flag), split like a shell would.
pub fn kernel_params(cmdline: &str) -> Value {
    let params: Vec<Value> = shell_words(cmdline)
        .into_iter()
        .map(|word| {
            let parts: Vec<&str> = word.split('=').collect();
            let value = match parts.as_slice() {
                [_, v] => json!(v.trim_matches('"')),
                _ => Value::Null,
            };
            json!([parts[0], value])
        })
        .collect();
    Value::Array(params)
}

/// Whitespace-separated words; double quotes group (and are removed).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut in_word) = (false, false);
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// Salt's `server_id`: a stable integer from the minion id.
pub fn server_id(id: &str) -> u64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    // int(sha256, 16) % 2**31: the low 31 bits of the big-endian number.
    let bytes = digest.as_ref();
    let mut tail = [0u8; 4];
    tail.copy_from_slice(&bytes[bytes.len() - 4..]);
    u64::from(u32::from_be_bytes(tail) & 0x7fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_x86_and_arm() {
        let x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\nflags\t\t: fpu vme sse\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU\nflags\t\t: fpu vme sse\n";
        let g = cpu_grains(x86);
        assert_eq!(g["num_cpus"], 2);
        assert_eq!(g["cpu_model"], "Intel(R) Xeon(R) CPU");
        assert_eq!(g["cpu_flags"], json!(["fpu", "vme", "sse"]));
        let arm =
            "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\n";
        let g = cpu_grains(arm);
        assert_eq!(g["num_cpus"], 1);
        assert_eq!(g["cpu_model"], "Unknown");
        assert_eq!(g["cpu_flags"], json!(["fp", "asimd"]));
    }

    #[test]
    fn meminfo_in_mebibytes() {
        let g = memory_grains(
            "MemTotal:        8038836 kB\nMemFree: 1 kB\nSwapTotal:       2097148 kB\n",
        );
        assert_eq!(g["mem_total"], 7850);
        assert_eq!(g["swap_total"], 2047);
        assert_eq!(memory_grains("")["mem_total"], 0);
    }

    #[test]
    fn names_from_etc_hosts() {
        let hosts = "127.0.0.1 localhost\n10.0.0.5 web1.example.com web1 # main\n::1 localhost ip6-localhost\n";
        let g = name_grains("web1", hosts);
        assert_eq!(g["fqdn"], "web1.example.com");
        assert_eq!(g["host"], "web1");
        assert_eq!(g["domain"], "example.com");
        assert_eq!(g["nodename"], "web1");
        let g = name_grains("lonely", hosts);
        assert_eq!(
            (g["fqdn"].clone(), g["domain"].clone()),
            (json!("lonely"), json!(""))
        );
        let g = name_grains("db.example.org", "");
        assert_eq!(
            (g["host"].clone(), g["domain"].clone()),
            (json!("db"), json!("example.org"))
        );
        assert_eq!(
            hosts_addresses("web1.example.com", hosts),
            (vec!["10.0.0.5".to_string()], vec![])
        );
    }

    #[test]
    fn virtual_detection() {
        let g = virtual_grains(&VirtualEvidence::default());
        assert_eq!(g["virtual"], "physical");
        let kvm = VirtualEvidence {
            clocksources: "kvm-clock tsc acpi_pm\n".into(),
            ..Default::default()
        };
        assert_eq!(virtual_grains(&kvm)["virtual"], "kvm");
        let vmware = VirtualEvidence {
            product_name: "VMware Virtual Platform\n".into(),
            ..Default::default()
        };
        assert_eq!(virtual_grains(&vmware)["virtual"], "VMware");
        let docker = VirtualEvidence {
            pid1_cgroup: "12:cpu:/docker/abc\n".into(),
            clocksources: "kvm-clock".into(),
            ..Default::default()
        };
        let g = virtual_grains(&docker);
        assert_eq!(
            (g["virtual"].clone(), g["virtual_subtype"].clone()),
            (json!("container"), json!("Docker"))
        );
        let k8s = VirtualEvidence {
            pid1_cgroup: "1:name=x:/kubepods/burstable/pod1\n".into(),
            ..Default::default()
        };
        assert_eq!(virtual_grains(&k8s)["virtual"], "virtual");
    }

    #[test]
    fn environment_and_locale() {
        let env = |k: &str| match k {
            "PATH" => Some("/usr/bin:/bin".to_string()),
            "LANG" => Some("en_US.utf8".to_string()),
            _ => None,
        };
        let g = environment_grains(env);
        assert_eq!(g["shell"], "/bin/sh");
        assert_eq!(g["systempath"], json!(["/usr/bin", "/bin"]));
        let l = locale_info(env);
        assert_eq!(l["defaultlanguage"], "en_US");
        assert_eq!(l["defaultencoding"], "UTF-8");
        let c = locale_info(|k| (k == "LC_ALL").then(|| "C".to_string()));
        assert_eq!(c["defaultlanguage"], Value::Null);
        assert!(c["timezone"].is_string());
    }

    #[test]
    fn kernel_params_like_salt() {
        let v = kernel_params("BOOT_IMAGE=/vmlinuz root=UUID=abc ro quiet x=\"a b\"\n");
        assert_eq!(
            v,
            json!([
                ["BOOT_IMAGE", "/vmlinuz"],
                ["root", null],
                ["ro", null],
                ["quiet", null],
                ["x", "a b"]
            ])
        );
    }

    #[test]
    fn server_id_is_stable_and_31_bits() {
        let a = server_id("web1");
        assert_eq!(a, server_id("web1"));
        assert!(a < (1 << 31));
        assert_ne!(a, server_id("web2"));
    }
}
