//! The web dashboard in a real browser: headless Chromium driven through
//! chromedriver (Debian's `chromium` and `chromium-driver`) with the
//! fantoccini WebDriver client, against brine-api over HTTPS with a
//! self-signed certificate.
//!
//! A failing test saves a screenshot of the page it was on (its path is
//! printed); with `BRINE_UI_SCREENSHOTS=<dir>` every page the tests visit
//! is saved there too (how `docs/ui/` is made).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brine_tests::cluster::{ApiProc, Cluster, free_port, hash_password};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// How long a page may take to show what a test waits for.
const PAGE_WAIT: Duration = Duration::from_secs(30);

/// chromedriver with one headless Chromium session, driven synchronously.
struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    /// The test's name, for the failure screenshot.
    name: String,
    base: String,
}

impl Browser {
    /// A browser for test `name` on the dashboard at `base` (`https://...`).
    fn start(name: &str, base: &str) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) runs");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut caps = serde_json::Map::new();
        caps.insert("acceptInsecureCerts".into(), json!(true));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--no-first-run", "--disable-extensions",
            ]}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = runtime.block_on(async {
            loop {
                let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                match ClientBuilder::new(connector)
                    .capabilities(caps.clone())
                    .connect(&url)
                    .await
                {
                    Ok(client) => break client,
                    Err(e) if started.elapsed() > PAGE_WAIT => {
                        panic!("no WebDriver session from chromedriver: {e}")
                    }
                    // chromedriver is still starting.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Browser {
            runtime,
            client: Some(client),
            driver,
            name: name.to_string(),
            base: base.to_string(),
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session")
    }

    /// Opens `path` of the dashboard.
    fn open(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.runtime
            .block_on(self.client().goto(&url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    fn path(&self) -> String {
        let url = self
            .runtime
            .block_on(self.client().current_url())
            .expect("url");
        url.path().to_string()
    }

    /// The first element `css` matches, once it exists.
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client()
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} within {PAGE_WAIT:?}: {e}"))
    }

    /// Types `text` into the field `css` (cleared first).
    fn fill(&self, css: &str, text: &str) {
        self.runtime.block_on(async {
            let field = self.element(css).await;
            field.clear().await.expect("clear");
            field.send_keys(text).await.expect("type");
        })
    }

    fn click(&self, css: &str) {
        self.runtime.block_on(async {
            let element = self.element(css).await;
            element
                .click()
                .await
                .unwrap_or_else(|e| panic!("click {css}: {e}"));
        })
    }

    /// The text of the first element `css` matches, once it exists.
    fn text(&self, css: &str) -> String {
        self.runtime.block_on(async {
            let element = self.element(css).await;
            element.text().await.expect("text")
        })
    }

    /// Waits until `css`'s text contains `needle`; the last text seen.
    fn wait_text(&self, css: &str, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let seen = self.runtime.block_on(async {
                match self.client().find(Locator::Css(css)).await {
                    Ok(element) => element.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                }
            });
            if seen.contains(needle) {
                return seen;
            }
            assert!(
                started.elapsed() < PAGE_WAIT,
                "{css} never showed {needle:?}; last: {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many elements `css` matches now.
    fn count(&self, css: &str) -> usize {
        self.runtime
            .block_on(self.client().find_all(Locator::Css(css)))
            .map_or(0, |all| all.len())
    }

    /// The displayed ids of the rows `css` matches.
    fn visible_rows(&self, css: &str) -> Vec<String> {
        self.runtime.block_on(async {
            let mut ids = Vec::new();
            for row in self
                .client()
                .find_all(Locator::Css(css))
                .await
                .unwrap_or_default()
            {
                if row.is_displayed().await.unwrap_or(false) {
                    ids.push(row.attr("data-id").await.ok().flatten().unwrap_or_default());
                }
            }
            ids
        })
    }

    /// Waits until the displayed rows of `css` are `expected`.
    fn wait_rows(&self, css: &str, expected: &[&str]) {
        let started = Instant::now();
        loop {
            let seen = self.visible_rows(css);
            if seen == expected {
                return;
            }
            assert!(
                started.elapsed() < PAGE_WAIT,
                "{css}: rows {seen:?}, never {expected:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `css` matches exactly `n` elements.
    fn wait_rows_count(&self, css: &str, n: usize) {
        let started = Instant::now();
        while self.count(css) != n {
            assert!(
                started.elapsed() < PAGE_WAIT,
                "{css}: {} elements, never {n}",
                self.count(css)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A cookie's attributes as the browser holds them.
    fn cookie(&self, name: &str) -> Option<fantoccini::cookies::Cookie<'static>> {
        self.runtime
            .block_on(self.client().get_named_cookie(name))
            .ok()
    }

    /// Checks that every form control on the page has a label, then saves
    /// the page as `<dir>/<file>.png` when screenshots are asked for.
    fn document(&self, file: &str) {
        let script = "return Array.from(document.querySelectorAll(\
            'input:not([type=hidden]), select, textarea, button'))\
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')\
                && !(e.tagName === 'BUTTON' && e.textContent.trim()))\
            .map(e => e.id || e.name || e.outerHTML);";
        let unlabelled = self
            .runtime
            .block_on(self.client().execute(script, Vec::new()))
            .expect("script");
        assert_eq!(unlabelled, json!([]), "controls without a label on {file}");
        if let Some(dir) = std::env::var_os("BRINE_UI_SCREENSHOTS") {
            self.screenshot(&Path::new(&dir).join(format!("{file}.png")));
        }
    }

    fn screenshot(&self, path: &Path) {
        if let Ok(png) = self.runtime.block_on(self.client().screenshot()) {
            let _ = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")));
            let _ = std::fs::write(path, png);
        }
    }

    /// Signs in as `user`, ending on the overview.
    fn sign_in(&self, user: &str, password: &str) {
        self.open("/ui");
        assert_eq!(
            self.path(),
            "/ui/login",
            "a signed-out visit goes to sign-in"
        );
        self.fill("#username", user);
        self.fill("#password", password);
        self.click("form button[type=submit]");
        self.wait_text("h1", "Overview");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let dir = std::env::var_os("CARGO_TARGET_TMPDIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir)
                .join("brine-ui-failures");
            let path = dir.join(format!("{}.png", self.name));
            self.screenshot(&path);
            eprintln!("the page at the failure: {}", path.display());
        }
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A cluster of m1 and m2 (accepted) and m3 (pending), and its API with
/// the dashboard; users `admin` (everything) and `viewer` (test.* on m1).
struct Site {
    cluster: Cluster,
    api: ApiProc,
    _dir: tempfile::TempDir,
}

fn site() -> Site {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = dir.path().join("ui-users");
    std::fs::write(
        &users,
        format!(
            "admin:{}\nviewer:{}\n",
            hash_password("admin-pass"),
            hash_password("viewer-pass")
        ),
    )
    .expect("users");
    let srv = dir.path().join("srv");
    std::fs::create_dir(&srv).expect("srv");
    std::fs::write(
        srv.join("ui.sls"),
        format!(
            "greeting:\n  file.managed:\n    - name: {}/greeting\n    - contents: hello\n\
             broken:\n  test.fail_without_changes:\n    - name: the broken state\n",
            dir.path().display()
        ),
    )
    .expect("ui.sls");
    let conf = format!(
        "file_roots:\n  base:\n    - {srv}\n\
         rest_api:\n  port: {port}\n  ssl_crt: {dir}/tls/api.crt\n  ssl_key: {dir}/tls/api.key\n\
         external_auth:\n  file:\n    ^filename: {users}\n    admin:\n      - '.*'\n      - '@wheel'\n      - '@runner'\n    viewer:\n      - 'm1': ['test.*']\n",
        port = free_port(),
        dir = dir.path().display(),
        users = users.display(),
        srv = srv.display(),
    );
    let mut cluster = Cluster::builder()
        .minion_ids(&["m1", "m2"])
        .master_conf(&conf)
        .start()
        .ready();
    cluster.add_minion("m3", "");
    cluster.wait_key_in("minions_pre", "m3");
    let api = cluster.start_api(&["--gen-self-signed"]);
    Site {
        cluster,
        api,
        _dir: dir,
    }
}

/// Sign in, the overview's figures, the minions table and its live target
/// filter, accepting a pending key with a confirmation; the session cookie's
/// attributes; signing out.
#[test]
fn an_admin_signs_in_sees_the_minions_and_accepts_a_pending_key() {
    let site = site();
    let browser = Browser::start("admin", &site.api.url);
    browser.open("/ui");
    browser.document("login");
    browser.fill("#username", "admin");
    browser.fill("#password", "wrong");
    browser.click("form button[type=submit]");
    assert!(
        browser
            .wait_text("[role=alert]", "Sign-in failed")
            .contains("wrong")
    );
    browser.sign_in("admin", "admin-pass");
    let cookie = browser.cookie("brine_session").expect("the session cookie");
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    assert_eq!(browser.text("#minions-up"), "2");
    assert_eq!(browser.text("#keys-pending"), "1");
    browser.document("overview");

    browser.open("/ui/minions");
    assert_eq!(
        browser.visible_rows("table.minions tbody tr[data-id]"),
        ["m1", "m2"]
    );
    assert!(browser.text("tr[data-id=m1] .state").contains("up"));
    // The filter box matches as one types.
    browser.fill("#tgt", "m2");
    browser.wait_rows("table.minions tbody tr[data-id]", &["m2"]);
    browser.fill("#tgt", "not m2");
    browser.wait_rows("table.minions tbody tr[data-id]", &["m1"]);
    assert_eq!(browser.text("#match-count"), "1 shown");
    browser.document("minions");

    browser.open("/ui/keys");
    assert!(browser.text("#keys-minions_pre").contains("m3"));
    browser.document("keys");
    browser.click("#keys-minions_pre tr[data-id=m3] button.accept");
    browser.wait_text("h1", "Accept the key of m3?");
    browser.document("keys-confirm");
    browser.click("#confirm");
    browser.wait_text("[role=status]", "The key of m3 was accepted.");
    assert!(browser.text("#keys-minions").contains("m3"));
    assert_eq!(browser.count("#keys-minions_pre"), 0, "no pending key left");
    site.cluster.wait_pingable("m3", &["m3"]);

    browser.click("header .signout button");
    browser.wait_text("h1", "Sign in");
    browser.open("/ui/keys");
    assert_eq!(browser.path(), "/ui/login", "signed out");
}

/// A user allowed `test.*` on m1 only sees m1, cannot see the keys, and a
/// key action posted anyway is refused with nothing changed; a form without
/// the session's CSRF token is refused too.
#[test]
fn a_user_is_refused_what_their_permissions_do_not_allow() {
    let site = site();
    let browser = Browser::start("viewer", &site.api.url);
    browser.sign_in("viewer", "viewer-pass");
    assert_eq!(browser.text("#minions-up"), "1");
    assert_eq!(browser.count("#keys-pending"), 0, "no key figures");
    browser.open("/ui/minions");
    assert_eq!(
        browser.visible_rows("table.minions tbody tr[data-id]"),
        ["m1"]
    );
    browser.open("/ui/keys");
    assert!(
        browser
            .wait_text("[role=alert]", "may not list keys")
            .contains("viewer")
    );
    browser.document("refused");
    // Without jobs.list_jobs, the job history is the user's own runs.
    browser.open("/ui/jobs");
    browser.wait_text("main", "these are the jobs you ran here");
    assert_eq!(browser.count("table.jobs tbody tr[data-jid]"), 0);
    // A hand-made form for accepting m3, with and without the CSRF token.
    let forge = |csrf: &str| {
        let script = format!(
            "const f = document.createElement('form'); f.method = 'post'; f.action = '/ui/keys/act';\
             for (const [k, v] of Object.entries({{csrf: '{csrf}', id: 'm3', state: 'minions_pre', act: 'accept', finger: 'x'}})) {{\
               const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }}\
             document.body.appendChild(f); f.submit();"
        );
        browser
            .runtime
            .block_on(browser.client().execute(&script, Vec::new()))
            .expect("script");
    };
    browser.open("/ui");
    forge("not-the-token");
    browser.wait_text("[role=alert]", "not from your session");
    browser.open("/ui");
    let csrf = browser
        .runtime
        .block_on(async {
            browser
                .client()
                .find(Locator::Css("input[name=csrf]"))
                .await?
                .prop("value")
                .await
        })
        .expect("csrf")
        .unwrap_or_default();
    forge(&csrf);
    browser.wait_text("[role=alert]", "may not accept the key of m3");
    assert_eq!(
        site.cluster.keys()["minions_pre"],
        json!(["m3"]),
        "unchanged"
    );
}

/// The run page: function names completed from the minions, the chosen
/// function's arguments, `test.ping` with its returns arriving on the job
/// page, a `state.apply test=True` read in the highstate view with its
/// failure listed first, the raw JSON switch; then the live event tail and
/// its tag filter.
#[test]
fn a_run_streams_its_returns_and_the_event_tail_is_live() {
    let site = site();
    let browser = Browser::start("run", &site.api.url);
    browser.sign_in("admin", "admin-pass");
    browser.open("/ui/run");
    browser.fill("#run-tgt", "m1,m2");
    browser.runtime.block_on(async {
        let select = browser.element("#run-tgt-type").await;
        select.select_by_value("list").await.expect("list");
    });
    browser.click("#run-fun");
    let started = Instant::now();
    while browser.count("#functions option[value='test.ping']") == 0 {
        assert!(
            started.elapsed() < PAGE_WAIT,
            "no function names to complete"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    browser.fill("#run-fun", "test.echo");
    browser.click("#run-args");
    browser.wait_text("#fun-hint", "test.echo(text)");
    browser.document("run");
    browser.fill("#run-fun", "test.ping");
    browser.click("#run-submit");
    browser.wait_text("#job-status", "All 2 returned.");
    for id in ["m1", "m2"] {
        let css = format!("section[data-id={id}]");
        assert!(
            browser
                .text(&format!("{css} .ret-state"))
                .contains("returned")
        );
        assert!(browser.text(&format!("{css} pre.out")).contains("True"));
    }
    browser.document("job");

    browser.open("/ui/run");
    browser.fill("#run-tgt", "m1");
    browser.fill("#run-fun", "state.apply");
    browser.fill("#run-args", "ui");
    browser.click("input[name=test]");
    browser.click("#run-submit");
    browser.wait_text("#job-status", "All 1 returned.");
    let out = browser.text("section[data-id=m1] pre.out");
    assert!(out.contains("Summary for m1"), "{out}");
    assert!(out.contains("greeting"), "{out}");
    assert!(
        browser
            .text("section[data-id=m1] .failures")
            .contains("broken: "),
        "the failure is listed first"
    );
    assert!(
        browser
            .text("section[data-id=m1] .ret-state")
            .contains("failed")
    );
    browser.document("job-highstate");
    browser.click("#raw-switch");
    assert!(
        browser
            .text("section[data-id=m1] pre.raw")
            .contains("\"__run_num__\"")
    );

    // The overview counts the failed state from the bus; the minions
    // table shows each minion's last job.
    browser.open("/ui");
    assert!(browser.text("#returns-rate").parse::<f64>().is_ok());
    browser.wait_text("#failed-states", "1");
    browser.open("/ui/minions");
    let last = browser.text("tr[data-id=m1] td:last-child");
    assert!(
        last.contains("state.apply") && last.contains("failed"),
        "{last}"
    );
    // m2's last is whichever helper or run reached it last (the run form
    // asks sys.argspec on `*` when it opens).
    assert_eq!(browser.count("tr[data-id=m2] td:last-child a"), 1);

    // The job history, filtered by function; a job's page from it.
    browser.open("/ui/jobs?since=1h");
    assert!(
        browser.count("table.jobs tbody tr[data-jid]") >= 2,
        "both runs listed"
    );
    browser.fill("#f-fun", "state.*");
    browser.click("form.filter button[type=submit]");
    browser.wait_rows_count("table.jobs tbody tr[data-jid]", 1);
    assert!(browser.text("table.jobs tbody").contains("state.apply"));
    browser.document("jobs");
    browser.click("table.jobs tbody tr[data-jid] a");
    browser.wait_text("section[data-id=m1] pre.out", "Summary for m1");

    // A minion's page: its cached grains.
    browser.open("/ui/minions");
    browser.click("tr[data-id=m1] a");
    browser.wait_text("h1", "m1");
    assert!(
        browser.text("table.grains").contains("kernel"),
        "grains shown"
    );
    let recent = browser.text("table.recent");
    assert!(
        recent.contains("state.apply") && recent.contains("test.ping"),
        "{recent}"
    );
    browser.document("minion");

    browser.open("/ui/events");
    browser.fill("#tag-filter", "brine/ui/*");
    let fired =
        site.cluster
            .brine_run(&["event.send", "brine/ui/hello", "data={\"from\": \"test\"}"]);
    assert!(
        fired.status.success(),
        "{}",
        String::from_utf8_lossy(&fired.stderr)
    );
    browser.wait_text("#events", "brine/ui/hello");
    // A job's events arrive too, and the filter hides them.
    site.cluster.brine(&["m1", "test.ping"]);
    let started = Instant::now();
    while browser.count("#events li") < 2 {
        assert!(
            started.elapsed() < PAGE_WAIT,
            "the job's events never arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(browser.text("#event-count"), "1 shown");
    browser.document("events");

    // A minion that is gone: the job page says it did not return, and why.
    let mut cluster = site.cluster;
    cluster.stop_minion("m2");
    browser.open("/ui/run");
    browser.fill("#run-tgt", "m1,m2");
    browser.runtime.block_on(async {
        let select = browser.element("#run-tgt-type").await;
        select.select_by_value("list").await.expect("list");
    });
    browser.fill("#run-fun", "test.ping");
    browser.click("#run-submit");
    browser.wait_text("#job-status", "1 did not return.");
    let why = browser.text("section[data-id=m2] .ret-state");
    assert!(why.starts_with("Minion did not return."), "{why}");
    assert!(browser.text("section[data-id=m1] pre.out").contains("True"));
}

/// `rest_api: {webui: False}` turns the dashboard off: its pages and assets
/// are not served, the REST API is.
#[test]
fn the_dashboard_can_be_turned_off() {
    let cluster = Cluster::builder()
        .minion_ids(&[])
        .master_conf(&format!(
            "rest_api:\n  port: {}\n  disable_ssl: True\n  webui: False\n",
            free_port()
        ))
        .start();
    let api = cluster.start_api(&[]);
    let status = |path: &str| {
        let out = brine_tests::cluster::run_with_timeout(
            Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                .arg(format!("{}{path}", api.url)),
            PAGE_WAIT,
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(status("/"), "200", "the REST API answers");
    for path in ["/ui", "/ui/login", "/ui/assets/app.js"] {
        assert_eq!(status(path), "404", "{path}");
    }
}
