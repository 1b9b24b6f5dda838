//! Remote fetching against tiny servers on 127.0.0.1 (a free port each);
//! name resolution is injected, so no query leaves the machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use super::*;

/// Only loopback: the tests never reach another address.
fn loopback(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    assert!(
        host == "127.0.0.1" || host == "localhost",
        "unexpected host {host}"
    );
    Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
}

/// What glibc's getaddrinfo says for an unknown name, as std reports it.
fn unknown_name(_host: &str, _port: u16) -> io::Result<Vec<SocketAddr>> {
    Err(io::Error::other(
        "failed to lookup address information: Name or service not known",
    ))
}

/// An HTTP/1.1 server answering `count` requests: `/f.txt` with `body`,
/// anything else 404. It returns the request lines it saw.
fn http_server(body: &'static [u8], count: usize) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..count {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            reader.read_line(&mut request_line).expect("read");
            let mut headers = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("read");
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                headers.push_str(&line);
            }
            seen.push(format!("{}{}", request_line.trim_end(), auth_of(&headers)));
            let ok = request_line.starts_with("GET /f.txt ");
            let (status, payload): (&str, &[u8]) = if ok {
                ("200 OK", body)
            } else {
                ("404 Not Found", b"nope")
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            stream.write_all(head.as_bytes()).expect("write");
            stream.write_all(payload).expect("write");
        }
        seen
    });
    (port, handle)
}

fn auth_of(headers: &str) -> String {
    headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .map(|l| format!(" [{}]", l.trim()))
        .unwrap_or_default()
}

/// A download into `cache` without a known hash.
fn plain<'a>(cache: &'a Path, url: &'a str) -> Fetch<'a> {
    Fetch {
        cachedir: cache,
        saltenv: "base",
        url,
        source_hash: None,
        verify_ssl: true,
    }
}

const BODY: &[u8] = b"hello remote\n";
const BODY_SHA256: &str = "12543eb212bfaeb4ba048745a032a4d4ad9f61231c89f503ef57228d5af52c8a";

#[test]
fn http_source_is_cached_in_salts_layout() {
    let (port, server) = http_server(BODY, 1);
    let cache = tempfile::tempdir().expect("tmp");
    let url = format!("http://127.0.0.1:{port}/f.txt");
    let fetch = plain(cache.path(), &url);
    let local = cache_url(&fetch, loopback).expect("fetched");
    assert_eq!(
        local,
        cache
            .path()
            .join(format!("extrn_files/base/127.0.0.1{port}/f.txt"))
    );
    assert_eq!(std::fs::read(&local).expect("read"), BODY);
    assert_eq!(
        file_digest(&local, "sha256", 4096).expect("hash"),
        BODY_SHA256
    );
    assert!(!PathBuf::from(format!("{}.part", local.display())).exists());
    assert_eq!(server.join().expect("server"), ["GET /f.txt HTTP/1.1"]);
}

#[test]
fn a_cached_copy_with_the_wanted_hash_is_not_downloaded_again() {
    let (port, server) = http_server(BODY, 1);
    let cache = tempfile::tempdir().expect("tmp");
    let url = format!("http://127.0.0.1:{port}/f.txt");
    let mut fetch = Fetch {
        cachedir: cache.path(),
        saltenv: "base",
        url: &url,
        source_hash: Some(BODY_SHA256),
        verify_ssl: true,
    };
    let first = cache_url(&fetch, loopback).expect("fetched");
    assert_eq!(server.join().expect("server").len(), 1);
    // The server is gone: a second download would fail.
    let spec = format!("sha256={BODY_SHA256}");
    fetch.source_hash = Some(&spec);
    assert_eq!(cache_url(&fetch, loopback).expect("cached"), first);
}

#[test]
fn http_errors_read_like_salts() {
    let (port, server) = http_server(BODY, 1);
    let cache = tempfile::tempdir().expect("tmp");
    let url = format!("http://user:secret@127.0.0.1:{port}/missing.txt");
    let fetch = plain(cache.path(), &url);
    let err = cache_url(&fetch, loopback).expect_err("404");
    assert_eq!(
        err.to_string(),
        "Error: HTTP 404: Not Found reading /missing.txt"
    );
    // Credentials went as basic auth, not in the request line.
    assert_eq!(
        server.join().expect("server"),
        ["GET /missing.txt HTTP/1.1 [authorization: Basic dXNlcjpzZWNyZXQ=]"]
    );
    let dir = cache
        .path()
        .join(format!("extrn_files/base/127.0.0.1{port}"));
    assert!(!dir.join("missing.txt.part").exists());
}

#[test]
fn connection_refused_reads_like_salts() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let cache = tempfile::tempdir().expect("tmp");
    let url = format!("http://127.0.0.1:{port}/x");
    let fetch = plain(cache.path(), &url);
    let err = cache_url(&fetch, loopback).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "Error: [Errno 111] Connection refused reading /x"
    );
}

#[test]
fn an_unknown_host_reads_like_salts() {
    let cache = tempfile::tempdir().expect("tmp");
    let fetch = plain(
        cache.path(),
        "https://packages.example.invalid/artifactory/key/public",
    );
    let err = cache_url(&fetch, unknown_name).expect_err("no such host");
    assert_eq!(
        err.to_string(),
        "Error: [Errno -2] Name or service not known reading /artifactory/key/public"
    );
    let ftp = Fetch {
        url: "ftp://mirror.example.invalid/pub/x.tgz",
        ..fetch
    };
    assert_eq!(
        cache_url(&ftp, unknown_name)
            .expect_err("no such host")
            .to_string(),
        "Could not retrieve ftp://mirror.example.invalid/pub/x.tgz from FTP server. Exception: [Errno -2] Name or service not known"
    );
}

/// A one-download FTP server: anonymous login, passive mode, one file.
fn ftp_server(body: &'static [u8]) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let (mut ctl, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(ctl.try_clone().expect("clone"));
        let data = TcpListener::bind("127.0.0.1:0").expect("bind data");
        let dport = data.local_addr().expect("addr").port();
        let mut seen = Vec::new();
        ctl.write_all(b"220-welcome\r\n220 ready\r\n").expect("w");
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("read") == 0 {
                break;
            }
            let cmd = line.trim_end().to_string();
            seen.push(cmd.clone());
            let reply = match cmd.split(' ').next().unwrap_or("") {
                "USER" => "331 password please\r\n".to_string(),
                "PASS" => "230 logged in\r\n".to_string(),
                "TYPE" => "200 binary\r\n".to_string(),
                "PASV" => format!(
                    "227 Entering Passive Mode (127,0,0,1,{},{})\r\n",
                    dport / 256,
                    dport % 256
                ),
                "RETR" if cmd == "RETR pub/f.txt" => {
                    ctl.write_all(b"150 sending\r\n").expect("w");
                    let (mut d, _) = data.accept().expect("data");
                    d.write_all(body).expect("w");
                    drop(d);
                    "226 done\r\n".to_string()
                }
                "RETR" => "550 Failed to open file.\r\n".to_string(),
                "QUIT" => {
                    ctl.write_all(b"221 bye\r\n").expect("w");
                    break;
                }
                _ => "502 no\r\n".to_string(),
            };
            ctl.write_all(reply.as_bytes()).expect("w");
        }
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        seen
    });
    (port, handle)
}

#[test]
fn ftp_source_is_downloaded_in_binary_passive_mode() {
    let (port, server) = ftp_server(BODY);
    let cache = tempfile::tempdir().expect("tmp");
    let url = format!("ftp://127.0.0.1:{port}/pub/f.txt");
    let fetch = plain(cache.path(), &url);
    let local = cache_url(&fetch, loopback).expect("fetched");
    assert_eq!(std::fs::read(&local).expect("read"), BODY);
    assert_eq!(
        server.join().expect("server"),
        [
            "USER anonymous",
            "PASS anonymous@",
            "TYPE I",
            "PASV",
            "RETR pub/f.txt",
            "QUIT"
        ]
    );
}

#[test]
fn ftp_error_replies_read_like_ftplib() {
    let (port, server) = ftp_server(BODY);
    let cache = tempfile::tempdir().expect("tmp");
    let url = format!("ftp://127.0.0.1:{port}/nope");
    let fetch = plain(cache.path(), &url);
    let err = cache_url(&fetch, loopback).expect_err("550");
    assert_eq!(
        err.to_string(),
        format!("Could not retrieve {url} from FTP server. Exception: 550 Failed to open file.")
    );
    drop(server);
}

#[test]
fn urls_parse_and_map_to_salts_cache_paths() {
    let u = RemoteUrl::parse("HTTPS://u:p@Example.org:8443/a/b.tgz?x=1#frag").expect("url");
    assert_eq!(u.scheme, "https");
    assert_eq!(u.user.as_deref(), Some("u"));
    assert_eq!(u.password.as_deref(), Some("p"));
    assert_eq!(u.host, "Example.org");
    assert_eq!(u.port, Some(8443));
    assert_eq!(u.path, "/a/b.tgz");
    assert_eq!(u.query, "x=1");
    assert_eq!(
        extrn_path(Path::new("/c"), "base", &u),
        Path::new("/c/extrn_files/base/Example.org8443/a/b.tgz-x=1")
    );
    let dots = RemoteUrl::parse("http://h/../../etc/passwd").expect("url");
    assert_eq!(
        extrn_path(Path::new("/c"), "dev", &dots),
        Path::new("/c/extrn_files/dev/h/etc/passwd")
    );
    assert!(RemoteUrl::parse("gopher://h/x").is_err());
    assert!(RemoteUrl::parse("http:///x").is_err());
    assert!(RemoteUrl::parse("http://h:99999/x").is_err());
    assert!(is_remote("https://x/y") && is_remote("ftp://x") && !is_remote("salt://x"));
}

#[test]
fn os_errors_read_like_python() {
    let refused = io::Error::from_raw_os_error(111);
    assert_eq!(os_error_text(&refused), "[Errno 111] Connection refused");
    let again = io::Error::other(
        "failed to lookup address information: Temporary failure in name resolution",
    );
    assert_eq!(
        os_error_text(&again),
        "[Errno -3] Temporary failure in name resolution"
    );
    assert_eq!(
        passive_port("227 Entering Passive Mode (1,2,3,4,4,1)"),
        Some(1025)
    );
    assert_eq!(passive_port("227 nonsense"), None);
}
