//! Remote sources for `cp.cache_file` (and so `file.managed`): `http://`,
//! `https://` and `ftp://` URLs, fetched into Salt's cache layout
//! `<cachedir>/extrn_files/<saltenv>/<host><port>/<path>` (Salt's
//! `fileclient._extrn_path`).
//!
//! Failures carry the texts of Salt's `MinionError`s from `fileclient.get_url`,
//! which `file.managed` shows as `Failed to cache <url>: <text>`:
//! `Error: [Errno -2] Name or service not known reading /path` (name
//! resolution), `Error: [Errno 111] Connection refused reading /path`,
//! `Error: HTTP 404: Not Found reading /path`, and for FTP
//! `Could not retrieve <url> from FTP server. Exception: <reason>`.
//!
//! HTTP(S) goes through `ureq` on rustls; the trusted roots are the system's
//! CA bundle (what Python's `ssl` uses for Salt), Mozilla's roots when the
//! host has none. FTP is the small passive-mode subset `ftplib` uses for a
//! download.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::super::file::hash::file_digest;

/// Salt's `http_connect_timeout` default (seconds).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Salt's `fileserver_ftp_timeout` default (seconds).
const FTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Where Debian keeps the system's trusted CA certificates.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Python's `MAX_FILENAME_LENGTH` in `salt.fileclient`: longer names are hashed.
const MAX_FILENAME_LENGTH: usize = 255;

/// Why a remote file could not be cached; the display is Salt's text.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not a URL this module fetches.
    #[error("Unsupported URL {0}")]
    Unsupported(String),
    /// An HTTP(S) failure: `reason` is what tornado's `str(exc)` gives.
    #[error("Error: {reason} reading {path}")]
    Http { reason: String, path: String },
    /// An FTP failure (Salt wraps every FTP exception alike).
    #[error("Could not retrieve {url} from FTP server. Exception: {reason}")]
    Ftp { url: String, reason: String },
    /// The cache file could not be written.
    #[error("{0}")]
    Cache(String),
}

/// A parsed `scheme://[user[:password]@]host[:port]/path[?query]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The path, `/` included (may be empty).
    pub path: String,
    pub query: String,
}

/// Whether `cp.cache_file` fetches `url` here (rather than from the file server).
pub fn is_remote(url: &str) -> bool {
    ["http://", "https://", "ftp://"]
        .iter()
        .any(|p| url.len() > p.len() && url[..p.len()].eq_ignore_ascii_case(p))
}

impl RemoteUrl {
    pub fn parse(url: &str) -> Result<RemoteUrl, FetchError> {
        let unsupported = || FetchError::Unsupported(url.to_string());
        let (scheme, rest) = url.split_once("://").ok_or_else(unsupported)?;
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https" | "ftp") {
            return Err(unsupported());
        }
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (netloc, path_query) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (path, query) = path_query
            .split_once('?')
            .map_or((path_query, ""), |(p, q)| (p, q));
        let (userinfo, hostport) = match netloc.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, netloc),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(user.to_string()), Some(pass.to_string())),
                None => (Some(u.to_string()), None),
            },
            None => (None, None),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(unsupported)?;
        if host.is_empty() {
            return Err(unsupported());
        }
        Ok(RemoteUrl {
            scheme,
            user,
            password,
            host,
            port,
            path: path.to_string(),
            query: query.to_string(),
        })
    }

    /// The URL without its user information (credentials go in a header).
    fn without_userinfo(&self) -> String {
        let mut url = format!("{}://{}", self.scheme, self.host_for_url());
        if let Some(port) = self.port {
            url.push_str(&format!(":{port}"));
        }
        url.push_str(&self.path);
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query);
        }
        url
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(hostport: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => Some(p.parse().ok()?),
            _ => None,
        };
        return Some((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((host, p)) if !p.is_empty() => Some((host.to_string(), Some(p.parse().ok()?))),
        Some((host, _)) => Some((host.to_string(), None)),
        None => Some((hostport.to_string(), None)),
    }
}

/// Salt's `_extrn_path`: `<cachedir>/extrn_files/<saltenv>/<netloc>/<path>`,
/// the netloc without credentials and, with a port, without its `:`; a query
/// is appended to the file name after a `-`.
pub fn extrn_path(cachedir: &Path, saltenv: &str, url: &RemoteUrl) -> PathBuf {
    let mut netloc = url.host_for_url();
    if let Some(port) = url.port {
        netloc = format!("{netloc}{port}").replace(':', "");
    }
    let mut file_name = if url.query.is_empty() {
        url.path.clone()
    } else {
        format!("{}-{}", url.path, url.query)
    };
    if file_name.len() > MAX_FILENAME_LENGTH {
        file_name = brine_common::fileroots::sha256_hex(file_name.as_bytes());
    }
    // Path components only: `.`/`..` in a URL path must not leave the cache.
    let relative: PathBuf = file_name
        .split('/')
        .filter(|part| !part.is_empty() && *part != "." && *part != "..")
        .collect();
    cachedir
        .join("extrn_files")
        .join(saltenv)
        .join(netloc)
        .join(relative)
}

/// How host names become addresses; replaced in tests so that no query
/// leaves the machine.
pub type Lookup = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

/// The system resolver (`getaddrinfo`), as Python's socket module uses.
pub fn system_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

/// What `cache_url` is asked for.
#[derive(Debug, Clone)]
pub struct Fetch<'a> {
    pub cachedir: &'a Path,
    pub saltenv: &'a str,
    pub url: &'a str,
    /// A known digest (`sha256=<hex>` or bare hex): a cached copy with it is
    /// used without downloading again.
    pub source_hash: Option<&'a str>,
    pub verify_ssl: bool,
}

/// Salt's `fileclient.get_url` into the cache: the local path of the copy.
pub fn cache_url(req: &Fetch<'_>, lookup: Lookup) -> Result<PathBuf, FetchError> {
    let url = RemoteUrl::parse(req.url)?;
    let dest = extrn_path(req.cachedir, req.saltenv, &url);
    if cached_copy_matches(&dest, req.source_hash) {
        return Ok(dest);
    }
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| FetchError::Cache(format!("{}: {e}", dir.display())))?;
    }
    let part = PathBuf::from(format!("{}.part", dest.display()));
    let fetched = match url.scheme.as_str() {
        "ftp" => ftp_download(&url, &part, lookup).map_err(|reason| FetchError::Ftp {
            url: req.url.to_string(),
            reason,
        }),
        _ => http_download(&url, &part, req.verify_ssl, lookup),
    };
    match fetched {
        Ok(()) => {
            std::fs::rename(&part, &dest)
                .map_err(|e| FetchError::Cache(format!("{}: {e}", dest.display())))?;
            Ok(dest)
        }
        Err(e) => {
            // A partial download is no cache entry.
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

/// A cached copy whose digest is the expected one (the download is skipped).
fn cached_copy_matches(dest: &Path, source_hash: Option<&str>) -> bool {
    let Some(spec) = source_hash else {
        return false;
    };
    let hex = spec.rsplit('=').next().unwrap_or(spec).to_ascii_lowercase();
    let Some(form) = hash_form_of_len(hex.len()) else {
        return false;
    };
    dest.is_file() && file_digest(dest, form, 1 << 16).is_ok_and(|d| d == hex)
}

/// Salt's `HASHES_REVMAP`: the digest type from the hex length.
pub fn hash_form_of_len(len: usize) -> Option<&'static str> {
    Some(match len {
        32 => "md5",
        40 => "sha1",
        56 => "sha224",
        64 => "sha256",
        96 => "sha384",
        128 => "sha512",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// HTTP(S)

/// ureq's resolver seam, answering through a [`Lookup`].
#[derive(Debug)]
struct LookupResolver(Lookup);

impl ureq::unversioned::resolver::Resolver for LookupResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .ok_or_else(|| ureq::Error::BadUri(uri.to_string()))?;
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        let mut out = self.empty();
        for addr in (self.0)(host, port)?.into_iter().take(16) {
            out.push(addr);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

fn agent(verify_ssl: bool, lookup: Lookup) -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig};
    let tls = TlsConfig::builder()
        .root_certs(system_roots().unwrap_or(RootCerts::WebPki))
        .disable_verification(!verify_ssl)
        .build();
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .tls_config(tls)
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::new(),
        LookupResolver(lookup),
    )
}

/// The host's CA bundle, when it has one.
fn system_roots() -> Option<ureq::tls::RootCerts> {
    let pem = std::fs::read(SYSTEM_CA_BUNDLE).ok()?;
    let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    (!certs.is_empty()).then(|| ureq::tls::RootCerts::Specific(Arc::new(certs)))
}

fn http_download(
    url: &RemoteUrl,
    part: &Path,
    verify_ssl: bool,
    lookup: Lookup,
) -> Result<(), FetchError> {
    let failed = |reason: String| FetchError::Http {
        reason,
        path: url.path.clone(),
    };
    let mut request = agent(verify_ssl, lookup).get(url.without_userinfo());
    if let Some(user) = &url.user {
        use base64::Engine;
        let pair = format!("{user}:{}", url.password.as_deref().unwrap_or(""));
        let token = base64::engine::general_purpose::STANDARD.encode(pair);
        request = request.header("Authorization", format!("Basic {token}"));
    }
    let response = request.call().map_err(|e| failed(http_reason(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!(
            "HTTP {}: {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Unknown")
        )));
    }
    // Streamed to disk, so no size limit (Salt has none for downloads).
    let mut reader = response.into_body().into_reader();
    let mut file = std::fs::File::create(part)
        .map_err(|e| FetchError::Cache(format!("{}: {e}", part.display())))?;
    io::copy(&mut reader, &mut file).map_err(|e| failed(os_error_text(&e)))?;
    Ok(())
}

/// tornado's `str(exc)` for a failed request.
fn http_reason(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => os_error_text(io),
        ureq::Error::HostNotFound => "[Errno -2] Name or service not known".into(),
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
            "HTTP 599: Timeout while connecting".into()
        }
        ureq::Error::Timeout(_) => "HTTP 599: Timeout during request".into(),
        ureq::Error::TooManyRedirects => "HTTP 599: Too many redirects".into(),
        other => other.to_string(),
    }
}

/// Python's `str(OSError)` for an I/O error: `[Errno N] text`. A failed
/// name lookup is a `gaierror`, numbered from glibc's EAI codes.
pub fn os_error_text(e: &io::Error) -> String {
    let text = e.to_string();
    if let Some(detail) = text.strip_prefix("failed to lookup address information: ") {
        let code = match detail {
            "Name or service not known" => -2,
            "Temporary failure in name resolution" => -3,
            "Non-recoverable failure in name resolution" => -4,
            "No address associated with hostname" => -5,
            "ai_family not supported" => -6,
            "Servname not supported for ai_socktype" => -8,
            "Memory allocation failure" => -10,
            _ => -11,
        };
        return format!("[Errno {code}] {detail}");
    }
    match e.raw_os_error() {
        Some(code) => {
            let suffix = format!(" (os error {code})");
            let detail = text.strip_suffix(&suffix).unwrap_or(&text);
            format!("[Errno {code}] {detail}")
        }
        None => text,
    }
}

// ---------------------------------------------------------------------------
// FTP (passive mode, binary, as `ftplib` downloads)

/// A control connection: replies are read line by line.
struct Control {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Control {
    /// One reply (multi-line ones end at `<code><space>`); an error reply
    /// (4xx/5xx) is `ftplib`'s `str(error_perm)`: the reply itself.
    fn reply(&mut self) -> Result<String, String> {
        let mut first = String::new();
        self.read_line(&mut first)?;
        let code: String = first.chars().take(3).collect();
        let mut reply = first.clone();
        if first.as_bytes().get(3) == Some(&b'-') {
            loop {
                let mut line = String::new();
                self.read_line(&mut line)?;
                reply.push_str(&line);
                if line.starts_with(&format!("{code} ")) {
                    break;
                }
            }
        }
        let reply = reply.trim_end().to_string();
        if matches!(reply.as_bytes().first(), Some(b'4' | b'5')) {
            return Err(reply);
        }
        Ok(reply)
    }

    fn read_line(&mut self, line: &mut String) -> Result<(), String> {
        match self.reader.read_line(line) {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(os_error_text(&e)),
        }
    }

    fn command(&mut self, cmd: &str) -> Result<String, String> {
        self.writer
            .write_all(format!("{cmd}\r\n").as_bytes())
            .map_err(|e| os_error_text(&e))?;
        self.reply()
    }
}

fn connect(host: &str, port: u16, lookup: Lookup) -> Result<TcpStream, String> {
    let addrs = lookup(host, port).map_err(|e| os_error_text(&e))?;
    let mut last = "[Errno -2] Name or service not known".to_string();
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, FTP_TIMEOUT) {
            Ok(stream) => {
                let _ = stream.set_read_timeout(Some(FTP_TIMEOUT));
                return Ok(stream);
            }
            Err(e) => last = os_error_text(&e),
        }
    }
    Err(last)
}

/// The data port of a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` reply.
fn passive_port(reply: &str) -> Option<u16> {
    let inside = reply.split_once('(')?.1.split_once(')')?.0;
    let nums: Vec<u16> = inside
        .split(',')
        .map(|n| n.trim().parse().ok())
        .collect::<Option<_>>()?;
    match nums.as_slice() {
        [_, _, _, _, hi, lo] if *hi < 256 && *lo < 256 => Some(hi * 256 + lo),
        _ => None,
    }
}

fn ftp_download(url: &RemoteUrl, part: &Path, lookup: Lookup) -> Result<(), String> {
    let stream = connect(&url.host, url.port.unwrap_or(21), lookup)?;
    let reader = BufReader::new(stream.try_clone().map_err(|e| os_error_text(&e))?);
    let mut ctl = Control {
        reader,
        writer: stream,
    };
    ctl.reply()?;
    // `ftplib.login()` defaults: anonymous, password `anonymous@`.
    let user = url.user.as_deref().unwrap_or("anonymous");
    let reply = ctl.command(&format!("USER {user}"))?;
    if reply.starts_with('3') {
        let pass = url.password.as_deref().unwrap_or("anonymous@");
        ctl.command(&format!("PASS {pass}"))?;
    }
    ctl.command("TYPE I")?;
    let pasv = ctl.command("PASV")?;
    let port = passive_port(&pasv).ok_or_else(|| pasv.clone())?;
    // The data connection goes to the server already spoken to, as ftplib's
    // default (`trust_server_pasv_ipv4_address = False`).
    let peer = ctl.writer.peer_addr().map_err(|e| os_error_text(&e))?;
    let mut data = TcpStream::connect_timeout(&SocketAddr::new(peer.ip(), port), FTP_TIMEOUT)
        .map_err(|e| os_error_text(&e))?;
    let _ = data.set_read_timeout(Some(FTP_TIMEOUT));
    ctl.command(&format!("RETR {}", url.path.trim_start_matches('/')))?;
    let mut file = std::fs::File::create(part).map_err(|e| os_error_text(&e))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = data.read(&mut buf).map_err(|e| os_error_text(&e))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n]).map_err(|e| os_error_text(&e))?;
    }
    drop(data);
    ctl.reply()?;
    let _ = ctl.command("QUIT");
    Ok(())
}

#[cfg(test)]
mod tests;
