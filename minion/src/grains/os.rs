//! Operating system grains: `kernel*`, `os`, `os_family`, `osrelease`,
//! `osmajorrelease`, `oscodename`, `osfullname`, `osfinger`, `osarch`,
//! `lsb_distrib_*`, `init`, `ps`.
//!
//! Read from `/proc/sys/kernel/*` and `/etc/os-release` (and
//! `/etc/lsb-release` where it exists), derived the way Salt's
//! `salt/grains/core.py` derives them as it runs in Salt's own packages (where
//! the `lsb_release` Python module is absent, so its "legacy" rules apply).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::read_trimmed;

/// `KEY=value` pairs of an os-release or lsb-release file.
pub type KeyValues = BTreeMap<String, String>;

/// Kernel grains from `/proc/sys/kernel`, as Python's `platform.uname()`.
pub fn kernel(grains: &mut Map<String, Value>) {
    let read = |name: &str| read_trimmed(&Path::new("/proc/sys/kernel").join(name));
    grains.insert(
        "kernel".into(),
        json!(read("ostype").unwrap_or_else(|| "Linux".into())),
    );
    grains.insert(
        "kernelrelease".into(),
        json!(read("osrelease").unwrap_or_default()),
    );
    grains.insert(
        "kernelversion".into(),
        json!(read("version").unwrap_or_default()),
    );
    // /proc/sys/kernel/arch exists on newer kernels; the build target is the
    // same machine name everywhere else.
    let arch = read("arch").unwrap_or_else(|| std::env::consts::ARCH.to_string());
    grains.insert("cpuarch".into(), json!(arch));
}

/// Distribution grains from the os-release and lsb-release files.
pub fn distribution(grains: &mut Map<String, Value>) {
    let os_release = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| parse_key_values(&text))
        .unwrap_or_default();
    let lsb = std::fs::read_to_string("/etc/lsb-release")
        .map(|text| parse_lsb_release(&text))
        .unwrap_or_default();
    grains.extend(distribution_grains(&os_release, &lsb));
}

/// Parse os-release: `KEY=value`, `KEY="value"` or `KEY='value'`, with shell
/// escapes (`\"`, `\$`, ...) undone; comments and junk lines skipped.
pub fn parse_key_values(text: &str) -> KeyValues {
    let mut out = KeyValues::new();
    for line in text.lines().map(str::trim) {
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        out.insert(key.to_string(), unquote(raw));
    }
    out
}

fn unquote(raw: &str) -> String {
    let inner = raw
        .strip_prefix('"')
        .map(|r| r.strip_suffix('"').unwrap_or(r))
        .or_else(|| {
            raw.strip_prefix('\'')
                .map(|r| r.strip_suffix('\'').unwrap_or(r))
        })
        .unwrap_or(raw);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && matches!(next, '$' | '"' | '\'' | '\\' | '`')
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// `/etc/lsb-release`: only the `DISTRIB_*` keys Salt reads.
pub fn parse_lsb_release(text: &str) -> KeyValues {
    parse_key_values(text)
        .into_iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "DISTRIB_ID" | "DISTRIB_RELEASE" | "DISTRIB_CODENAME" | "DISTRIB_DESCRIPTION"
            )
        })
        .map(|(k, v)| (k, v.trim_end().to_string()))
        .collect()
}

/// The distribution grains for parsed os-release and lsb-release data.
pub fn distribution_grains(os_release: &KeyValues, lsb: &KeyValues) -> Map<String, Value> {
    let get = |k: &str| os_release.get(k).map(String::as_str);
    let name = get("NAME").unwrap_or("Linux");
    let id = get("ID").unwrap_or("linux");
    let mut os = derive_os(name, id);
    let mut osfullname = name.trim().to_string();
    let lsb_id = lsb
        .get("DISTRIB_ID")
        .cloned()
        .unwrap_or_else(|| osfullname.clone());
    let mut lsb_release = lsb
        .get("DISTRIB_RELEASE")
        .cloned()
        .or_else(|| get("VERSION_ID").map(String::from));
    let lsb_codename = lsb.get("DISTRIB_CODENAME").cloned().or_else(|| {
        get("VERSION_CODENAME")
            .or_else(|| get("PRETTY_NAME"))
            .map(String::from)
    });
    if let Some(suse) = suse_quirks(os_release) {
        os = "SUSE".into();
        osfullname = suse.fullname.unwrap_or(osfullname);
        lsb_release = suse.release.or(lsb_release);
    }
    let mut grains = Map::new();
    grains.insert("lsb_distrib_id".into(), json!(lsb_id));
    if let Some(release) = &lsb_release {
        grains.insert("lsb_distrib_release".into(), json!(release));
    }
    if let Some(codename) = &lsb_codename {
        grains.insert("lsb_distrib_codename".into(), json!(codename));
    }
    if let Some(description) = lsb.get("DISTRIB_DESCRIPTION") {
        grains.insert("lsb_distrib_description".into(), json!(description));
    }
    let osrelease = lsb_release.unwrap_or_default().trim().to_string();
    let oscodename = codename(&os, lsb_codename.as_deref().unwrap_or(""), get("VERSION"));
    grains.insert("os_family".into(), json!(os_family(&os)));
    grains.insert("osfullname".into(), json!(osfullname));
    grains.insert("oscodename".into(), json!(oscodename));
    if !osrelease.is_empty() {
        grains.extend(release_grains(&os, &osfullname, &osrelease));
    }
    grains.insert("osrelease".into(), json!(osrelease));
    grains.insert("os".into(), json!(os));
    grains
}

struct Suse {
    fullname: Option<String>,
    release: Option<String>,
}

/// Salt reads openSUSE and SLES from the CPE name: `os` becomes `SUSE`.
fn suse_quirks(os_release: &KeyValues) -> Option<Suse> {
    let cpe: Vec<&str> = os_release.get("CPE_NAME")?.split(':').collect();
    if cpe.len() < 5 || cpe[0] != "cpe" {
        return None;
    }
    let (vendor, version) = if cpe[1].starts_with('/') {
        (cpe[2], cpe[4])
    } else {
        (*cpe.get(3)?, *cpe.get(5)?)
    };
    if !matches!(vendor.to_lowercase().as_str(), "suse" | "opensuse") {
        return None;
    }
    let fullname = match (os_release.get("NAME"), os_release.get("VERSION")) {
        (Some(n), _) if n == "openSUSE Leap" => Some("Leap".to_string()),
        (_, Some(v)) if v == "Tumbleweed" => Some(v.clone()),
        _ => None,
    };
    let release = (vendor == "opensuse" && !version.is_empty() && version != "*")
        .then(|| version.to_string());
    Some(Suse { fullname, release })
}

/// The codename, with Salt's bracket quirk (`Rocky Linux 9.3 (Blue Onyx)`).
fn codename(os: &str, lsb_codename: &str, version: Option<&str>) -> String {
    let mut codename = lsb_codename.trim().to_string();
    if ["Rocky", "AlmaLinux", "AstraLinuxSE"]
        .iter()
        .any(|o| os.contains(o))
        && let Some(inside) = bracketed(&codename)
    {
        codename = if os == "AstraLinuxSE" {
            inside
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_lowercase()
        } else {
            inside.to_string()
        };
    }
    if codename.contains("Red Hat") {
        // Salt falls back to the distro codename, e.g. `9.3 (Plow)` -> Plow.
        codename = version.and_then(bracketed).unwrap_or("").to_string();
    }
    codename
}

fn bracketed(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once('(')?;
    Some(rest.split_once(')').map_or(rest, |(inside, _)| inside))
}

/// Salt's `_derive_os_grain`: a short name from the os-release `NAME`.
pub fn derive_os(name: &str, id: &str) -> String {
    match (id, name) {
        ("astra", "Astra Linux (Orel)") => return "AstraLinuxCE".into(),
        ("astra", "Astra Linux (Smolensk)") => return "AstraLinuxSE".into(),
        ("pop", "Pop!_OS") => return "Pop".into(),
        _ => {}
    }
    let distro = strip_linux_word(name).trim().to_string();
    let short: String = distro
        .replace(' ', "")
        .to_lowercase()
        .chars()
        .take(10)
        .collect();
    OS_NAME_MAP
        .iter()
        .find(|(k, _)| *k == short)
        .map_or(distro, |(_, v)| (*v).to_string())
}

/// Salt's `\W(?:gnu/)?linux` removal, case-insensitively: `Debian GNU/Linux`
/// -> `Debian`, `Rocky Linux` -> `Rocky`, but `AlmaLinux` stays.
fn strip_linux_word(name: &str) -> String {
    let lower = name.to_lowercase();
    if lower.len() != name.len() {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let Some(c) = name[i..].chars().next() else {
            break;
        };
        if !c.is_alphanumeric() && c != '_' {
            let rest = &lower[i + c.len_utf8()..];
            let skip = ["gnu/linux", "linux"]
                .iter()
                .find(|w| rest.starts_with(*w))
                .map(|w| w.len());
            if let Some(len) = skip {
                i += c.len_utf8() + len;
                continue;
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Salt's `_OS_NAME_MAP`: first ten letters of the name -> `os`.
const OS_NAME_MAP: &[(&str, &str)] = &[
    ("redhatente", "RedHat"),
    ("gentoobase", "Gentoo"),
    ("archarm", "Arch ARM"),
    ("arch", "Arch"),
    ("debian", "Debian"),
    ("raspbian", "Raspbian"),
    ("fedoraremi", "Fedora"),
    ("chapeau", "Chapeau"),
    ("korora", "Korora"),
    ("amazonami", "Amazon"),
    ("alt", "ALT"),
    ("enterprise", "OEL"),
    ("oracleserv", "OEL"),
    ("cloudserve", "CloudLinux"),
    ("cloudlinux", "CloudLinux"),
    ("almalinux", "AlmaLinux"),
    ("pidora", "Fedora"),
    ("scientific", "ScientificLinux"),
    ("synology", "Synology"),
    ("nilrt", "NILinuxRT"),
    ("poky", "Poky"),
    ("manjaro", "Manjaro"),
    ("manjarolin", "Manjaro"),
    ("univention", "Univention"),
    ("antergos", "Antergos"),
    ("sles", "SUSE"),
    ("void", "Void"),
    ("slesexpand", "RES"),
    ("linuxmint", "Mint"),
    ("neon", "KDE neon"),
    ("pop", "Pop"),
    ("rocky", "Rocky"),
    ("alibabaclo", "Alinux"),
    ("mendel", "Mendel"),
];

/// Salt's `_OS_FAMILY_MAP`: `os` -> `os_family` (default: `os` itself).
const OS_FAMILY_MAP: &[(&str, &str)] = &[
    ("Ubuntu", "Debian"),
    ("Fedora", "RedHat"),
    ("Chapeau", "RedHat"),
    ("Korora", "RedHat"),
    ("FedBerry", "RedHat"),
    ("CentOS", "RedHat"),
    ("CentOS Stream", "RedHat"),
    ("GoOSe", "RedHat"),
    ("Scientific", "RedHat"),
    ("Amazon", "RedHat"),
    ("CloudLinux", "RedHat"),
    ("AlmaLinux", "RedHat"),
    ("OVS", "RedHat"),
    ("OEL", "RedHat"),
    ("XCP", "RedHat"),
    ("XCP-ng", "RedHat"),
    ("XenServer", "RedHat"),
    ("RES", "RedHat"),
    ("Sangoma", "RedHat"),
    ("VMware Photon OS", "RedHat"),
    ("Mandrake", "Mandriva"),
    ("Mint", "Debian"),
    ("VMwareESX", "VMware"),
    ("Bluewhite64", "Bluewhite"),
    ("Slamd64", "Slackware"),
    ("SLES", "Suse"),
    ("SUSE Enterprise Server", "Suse"),
    ("SLED", "Suse"),
    ("openSUSE", "Suse"),
    ("SUSE", "Suse"),
    ("openSUSE Leap", "Suse"),
    ("openSUSE Tumbleweed", "Suse"),
    ("SLES_SAP", "Suse"),
    ("Arch ARM", "Arch"),
    ("Manjaro", "Arch"),
    ("Manjaro ARM", "Arch"),
    ("Antergos", "Arch"),
    ("EndeavourOS", "Arch"),
    ("ALT", "RedHat"),
    ("Trisquel", "Debian"),
    ("GCEL", "Debian"),
    ("Linaro", "Debian"),
    ("elementary OS", "Debian"),
    ("elementary", "Debian"),
    ("Univention", "Debian"),
    ("ScientificLinux", "RedHat"),
    ("Raspbian", "Debian"),
    ("Devuan", "Debian"),
    ("antiX", "Debian"),
    ("Kali", "Debian"),
    ("Parrot OS", "Debian"),
    ("neon", "Debian"),
    ("Cumulus", "Debian"),
    ("Deepin", "Debian"),
    ("NILinuxRT", "NILinuxRT"),
    ("KDE neon", "Debian"),
    ("Void", "Void"),
    ("IDMS", "Debian"),
    ("Funtoo", "Gentoo"),
    ("TurnKey", "Debian"),
    ("Pop", "Debian"),
    ("Rocky", "RedHat"),
    ("AstraLinuxCE", "Debian"),
    ("AstraLinuxSE", "Debian"),
    ("Alinux", "RedHat"),
    ("Mendel", "Debian"),
    ("OSMC", "Debian"),
];

pub fn os_family(os: &str) -> String {
    OS_FAMILY_MAP
        .iter()
        .find(|(k, _)| *k == os)
        .map_or(os, |(_, v)| v)
        .to_string()
}

/// `osrelease_info`, `osmajorrelease` (an int) and `osfinger`.
fn release_grains(os: &str, osfullname: &str, osrelease: &str) -> Map<String, Value> {
    let info: Vec<Value> = osrelease
        .split('.')
        .map(|part| match part.parse::<u64>() {
            Ok(n) if part.bytes().all(|b| b.is_ascii_digit()) => json!(n),
            _ => json!(part),
        })
        .collect();
    let mut grains = Map::new();
    if let Some(major) = info.first().and_then(Value::as_u64) {
        grains.insert("osmajorrelease".into(), json!(major));
    }
    let finger_name = if ["Debian", "FreeBSD", "OpenBSD", "NetBSD", "Mac", "Raspbian"].contains(&os)
    {
        os
    } else {
        osfullname
    };
    let finger_version = if ["Ubuntu", "Pop"].contains(&os) {
        osrelease.to_string()
    } else {
        info.first()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .unwrap_or_default()
    };
    grains.insert(
        "osfinger".into(),
        json!(format!("{finger_name}-{finger_version}")),
    );
    grains.insert("osrelease_info".into(), Value::Array(info));
    grains
}

/// Salt's `osarch`: the package architecture. Debian's comes from
/// `dpkg --print-architecture`; we map the machine name the same way dpkg does
/// instead of running it.
pub fn osarch(os_family: &str, cpuarch: &str) -> String {
    if os_family != "Debian" {
        return cpuarch.to_string();
    }
    match cpuarch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i486" | "i586" | "i686" => "i386",
        "armv7l" | "armv6l" => "armhf",
        "ppc64le" => "ppc64el",
        "mips64" => "mips64el",
        "loongarch64" => "loong64",
        other => other,
    }
    .to_string()
}

/// Salt's `init` grain: systemd if `/run/systemd/system` exists, otherwise
/// what PID 1's command line names.
pub fn init_system() -> String {
    if crate::modules::service::systemd::booted() {
        return "systemd".into();
    }
    let cmdline = std::fs::read("/proc/1/cmdline").unwrap_or_default();
    let words: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    init_from_cmdline(&words, |path| std::fs::read_link(path).ok())
}

/// The init system PID 1's command line points at; `resolve` follows
/// symlinks (`/sbin/init` -> `/lib/systemd/systemd`).
pub fn init_from_cmdline(
    words: &[String],
    resolve: impl Fn(&str) -> Option<std::path::PathBuf>,
) -> String {
    let Some(first) = words.first() else {
        return "unknown".into();
    };
    let target = resolve(first)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| first.clone());
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    for known in ["systemd", "upstart", "runit"] {
        if base(&target).contains(known) {
            return known.into();
        }
    }
    if target.ends_with("bin/init") {
        return "sysvinit".into();
    }
    let names: Vec<String> = words.iter().map(|w| base(w)).collect();
    for known in ["supervisord", "dumb-init", "tini"] {
        if names.iter().any(|n| n == known) {
            return known.into();
        }
    }
    if names.iter().any(|n| n == "my_init") {
        return "runit".into();
    }
    "unknown".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grains_for(os_release: &str, lsb: &str) -> Map<String, Value> {
        distribution_grains(&parse_key_values(os_release), &parse_lsb_release(lsb))
    }

    const DEBIAN_12: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"#;

    #[test]
    fn debian_12() {
        let g = grains_for(DEBIAN_12, "");
        assert_eq!(g["os"], "Debian");
        assert_eq!(g["os_family"], "Debian");
        assert_eq!(g["osfullname"], "Debian GNU/Linux");
        assert_eq!(g["osrelease"], "12");
        assert_eq!(g["osmajorrelease"], 12);
        assert_eq!(g["oscodename"], "bookworm");
        assert_eq!(g["osfinger"], "Debian-12");
        assert_eq!(g["osrelease_info"], json!([12]));
        assert_eq!(g["lsb_distrib_id"], "Debian GNU/Linux");
    }

    #[test]
    fn ubuntu_uses_lsb_release() {
        let os_release = r#"NAME="Ubuntu"
VERSION="22.04.3 LTS (Jammy Jellyfish)"
ID=ubuntu
ID_LIKE=debian
VERSION_ID="22.04"
VERSION_CODENAME=jammy
"#;
        let lsb = "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.3 LTS\"\n";
        let g = grains_for(os_release, lsb);
        assert_eq!(g["os"], "Ubuntu");
        assert_eq!(g["os_family"], "Debian");
        assert_eq!(g["osrelease"], "22.04");
        assert_eq!(g["osmajorrelease"], 22);
        assert_eq!(g["osfinger"], "Ubuntu-22.04");
        assert_eq!(g["lsb_distrib_description"], "Ubuntu 22.04.3 LTS");
        assert_eq!(g["oscodename"], "jammy");
    }

    #[test]
    fn rocky_takes_the_codename_from_the_brackets() {
        let os_release = r#"NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
"#;
        let g = grains_for(os_release, "");
        assert_eq!(g["os"], "Rocky");
        assert_eq!(g["os_family"], "RedHat");
        assert_eq!(g["osrelease"], "9.3");
        assert_eq!(g["osmajorrelease"], 9);
        assert_eq!(g["oscodename"], "Blue Onyx");
        assert_eq!(g["osfinger"], "Rocky Linux-9");
    }

    #[test]
    fn rhel_centos_stream_fedora_alma() {
        let g = grains_for(
            "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.3 (Plow)\"\nID=\"rhel\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.3 (Plow)\"\n",
            "",
        );
        assert_eq!(
            (g["os"].clone(), g["os_family"].clone()),
            (json!("RedHat"), json!("RedHat"))
        );
        assert_eq!(g["oscodename"], "Plow");
        let g = grains_for(
            "NAME=\"CentOS Stream\"\nVERSION=\"9\"\nID=\"centos\"\nVERSION_ID=\"9\"\nPRETTY_NAME=\"CentOS Stream 9\"\n",
            "",
        );
        assert_eq!(
            (g["os"].clone(), g["os_family"].clone()),
            (json!("CentOS Stream"), json!("RedHat"))
        );
        assert_eq!(g["oscodename"], "CentOS Stream 9");
        let g = grains_for(
            "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=39\nVERSION_CODENAME=\"\"\n",
            "",
        );
        assert_eq!(
            (g["os"].clone(), g["os_family"].clone()),
            (json!("Fedora"), json!("RedHat"))
        );
        let g = grains_for(
            "NAME=\"AlmaLinux\"\nID=\"almalinux\"\nVERSION_ID=\"9.3\"\nVERSION=\"9.3 (Shamrock Pampas Cat)\"\nPRETTY_NAME=\"AlmaLinux 9.3 (Shamrock Pampas Cat)\"\n",
            "",
        );
        assert_eq!(
            (g["os"].clone(), g["os_family"].clone()),
            (json!("AlmaLinux"), json!("RedHat"))
        );
        assert_eq!(g["oscodename"], "Shamrock Pampas Cat");
    }

    #[test]
    fn rolling_releases_have_no_major_release() {
        let g = grains_for(
            "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n",
            "",
        );
        assert_eq!(
            (g["os"].clone(), g["os_family"].clone()),
            (json!("Arch"), json!("Arch"))
        );
        assert_eq!(g["osrelease"], "");
        assert!(g.get("osmajorrelease").is_none() && g.get("osfinger").is_none());
    }

    #[test]
    fn suse_mint_alpine_and_defaults() {
        let g = grains_for(
            "NAME=\"openSUSE Leap\"\nVERSION=\"15.5\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.5\"\nCPE_NAME=\"cpe:/o:opensuse:leap:15.5\"\n",
            "",
        );
        assert_eq!(
            (g["os"].clone(), g["os_family"].clone()),
            (json!("SUSE"), json!("Suse"))
        );
        assert_eq!(g["osfullname"], "Leap");
        assert_eq!(g["osrelease"], "15.5");
        let g = grains_for(
            "NAME=\"Linux Mint\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"21.2\"\n",
            "",
        );
        assert_eq!(
            (g["os"].clone(), g["os_family"].clone()),
            (json!("Mint"), json!("Debian"))
        );
        let g = grains_for("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n", "");
        assert_eq!(
            (g["os"].clone(), g["os_family"].clone()),
            (json!("Alpine"), json!("Alpine"))
        );
        assert_eq!(g["osrelease_info"], json!([3, 19, 1]));
        let g = grains_for("", "");
        assert_eq!(g["os"], "Linux");
    }

    #[test]
    fn os_release_quoting() {
        let kv =
            parse_key_values("# comment\nA=\"x \\\"y\\\" \\$z\"\nB='single'\nC=bare\nnot a line\n");
        assert_eq!(kv["A"], "x \"y\" $z");
        assert_eq!(kv["B"], "single");
        assert_eq!(kv["C"], "bare");
        assert_eq!(kv.len(), 3);
    }

    #[test]
    fn osarch_follows_dpkg_on_debian() {
        assert_eq!(osarch("Debian", "x86_64"), "amd64");
        assert_eq!(osarch("Debian", "aarch64"), "arm64");
        assert_eq!(osarch("RedHat", "x86_64"), "x86_64");
    }

    #[test]
    fn init_from_pid_1() {
        let words = |ws: &[&str]| ws.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let none = |_: &str| None;
        assert_eq!(
            init_from_cmdline(&words(&["/sbin/init"]), |_| Some(
                "/lib/systemd/systemd".into()
            )),
            "systemd"
        );
        assert_eq!(init_from_cmdline(&words(&["/sbin/init"]), none), "sysvinit");
        assert_eq!(
            init_from_cmdline(&words(&["/usr/bin/tini", "--", "app"]), none),
            "tini"
        );
        assert_eq!(init_from_cmdline(&words(&["bash"]), none), "unknown");
        assert_eq!(init_from_cmdline(&[], none), "unknown");
    }
}
