//! `brine-api` end to end: HTTPS with a self-signed certificate, a login
//! against external_auth (an argon2 password file), `test.ping` and
//! `state.apply` through `POST /`, the 401/403/400/413 answers (none of which
//! publishes a job), a webhook on the master's bus, a client with an untrusted
//! certificate store failing the handshake cleanly, and the refusal of plain
//! HTTP off loopback.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use brine_tests::cluster::{
    ApiProc, Cluster, SystemAccount, bin, free_port, hash_password, run_with_timeout, stderr,
};
use serde_json::{Value, json};

/// An HTTP answer: status and JSON body.
struct Reply {
    status: u16,
    body: Value,
}

/// A request through curl, trusting only the API's own certificate.
fn curl(api: &ApiProc, ca: &Path, method: &str, path: &str, headers: &[&str], body: &str) -> Reply {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "60", "-X", method, "--cacert"])
        .arg(ca)
        .args(["-w", "\n%{http_code}"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if !body.is_empty() {
        cmd.args(["--data-binary", body]);
    }
    cmd.arg(format!("{}{path}", api.url));
    let out = run_with_timeout(&mut cmd, Duration::from_secs(90));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (json, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    Reply {
        status: code.trim().parse().unwrap_or_else(|_| {
            panic!(
                "curl {method} {path}: no status in {text:?}: {}",
                stderr(&out)
            )
        }),
        body: serde_json::from_str(json).unwrap_or(Value::Null),
    }
}

/// `POST /` with lowstate chunks as JSON.
fn lowstate(api: &ApiProc, ca: &Path, auth: &str, chunks: &Value) -> Reply {
    curl(api, ca, "POST", "/", &[JSON, auth], &chunks.to_string())
}

struct Setup {
    _dir: tempfile::TempDir,
    crt: PathBuf,
    conf: String,
}

/// The `rest_api` and `external_auth` config for user `alice` (password
/// `wonderland`): `test.*`, `grains.items`, `state.apply` and only
/// `cmd.run 'echo brine'` on `m*`,
/// `sys.list_functions` on `web*` (no such minion), `sys.list_modules` on
/// Linux minions and `sys.doc` on Windows ones (by grain), and runners.
fn api_config() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = dir.path().join("api-users");
    std::fs::write(
        &users,
        format!(
            "alice:{}\ngina:{}\n",
            hash_password("wonderland"),
            hash_password("grains")
        ),
    )
    .expect("users");
    let srv = dir.path().join("srv");
    std::fs::create_dir(&srv).expect("srv");
    std::fs::write(
        srv.join("api.sls"),
        "hello:\n  test.succeed_without_changes: []\n",
    )
    .expect("api.sls");
    let crt = dir.path().join("tls/api.crt");
    let conf = format!(
        "file_roots:\n  base:\n    - {srv}\n\
         rest_api:\n  port: {port}\n  ssl_crt: {crt}\n  ssl_key: {key}\n  max_request_body_size: 4096\n  hooks:\n    github:\n      secret: s3cret\n    deploy-shared:\n      secret: t0p-s3cret\n      mode: shared\n\
         external_auth:\n  file:\n    ^filename: {users}\n    alice:\n      - 'm*': ['test.*', 'grains.items', 'state.apply', {{'cmd.run': {{'args': ['echo brine']}}}}]\n      - 'web*': ['sys.list_functions']\n      - 'G@kernel:Linux': ['sys.list_modules']\n      - 'G@kernel:Windows': ['sys.doc']\n      - '@runner'\n    gina:\n      - 'G@kernel:Linux': ['test.ping']\n",
        port = free_port(),
        crt = crt.display(),
        key = dir.path().join("tls/api.key").display(),
        users = users.display(),
        srv = srv.display(),
    );
    Setup {
        _dir: dir,
        crt,
        conf,
    }
}

const JSON: &str = "Content-Type: application/json";

/// A one-minion cluster with `setup`'s config, and its API (a self-signed
/// certificate at `setup.crt`).
fn api_cluster(setup: &Setup) -> (Cluster, ApiProc) {
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&setup.conf)
        .start()
        .ready();
    let api = c.start_api(&["--gen-self-signed"]);
    (c, api)
}

fn login(api: &ApiProc, ca: &Path) -> String {
    let body = json!({"username": "alice", "password": "wonderland", "eauth": "file"});
    let r = curl(api, ca, "POST", "/login", &[JSON], &body.to_string());
    assert_eq!(r.status, 200, "login: {}", r.body);
    let token = r.body["return"][0]["token"].as_str().expect("token");
    assert!(r.body["return"][0]["expire"].as_f64().is_some());
    token.to_string()
}

#[test]
fn api_login_ping_errors_and_hooks() {
    let setup = api_config();
    let (c, api) = api_cluster(&setup);
    assert!(api.url.starts_with("https://"), "{}", api.url);
    let ca = &setup.crt;

    let bad = json!({"username": "alice", "password": "nope", "eauth": "file"});
    assert_eq!(
        curl(&api, ca, "POST", "/login", &[JSON], &bad.to_string()).status,
        401
    );

    let token = login(&api, ca);
    let auth = format!("X-Auth-Token: {token}");

    let ping = json!([{"client": "local", "tgt": "*", "fun": "test.ping"}]);
    let r = lowstate(&api, ca, &auth, &ping);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"return": [{"m1": true}]}));

    // YAML bodies work too.
    let yaml = "- client: local\n  tgt: m1\n  fun: test.echo\n  arg: [hi]\n";
    let r = curl(
        &api,
        ca,
        "POST",
        "/",
        &["Content-Type: application/x-yaml", &auth],
        yaml,
    );
    assert_eq!(r.body, json!({"return": [{"m1": "hi"}]}), "{}", r.body);

    // state.apply through `POST /` returns each minion's state results.
    let apply = json!([{"client": "local", "tgt": "m1", "fun": "state.apply", "arg": ["api"]}]);
    let r = lowstate(&api, ca, &auth, &apply);
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["return"][0]["m1"]
        .as_object()
        .unwrap_or_else(|| panic!("state results: {}", r.body));
    let hello = &results["test_|-hello_|-hello_|-succeed_without_changes"];
    assert_eq!(hello["result"], true, "{}", r.body);
    assert_eq!(hello["comment"], "Success!", "{}", r.body);

    // An argument constraint: cmd.run only as `echo brine`.
    let allowed = json!({"client": "local", "tgt": "m1", "fun": "cmd.run", "arg": ["echo brine"]});
    let r = lowstate(&api, ca, &auth, &allowed);
    assert_eq!(r.body, json!({"return": [{"m1": "brine"}]}), "{}", r.body);
    let jobs = c.events("salt/job/*/new");

    let r = curl(
        &api,
        ca,
        "POST",
        "/",
        &[JSON, "X-Auth-Token: wrong"],
        &ping.to_string(),
    );
    assert_eq!(r.status, 401, "{}", r.body);

    let forbidden = json!({"client": "local", "tgt": "*", "fun": "cmd.run", "arg": ["id"]});
    let r = lowstate(&api, ca, &auth, &forbidden);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body["return"]
            .as_str()
            .is_some_and(|m| m.contains("cmd.run")),
        "{}",
        r.body
    );

    let r = curl(
        &api,
        ca,
        "POST",
        "/",
        &[JSON, &auth],
        r#"{"client": "local", "tgt": "*"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["return"]
            .as_str()
            .is_some_and(|m| m.contains("'fun'")),
        "{}",
        r.body
    );
    let r = curl(&api, ca, "POST", "/", &[JSON, &auth], "{not json");
    assert_eq!(r.status, 400, "{}", r.body);

    let big = json!({"client": "local", "tgt": "*", "fun": "test.echo", "arg": ["x".repeat(8192)]});
    let r = lowstate(&api, ca, &auth, &big);
    assert_eq!(r.status, 413, "{}", r.body);

    let published = jobs.collect_for(Duration::from_secs(1));
    assert!(
        published.is_empty(),
        "a refused call published a job: {published:?}"
    );

    let runner = json!({"client": "runner", "fun": "manage.present"});
    let r = lowstate(&api, ca, &auth, &runner);
    assert_eq!(r.status, 200, "{}", r.body);

    let hooks = c.events("salt/netapi/hook/*");
    let r = curl(
        &api,
        ca,
        "POST",
        "/hook/deploy/web",
        &[JSON, &auth],
        r#"{"ref": "main"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"success": true}));
    let (tag, data) = hooks.expect("the hook event", Duration::from_secs(10), |_, _| true);
    assert_eq!(tag, "salt/netapi/hook/deploy/web");
    assert_eq!(data["post"]["ref"], "main");
    assert!(
        data["headers"].get("x-auth-token").is_none(),
        "token leaked: {data}"
    );
    let r = curl(&api, ca, "POST", "/hook/deploy/web", &[JSON], "{}");
    assert_eq!(r.status, 401, "{}", r.body);

    // A hook with an HMAC check needs the signature, not a token.
    let payload = r#"{"action": "push"}"#;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
    let sig: String = ring::hmac::sign(&key, payload.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let signed = format!("X-Hub-Signature-256: sha256={sig}");
    let r = curl(&api, ca, "POST", "/hook/github", &[JSON, &signed], payload);
    assert_eq!(r.status, 200, "{}", r.body);
    let (tag, data) = hooks.expect("the github hook", Duration::from_secs(10), |_, _| true);
    assert_eq!(
        (tag.as_str(), &data["post"]["action"]),
        ("salt/netapi/hook/github", &json!("push"))
    );
    let forged = "X-Hub-Signature-256: sha256=00";
    let r = curl(&api, ca, "POST", "/hook/github", &[JSON, forged], payload);
    assert_eq!(r.status, 401, "{}", r.body);

    let r = curl(&api, ca, "GET", "/minions/m1", &[&auth], "");
    assert_eq!(r.body["return"][0]["m1"]["id"], "m1", "{}", r.body);
    let r = curl(&api, ca, "GET", "/jobs", &[&auth], "");
    assert_eq!(r.status, 200, "{}", r.body);
    // Jobs sent through the API are recorded under the eauth login, not the
    // API's own user (the cluster's readiness ping, from the CLI, is not).
    let jobs = r.body["return"][0].as_object().expect("jobs listing");
    let echo = jobs
        .values()
        .find(|j| j["Function"] == "test.echo")
        .expect("the API's test.echo job");
    assert_eq!(echo["User"], "alice", "{echo}");
    let r = curl(&api, ca, "GET", "/keys", &[&auth], "");
    assert_eq!(r.status, 403, "alice has no @wheel: {}", r.body);
    // A grain target is checked against the minions the master's cache says
    // it matches: m1 is alice's for test.*, but not for sys.list_functions.
    let grain = json!({"client": "local", "tgt": "os:*", "tgt_type": "grain", "fun": "test.ping"});
    let r = lowstate(&api, ca, &auth, &grain);
    assert_eq!(r.body, json!({"return": [{"m1": true}]}), "{}", r.body);
    let grain =
        json!({"client": "local", "tgt": "os:*", "tgt_type": "grain", "fun": "sys.list_functions"});
    let r = lowstate(&api, ca, &auth, &grain);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body["return"]
            .as_str()
            .is_some_and(|m| m.contains("1 matching minion")),
        "{}",
        r.body
    );
    // Grain expressions in the permissions cover the minions the master's
    // cache matches: m1 runs Linux, not Windows.
    let by_grain = json!({"client": "local", "tgt": "m1", "fun": "sys.list_modules"});
    let r = lowstate(&api, ca, &auth, &by_grain);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["return"][0]["m1"].is_array(), "{}", r.body);
    let not_windows = json!({"client": "local", "tgt": "m1", "fun": "sys.doc"});
    let r = lowstate(&api, ca, &auth, &not_windows);
    assert_eq!(r.status, 403, "{}", r.body);

    // A grain target the cache matches on no minion: nothing runs, an empty answer.
    let nobody = lowstate(
        &api,
        ca,
        &auth,
        &json!([{"client": "local", "tgt": "kernel:Windows", "tgt_type": "grain", "fun": "test.ping"}]),
    );
    assert_eq!(nobody.status, 200, "{}", nobody.body);
    assert_eq!(nobody.body, json!({"return": [{}]}));

    event_stream_shows_a_hook(&api, ca, &auth);
    grain_entries_make_minion_events_visible(&api, ca, &auth);
    untrusted_client_fails_cleanly(&api, ca, &auth);
}

/// A self-signed CA unrelated to the API's certificate: a client whose trust
/// store holds only this cannot verify the API.
const FOREIGN_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBkTCCATegAwIBAgIUAZ7YGJA337UdLb1/Ztg11QK9e7AwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSZm9yZWlnbi1jYS5pbnZhbGlkMCAXDTI2MTEyMjAxNTAxNVoY
DzIxMjYxMDI5MDE1MDE1WjAdMRswGQYDVQQDDBJmb3JlaWduLWNhLmludmFsaWQw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARG3jWvMJsxHeD6LFFfPL2HbqoXNVOR
vSOA4ICd5SVI3DEvNDE22rhljwancq4SHY7i5yQg0XrGGEEMggv8+zmBo1MwUTAd
BgNVHQ4EFgQUMUj2B2dKho9YgwVp57Sb8DRyRA0wHwYDVR0jBBgwFoAUMUj2B2dK
ho9YgwVp57Sb8DRyRA0wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
AiAj2ji1mEFypKxKqua4cW+eNhma3VM7j+wT6N84Cb0m0QIhAKTM0uPI1rumzbBK
jBueNNQ7WUZWfHXT9Fjz8O2Opshx
-----END CERTIFICATE-----
";

/// A client with an untrusted certificate store fails the TLS handshake
/// (curl's "SSL certificate problem", exit 60) before any request is sent;
/// a plain-HTTP client on the TLS port is refused too. The API keeps serving.
fn untrusted_client_fails_cleanly(api: &ApiProc, ca: &Path, auth: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let foreign = dir.path().join("foreign-ca.crt");
    std::fs::write(&foreign, FOREIGN_CA).expect("foreign CA");
    let ping = json!([{"client": "local", "tgt": "*", "fun": "test.ping"}]).to_string();
    let out = run_with_timeout(
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&foreign)
            .args(["-H", JSON, "-H", auth, "--data-binary", &ping])
            .arg(format!("{}/", api.url)),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(60), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing was answered");

    let plain = api.url.replacen("https://", "http://", 1);
    let out = run_with_timeout(
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "20",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .arg(format!("{plain}/stats")),
        Duration::from_secs(30),
    );
    assert!(!out.status.success(), "plain HTTP on the TLS port answered");

    let r = curl(api, ca, "GET", "/minions/m1", &[auth], "");
    assert_eq!(
        r.status, 200,
        "the API still serves after refused handshakes: {}",
        r.body
    );
}

/// `GET /events` streams the bus as Server-Sent Events.
/// `GET /events` with the token in the query (as a browser's EventSource
/// sends it): curl and its lines, once the stream is live.
fn open_events(
    api: &ApiProc,
    ca: &Path,
    auth: &str,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let token = auth.trim_start_matches("X-Auth-Token: ");
    let mut child = Command::new("curl")
        .args(["-sSN", "--max-time", "30", "--cacert"])
        .arg(ca)
        .arg(format!("{}/events?token={token}", api.url))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl /events");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The stream opens with `retry:`; after it the subscription is live.
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("SSE opened");
    assert!(first.starts_with("retry:"), "{first}");
    (child, rx)
}

fn event_stream_shows_a_hook(api: &ApiProc, ca: &Path, auth: &str) {
    let (mut child, rx) = open_events(api, ca, auth);
    let r = curl(api, ca, "POST", "/hook/sse", &[JSON, auth], r#"{"n": 1}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let tag = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the hook on /events");
        if line.starts_with("tag: salt/netapi/hook/") {
            break line;
        }
    };
    assert_eq!(tag, "tag: salt/netapi/hook/sse");
    let data = rx.recv_timeout(Duration::from_secs(5)).expect("data line");
    let data: Value =
        serde_json::from_str(data.trim_start_matches("data: ")).expect("data is JSON");
    assert_eq!(data["data"]["post"]["n"], 1);
    let _ = child.kill();
    let _ = child.wait();
}

/// A user whose only entry is a grain target (`G@kernel:Linux`) sees the
/// returns of the minions the master's cache matches on `/events`.
fn grain_entries_make_minion_events_visible(api: &ApiProc, ca: &Path, alice: &str) {
    let body = json!({"username": "gina", "password": "grains", "eauth": "file"});
    let r = curl(api, ca, "POST", "/login", &[JSON], &body.to_string());
    assert_eq!(r.status, 200, "gina's login: {}", r.body);
    let gina = format!(
        "X-Auth-Token: {}",
        r.body["return"][0]["token"].as_str().expect("token")
    );
    let (mut child, rx) = open_events(api, ca, &gina);
    let ping = lowstate(
        api,
        ca,
        alice,
        &json!([{"client": "local", "tgt": "m1", "fun": "test.ping"}]),
    );
    assert_eq!(ping.status, 200, "{}", ping.body);
    let seen = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("m1's return on gina's /events");
        if line.starts_with("tag: salt/job/") && line.ends_with("/ret/m1") {
            break line;
        }
    };
    assert!(seen.contains("/ret/m1"), "{seen}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn api_refuses_plain_http_off_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Its log file in the temp dir, not under /var/log.
    std::fs::write(
        dir.path().join("master"),
        format!(
            "api_logfile: {}\nrest_api:\n  host: 0.0.0.0\n  disable_ssl: True\n",
            dir.path().join("api.log").display()
        ),
    )
    .expect("config");
    let out = run_with_timeout(
        Command::new(bin("brine-api")).arg("-c").arg(dir.path()),
        Duration::from_secs(20),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("disable_ssl"), "{}", stderr(&out));
}

/// The `pam` eauth: a system user logs in through PAM (`login` service)
/// and gets the permissions of a `group%` entry for a group they are in;
/// a wrong password, and a user in no permitted group, get 401.
#[test]
fn api_pam_login_with_group_permissions() {
    let tools = ["useradd", "groupadd", "chpasswd", "userdel", "groupdel"];
    if !nix::unistd::geteuid().is_root()
        || !tools
            .iter()
            .all(|t| Path::new("/usr/sbin").join(t).exists())
        || !Path::new("/etc/pam.d/login").exists()
    {
        eprintln!("skipping: needs root, the shadow tools and /etc/pam.d/login (CI has them)");
        return;
    }
    let suffix = format!("{:x}", std::process::id());
    let account = SystemAccount::create(
        format!("brinepam{suffix}"),
        format!("brinegrp{suffix}"),
        "-G",
    );
    let outsider = SystemAccount::create(
        format!("brineout{suffix}"),
        format!("brinenone{suffix}"),
        "-g",
    );
    for user in [&account.user, &outsider.user] {
        let mut child = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        writeln!(child.stdin.take().expect("stdin"), "{user}:pam-Secret-1").expect("write");
        assert!(child.wait().expect("wait").success(), "chpasswd {user}");
    }

    let pam = PamApi::start(&format!(
        "external_auth:\n  pam:\n    {group}%:\n      - 'm*': ['test.*']\n",
        group = account.group,
    ));
    let (api, crt) = (&pam.api, &pam.crt);
    let login = |user: &str, password: &str| pam.login(user, password);
    assert_eq!(login(&account.user, "wrong").status, 401);
    assert_eq!(
        login(&outsider.user, "pam-Secret-1").status,
        401,
        "no entry permits the outsider"
    );
    let ok = login(&account.user, "pam-Secret-1");
    assert_eq!(ok.status, 200, "{}", ok.body);
    let token = ok.body["return"][0]["token"].as_str().expect("token");
    assert_eq!(ok.body["return"][0]["eauth"], json!("pam"));
    let auth = format!("X-Auth-Token: {token}");
    let ping = lowstate(
        api,
        crt,
        &auth,
        &json!([{"client": "local", "tgt": "m1", "fun": "test.ping"}]),
    );
    assert_eq!(ping.status, 200, "{}", ping.body);
    assert_eq!(ping.body["return"][0]["m1"], json!(true), "{}", ping.body);
    let refused = lowstate(
        api,
        crt,
        &auth,
        &json!([{"client": "local", "tgt": "m1", "fun": "grains.items"}]),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
}

/// A one-minion cluster with brine-api (self-signed TLS on a free port) and
/// `auth` (`external_auth` and any other master settings) in its config.
/// Fields drop in order: the API, then the cluster, then their files.
struct PamApi {
    api: ApiProc,
    _cluster: Cluster,
    crt: PathBuf,
    _dir: tempfile::TempDir,
}

impl PamApi {
    fn start(auth: &str) -> PamApi {
        let dir = tempfile::tempdir().expect("tempdir");
        let crt = dir.path().join("tls/api.crt");
        let conf = format!(
            "rest_api:\n  port: {port}\n  ssl_crt: {crt}\n  ssl_key: {key}\n{auth}",
            port = free_port(),
            crt = crt.display(),
            key = dir.path().join("tls/api.key").display(),
        );
        let cluster = Cluster::builder()
            .minions(1)
            .master_conf(&conf)
            .start()
            .ready();
        let api = cluster.start_api(&["--gen-self-signed"]);
        PamApi {
            api,
            _cluster: cluster,
            crt,
            _dir: dir,
        }
    }

    /// `POST /login` with the `pam` eauth.
    fn login(&self, user: &str, password: &str) -> Reply {
        let body = json!({"username": user, "password": password, "eauth": "pam"});
        curl(
            &self.api,
            &self.crt,
            "POST",
            "/login",
            &[JSON],
            &body.to_string(),
        )
    }
}

/// A PAM service file under /etc/pam.d that lives as long as the test.
struct PamService(std::path::PathBuf);

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `auth.pam.service` names the PAM service the `pam` eauth goes through:
/// with a service that permits everyone, root logs in with a password the
/// default `login` service would refuse.
#[test]
fn api_pam_uses_the_configured_service() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/etc/pam.d").is_dir() {
        eprintln!("skipping: needs root and /etc/pam.d (CI has them)");
        return;
    }
    let name = format!("brine-test-{:x}", std::process::id());
    let service = PamService(Path::new("/etc/pam.d").join(&name));
    std::fs::write(
        &service.0,
        "auth required pam_permit.so\naccount required pam_permit.so\n",
    )
    .expect("write the PAM service");

    let pam = PamApi::start(&format!(
        "auth.pam.service: {name}\nexternal_auth:\n  pam:\n    root:\n      - 'm*': ['test.*']\n"
    ));
    let ok = pam.login("root", "not-roots-password");
    assert_eq!(
        ok.status, 200,
        "the configured service decides: {}",
        ok.body
    );
    assert_eq!(ok.body["return"][0]["eauth"], json!("pam"));
}

/// Issue 14, attack 7 (Salt's CVE-2023-20897 class: a request flood that
/// stops the service). Every login costs an argon2 check (about 19 MiB and a
/// core's worth of time); they used to go to the blocking pool, 512 threads
/// without a bound, so a flood took ~9.5 GiB and every CPU. Attacks the
/// admission bound in `Auth::login` (api/src/auth.rs): without it no login
/// is ever answered 429.
#[test]
fn cve_2023_20897_a_login_flood_is_answered_429_not_with_every_cpu() {
    let setup = api_config();
    let (_c, api) = api_cluster(&setup);
    let ca = &setup.crt;
    let bad = json!({"username": "alice", "password": "nope", "eauth": "file"}).to_string();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let logins: Vec<_> = (0..48)
            .map(|_| scope.spawn(|| curl(&api, ca, "POST", "/login", &[JSON], &bad).status))
            .collect();
        logins
            .into_iter()
            .map(|t| t.join().expect("login thread"))
            .collect()
    });
    let busy = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        busy > 0,
        "no login of the flood was turned away: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 429 || *s == 401),
        "{statuses:?}"
    );
    // Once the flood is over, a real login goes through.
    let token = login(&api, ca);
    assert!(!token.is_empty());
}

/// Issue 14, attack 10 (Salt's CVE-2021-25284 class: credentials written
/// where others read them). A hook with a shared secret is authorised by a
/// header holding the secret itself; that header travelled onto the bus with
/// the event, where every reactor and `/events` reader saw it. Attacks
/// `event_headers` (api/src/hooks.rs), which now leaves the hook's own
/// secret header out.
#[test]
fn cve_2021_25284_a_hooks_shared_secret_does_not_reach_the_bus() {
    let setup = api_config();
    let (c, api) = api_cluster(&setup);
    let ca = &setup.crt;
    let hooks = c.events("salt/netapi/hook/*");
    let wrong = curl(
        &api,
        ca,
        "POST",
        "/hook/deploy-shared",
        &[JSON, "X-Hook-Secret: guess"],
        "{}",
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let r = curl(
        &api,
        ca,
        "POST",
        "/hook/deploy-shared",
        &[JSON, "X-Hook-Secret: t0p-s3cret"],
        r#"{"ref": "v2"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (tag, data) = hooks.expect("the hook event", Duration::from_secs(10), |_, _| true);
    assert_eq!(tag, "salt/netapi/hook/deploy-shared");
    assert_eq!(data["post"]["ref"], "v2", "{data}");
    assert!(
        !data.to_string().contains("t0p-s3cret"),
        "the shared secret is on the bus: {data}"
    );
}
