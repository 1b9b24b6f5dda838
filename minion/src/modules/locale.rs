//! Salt's `locale` execution module (`localemod`): the system locale
//! (`get_locale`, `set_locale`) and the generated locales (`list_avail`,
//! `avail`, `gen_locale`), as Salt does it on Linux.
//!
//! Under a booted systemd the system locale is `localectl`'s; otherwise it
//! is the distribution's file (`/etc/default/locale` on Debian). Edits of
//! those files go through `file.replace`, as Salt's do.

use std::path::Path;

use brine_common::functions::{FnError, Functions};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{HostCmd, required_str, which};

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register("locale.list_avail", "", LIST_AVAIL_DOC, |_, _| async {
        Ok(json!(list_avail().await?).into())
    });
    f.register("locale.avail", "locale", AVAIL_DOC, |_, call| async move {
        let locale = required_str(&call, 0, "locale")?;
        Ok(json!(avail(&locale).await?).into())
    });
    f.register(
        "locale.get_locale",
        "",
        GET_LOCALE_DOC,
        |ctx, _| async move { Ok(json!(get_locale(&ctx.grains()).await?).into()) },
    );
    f.register(
        "locale.set_locale",
        "locale",
        SET_LOCALE_DOC,
        |ctx, call| async move {
            let locale = required_str(&call, 0, "locale")?;
            Ok(json!(set_locale(&ctx, &locale).await?).into())
        },
    );
    f.register(
        "locale.gen_locale",
        "locale, **kwargs",
        GEN_LOCALE_DOC,
        |ctx, call| async move {
            let locale = required_str(&call, 0, "locale")?;
            Ok(json!(gen_locale(&ctx, &locale).await?).into())
        },
    );
}

/// `salt.utils.locales.split_locale`:
/// `language[_territory][.codeset][@modifier] [charmap]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocaleParts {
    pub language: String,
    pub territory: String,
    pub codeset: String,
    pub modifier: String,
    pub charmap: String,
}

/// Split once at `sep`: the part before and the (possibly empty) rest.
fn split_once_or_all(s: &str, sep: char) -> (&str, &str) {
    s.split_once(sep).unwrap_or((s, ""))
}

pub fn split_locale(loc: &str) -> LocaleParts {
    let (work, charmap) = split_once_or_all(loc, ' ');
    let (work, modifier) = split_once_or_all(work, '@');
    let (work, codeset) = split_once_or_all(work, '.');
    let (language, territory) = split_once_or_all(work, '_');
    LocaleParts {
        language: language.into(),
        territory: territory.into(),
        codeset: codeset.into(),
        modifier: modifier.into(),
        charmap: charmap.into(),
    }
}

/// `salt.utils.locales.join_locale`.
pub fn join_locale(p: &LocaleParts) -> String {
    let mut loc = p.language.clone();
    for (sep, part) in [
        ('_', &p.territory),
        ('.', &p.codeset),
        ('@', &p.modifier),
        (' ', &p.charmap),
    ] {
        if !part.is_empty() {
            loc.push(sep);
            loc.push_str(part);
        }
    }
    loc
}

/// `salt.utils.locales.normalize_locale`: the spelling `locale -a` uses
/// (`en_US.UTF-8 UTF-8` -> `en_US.utf8`).
pub fn normalize_locale(loc: &str) -> String {
    let mut p = split_locale(loc);
    p.territory = p.territory.to_uppercase();
    p.codeset = p.codeset.to_lowercase().replace('-', "");
    p.charmap.clear();
    join_locale(&p)
}

/// `locale -a`, split at newlines as Salt does.
async fn list_avail() -> Result<Vec<String>, FnError> {
    let out = HostCmd::new("locale").arg("-a").output().await?;
    Ok(out
        .stdout
        .trim_end_matches('\n')
        .split('\n')
        .map(String::from)
        .collect())
}

async fn avail(locale: &str) -> Result<bool, FnError> {
    let wanted = normalize_locale(locale);
    Ok(list_avail()
        .await?
        .iter()
        .any(|x| normalize_locale(x.trim()) == wanted))
}

fn grain<'a>(grains: &'a Map<String, Value>, key: &str) -> &'a str {
    grains.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The file (and the key in it) that holds the system locale, by OS family.
fn locale_file(os_family: &str) -> Option<(&'static str, &'static str)> {
    match os_family {
        "Suse" => Some(("/etc/sysconfig/language", "RC_LANG")),
        "RedHat" => Some(("/etc/sysconfig/i18n", "LANG")),
        "Debian" => Some(("/etc/default/locale", "LANG")),
        "Solaris" => Some(("/etc/default/init", "LANG")),
        _ => None,
    }
}

/// Salt's reading of `grep "^KEY=" FILE`: the text between the first and
/// second `=` of the matching lines, quotes removed; "" when none match.
pub fn value_in(text: &str, key: &str) -> String {
    let prefix = format!("{key}=");
    let matched: Vec<&str> = text.lines().filter(|l| l.starts_with(&prefix)).collect();
    matched
        .join("\n")
        .split('=')
        .nth(1)
        .unwrap_or("")
        .replace('"', "")
}

async fn get_locale(grains: &Map<String, Value>) -> Result<String, FnError> {
    if super::service::systemd::booted() {
        return localectl_lang().await;
    }
    let family = grain(grains, "os_family");
    let Some((file, key)) = locale_file(family) else {
        return Err(FnError::Execution(format!(
            "Error: \"{}\" is unsupported!",
            grain(grains, "oscodename")
        )));
    };
    let text = std::fs::read_to_string(file).unwrap_or_default();
    Ok(value_in(&text, key))
}

/// `LANG` of `localectl status`'s "System Locale".
async fn localectl_lang() -> Result<String, FnError> {
    if which("localectl").is_none() {
        return Err(FnError::Execution("Unable to find \"localectl\"".into()));
    }
    let out = HostCmd::new("localectl").arg("status").output().await?;
    Ok(system_locale_lang(&out.stdout))
}

/// The `LANG=` value in `localectl status` output's "System Locale" block.
pub fn system_locale_lang(status: &str) -> String {
    let mut key = String::new();
    for line in status.lines() {
        let data = match line.split_once(": ") {
            Some((k, d)) => {
                key = k.trim().to_lowercase().replace(' ', "_");
                d
            }
            None => line.trim(),
        };
        if key == "system_locale"
            && let Some(("LANG", value)) = data.trim().split_once('=')
        {
            return value.to_string();
        }
    }
    String::new()
}

/// `file.replace` with `append_if_not_found`.
async fn replace_or_append(
    ctx: &MinionCtx,
    file: &str,
    pattern: &str,
    repl: &str,
) -> Result<(), FnError> {
    let mut kw = Map::new();
    kw.insert("append_if_not_found".into(), json!(true));
    ctx.call_function(
        "file.replace",
        vec![json!(file), json!(pattern), json!(repl)],
        kw,
    )
    .await
    .map(|_| ())
}

async fn set_locale(ctx: &MinionCtx, locale: &str) -> Result<bool, FnError> {
    let grains = ctx.grains();
    let family = grain(&grains, "os_family");
    let major = grains
        .get("osmajorrelease")
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        .unwrap_or(0);
    if super::service::systemd::booted() && !(family == "Debian" && major >= 13) {
        let out = HostCmd::new("localectl")
            .args(["set-locale", &format!("LANG={locale}")])
            .output()
            .await?;
        return Ok(out.success());
    }
    match family {
        "Debian" => {
            let Some(update) = which("update-locale") else {
                return Err(FnError::Execution(
                    "Cannot set locale: \"update-locale\" was not found.".into(),
                ));
            };
            HostCmd::new(&update.display().to_string()).output().await?;
            let repl = format!("LANG=\"{locale}\"");
            replace_or_append(ctx, "/etc/default/locale", "^LANG=.*", &repl).await?;
        }
        "Suse" | "RedHat" => {
            let Some((file, key)) = locale_file(family) else {
                return Ok(false);
            };
            if !Path::new(file).exists() {
                std::fs::write(file, "").map_err(|e| FnError::Execution(format!("{file}: {e}")))?;
            }
            let repl = format!("{key}=\"{locale}\"");
            replace_or_append(ctx, file, &format!("^{key}=.*"), &repl).await?;
        }
        _ => {
            return Err(FnError::Execution("Error: Unsupported platform!".into()));
        }
    }
    Ok(true)
}

/// Debian's `gen_locale`: the locale must be listed in
/// `/usr/share/i18n/SUPPORTED`; it is enabled in `/etc/locale.gen` and
/// built with `locale-gen`.
async fn gen_locale(ctx: &MinionCtx, locale: &str) -> Result<bool, FnError> {
    let grains = ctx.grains();
    let os = grain(&grains, "os");
    let mut parts = split_locale(locale);
    let mut locale = locale.to_string();
    if parts.charmap.is_empty() && os != "Ubuntu" {
        parts.charmap = parts.codeset.clone();
        locale = join_locale(&parts);
    }
    let valid = if os == "Debian" || grain(&grains, "os_family") == "Gentoo" {
        let supported = std::fs::read_to_string("/usr/share/i18n/SUPPORTED").unwrap_or_default();
        supported.lines().any(|l| l == locale)
    } else {
        let dir = "/usr/share/i18n/locales";
        let search = format!("{}_{}", parts.language, parts.territory);
        std::fs::read_dir(dir)
            .map_err(|_| FnError::Execution(format!("Locale \"{locale}\" is not available.")))?
            .flatten()
            .any(|e| e.file_name().to_string_lossy() == search)
    };
    if !valid {
        return Ok(false);
    }
    if Path::new("/etc/locale.gen").exists() {
        let pattern = format!("^\\s*#\\s*{locale}\\s*$");
        replace_or_append(ctx, "/etc/locale.gen", &pattern, &format!("{locale}\n")).await?;
    }
    let cmd = if which("locale-gen").is_some() {
        let target = if os == "Ubuntu" {
            normalize_locale(&locale)
        } else {
            locale.clone()
        };
        HostCmd::new("locale-gen").arg(target)
    } else if which("localedef").is_some() {
        let name = format!("{}_{}", parts.language, parts.territory);
        HostCmd::new("localedef").args([
            "--force".to_string(),
            "-i".into(),
            name.clone(),
            "-f".into(),
            parts.codeset.clone(),
            format!("{name}.{}", parts.codeset),
            "--quiet".into(),
        ])
    } else {
        return Err(FnError::Execution(
            "Command \"locale-gen\" or \"localedef\" was not found on this system.".into(),
        ));
    };
    Ok(cmd.output().await?.success())
}

const LIST_AVAIL_DOC: &str =
    "Lists available (compiled) locales\n\nCLI Example:\n\n    brine '*' locale.list_avail";
const AVAIL_DOC: &str =
    "Check if a locale is available.\n\nCLI Example:\n\n    brine '*' locale.avail 'en_US.UTF-8'";
const GET_LOCALE_DOC: &str =
    "Get the current system locale\n\nCLI Example:\n\n    brine '*' locale.get_locale";
const SET_LOCALE_DOC: &str = "Sets the current system locale\n\nCLI Example:\n\n    brine '*' locale.set_locale 'en_US.UTF-8'";
const GEN_LOCALE_DOC: &str = "Generate a locale. Options:\n\nlocale\n    Any locale listed in /usr/share/i18n/locales or\n    /usr/share/i18n/SUPPORTED for Debian and Gentoo based distributions,\n    which require the charmap to be specified as part of the locale\n    when generating it.\n\nCLI Example:\n\n    brine '*' locale.gen_locale en_US.UTF-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_split_join_and_normalize_like_salt() {
        let p = split_locale("ca_ES.UTF-8@valencia UTF-8");
        assert_eq!(
            (
                p.language.as_str(),
                p.territory.as_str(),
                p.codeset.as_str()
            ),
            ("ca", "ES", "UTF-8")
        );
        assert_eq!(
            (p.modifier.as_str(), p.charmap.as_str()),
            ("valencia", "UTF-8")
        );
        assert_eq!(join_locale(&p), "ca_ES.UTF-8@valencia UTF-8");
        assert_eq!(normalize_locale("en_US.UTF-8 UTF-8"), "en_US.utf8");
        assert_eq!(normalize_locale("C.UTF-8"), "C.utf8");
        assert_eq!(normalize_locale("de_de"), "de_DE");
    }

    #[test]
    fn the_system_locale_is_read_as_salts_grep_does() {
        let file = "#  File generated by update-locale\nLANG=\"en_US.UTF-8\"\n";
        assert_eq!(value_in(file, "LANG"), "en_US.UTF-8");
        assert_eq!(value_in("#  File generated by update-locale\n", "LANG"), "");
        let status = "   System Locale: LANG=de_DE.UTF-8\n                  LC_TIME=C\n       VC Keymap: us\n";
        assert_eq!(system_locale_lang(status), "de_DE.UTF-8");
        assert_eq!(system_locale_lang("   System Locale: n/a\n"), "");
    }
}
