//! The attacks of the security review in issue 14, one test each, named
//! after the attack and the Salt CVE class it belongs to (research notes,
//! "Security history"). Each says which check it attacks: with that check
//! removed, the test fails.
//!
//! The attackers: raw TCP speaking just enough ZMTP, the rogue DEALER of
//! `rogue.rs` (with or without an accepted key: the network attacker and the
//! compromised minion), a man in the middle on the request channel, and a
//! local user planting a symlink. The two API attacks (logins, hooks) live
//! in `api.rs` beside the API's other tests.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brine_common::crypto::Identity;
use brine_common::frame::{decode, encode};
use brine_common::target::TargetType;
use brine_common::wire::{
    MasterFrame, MinionFrame, PROTOCOL_VERSION, Reply, Request, SignedBlob, UnknownSessionNotice,
};
use serde_json::json;

use crate::cluster::{Cluster, bin, free_port, stderr, stdout, wait_for};
use crate::rogue::{Rogue, unix_now};
use crate::security::{LogMark, assert_serving, process_alive, zmtp_greeting};

// ---------------------------------------------------------------------------
// Helpers

/// A ZMTP READY command announcing `socket_type`.
fn zmtp_ready(socket_type: &str) -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&u32::try_from(socket_type.len()).expect("len").to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    let mut frame = vec![0x04, u8::try_from(body.len()).expect("short command")];
    frame.extend(body);
    frame
}

/// A raw TCP connection that has done the ZMTP handshake as `socket_type`.
fn zmtp_peer(port: u16, socket_type: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("write timeout");
    s.write_all(&zmtp_greeting()).expect("greeting");
    s.write_all(&zmtp_ready(socket_type)).expect("ready");
    s
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The master's publisher child (`brine-master --publisher`): the process
/// whose parent is the master.
fn publisher_pid(master: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == master).then_some(pid)
    })
}

/// Write `total` bytes of empty message frames with MORE set (two bytes
/// each on the wire) after the handshake; how many got through before the
/// peer closed the connection.
fn stream_empty_frames(port: u16, socket_type: &str, total: usize) -> usize {
    let mut s = zmtp_peer(port, socket_type);
    let chunk = [0x01u8, 0x00].repeat(32 * 1024);
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent < total && Instant::now() < deadline {
        match s.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n,
        }
    }
    sent
}

/// Mode bits of `path`.
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// An auth request as a hostile client encodes it: any id string.
#[derive(serde::Serialize)]
struct AnyAuthRequest {
    id: String,
    #[serde(with = "serde_bytes")]
    pubkey: Vec<u8>,
    #[serde(with = "serde_bytes")]
    eph_pub: Vec<u8>,
    #[serde(with = "serde_bytes")]
    nonce: Vec<u8>,
    ts: i64,
    version: u32,
}

/// A signed auth request for `id` (which need not be a valid minion id).
fn auth_frame(id: &str, identity: &Identity) -> Vec<u8> {
    let request = AnyAuthRequest {
        id: id.to_string(),
        pubkey: identity.public().0.to_vec(),
        eph_pub: vec![7; 32],
        nonce: vec![9; 32],
        ts: unix_now(),
        version: PROTOCOL_VERSION,
    };
    let blob = SignedBlob::sign(identity, &request).expect("sign");
    encode(&MinionFrame::Auth(blob)).expect("encode")
}

// ---------------------------------------------------------------------------
// 1. Endless empty frames

/// Attack 1 (HIGH, unauthenticated): a message of endless empty frames, two
/// bytes each on the wire with MORE set, never reached the size cap (which
/// counted payload bytes only): 64 MiB took the master from 17 MiB to
/// 1.1 GiB. Attacks vendor/zeromq's `ZmqCodec::check_frame` (each frame
/// costs `FRAME_OVERHEAD` against the cap, and `max_message_frames` bounds
/// the count) on the request port and on the publisher's port.
#[test]
fn cve_2023_20897_a_message_of_endless_empty_frames_is_cut_off() {
    let c = Cluster::builder().minions(1).start().ready();
    let master = c.master_pid().expect("master pid");
    let publisher = publisher_pid(master).expect("the publisher child");
    const FLOOD: usize = 24 << 20;
    for (what, port, socket_type, pid) in [
        ("request port", c.ret_port, "DEALER", master),
        ("publish port", c.publish_port, "SUB", publisher),
    ] {
        let before = rss_kib(pid);
        let sent = stream_empty_frames(port, socket_type, FLOOD);
        let grown_mib = rss_kib(pid).saturating_sub(before) / 1024;
        assert!(
            sent < FLOOD / 2,
            "the {what} read {sent} bytes of empty frames without cutting the peer off"
        );
        assert!(
            grown_mib < 32,
            "the process behind the {what} grew by {grown_mib} MiB"
        );
        assert!(process_alive(pid), "the process behind the {what} died");
        assert_serving(&c, &format!("empty frames on the {what}"));
    }
}

// ---------------------------------------------------------------------------
// 2. Deeply nested compound targets

/// Attack 2 (HIGH, any accepted minion): `MineGet` with a compound target of
/// 20,000 `( ` overflowed a master worker's stack and aborted the master.
/// Attacks `Parser::nested` in common/src/target/compound.rs (nesting
/// bounded by `MAX_NESTING`); the same parser serves `__allow_tgt__`, the
/// API and the CLI, so the CLI is tried too.
#[test]
fn cve_2023_20897_a_deeply_nested_compound_target_does_not_stop_the_master() {
    let c = Cluster::builder().minions(1).start().ready();
    let mut evil = Rogue::accepted(&c, "evil");
    let deep = "( ".repeat(20_000);
    let reply = evil.request(Request::MineGet {
        tgt: json!(deep),
        tgt_type: TargetType::Compound,
        fun: json!("test.ping"),
    });
    match &reply {
        Reply::Refused { reason } => assert!(reason.contains("nests deeper"), "{reason}"),
        other => panic!("a 20,000-deep target was not refused: {other:?}"),
    }
    assert_serving(&c, "a 20,000-deep compound target from a minion");

    let nots = format!("{}m1", "not ".repeat(20_000));
    let out = c.brine(&["-C", &nots, "test.ping"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("nests deeper"), "{}", stderr(&out));
    assert_serving(&c, "a 20,000-deep compound target from the CLI");
}

// ---------------------------------------------------------------------------
// 3. and 4. Minion-asserted pillar

const DB_PILLAR_TOP: &str = "base:\n  'role:db':\n    - match: pillar\n    - db\n";

/// Attack 3 (MEDIUM-HIGH): a minion's pillar override (`extra` in its pillar
/// request) was used to match the pillar top file, so a minion claiming
/// `role: db` received the db servers' pillar. Attacks `compile` in
/// pillar/src/lib.rs, which matches the top file on `top_facts` (no
/// override), as Salt's `top_matches` does.
#[test]
fn cve_2025_22237_a_minions_pillar_override_does_not_choose_its_pillar() {
    let tree = tempfile::tempdir().expect("pillar tree");
    std::fs::write(tree.path().join("top.sls"), DB_PILLAR_TOP).expect("top");
    std::fs::write(tree.path().join("db.sls"), "db_password: hunter2\n").expect("db");
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&format!(
            "pillar_roots:\n  base:\n    - {}\n",
            tree.path().display()
        ))
        .start()
        .ready();
    let mut evil = Rogue::accepted(&c, "evil");
    let reply = evil.request(Request::Pillar {
        saltenv: None,
        pillarenv: None,
        extra: json!({"role": "db"}).as_object().cloned().expect("map"),
    });
    let Reply::Pillar(pillar) = reply else {
        panic!("no pillar: {reply:?}");
    };
    assert_eq!(
        pillar.get("role"),
        Some(&json!("db")),
        "the override is merged"
    );
    assert!(
        !pillar.contains_key("db_password"),
        "the override earned the db pillar: {pillar:?}"
    );
}

/// Attack 4 (MEDIUM): a minion's `MinionData` overwrote the pillar the
/// master caches for it, so `-I` targeting (and `mine.get` with `I@`, and
/// pillar-based API permissions) trusted minion-asserted pillar. The minion
/// here sends the older wire form with a `pillar` field. Attacks
/// `grains::store` (master/src/reqserver/grains.rs), which keeps the grains and
/// the pillar the master compiled (`MinionData::set_grains`).
#[test]
fn cve_2022_22934_pillar_a_minion_asserts_is_not_used_for_targeting() {
    let c = Cluster::builder().minions(1).start().ready();
    let mut evil = Rogue::accepted(&c, "evil");
    let claimed = json!({"MinionData": {
        "grains": {"os": "Debian"},
        "pillar": {"role": "db"},
    }});
    assert!(matches!(evil.request_any(&claimed), Reply::Ok));
    let out = c.brine(&["-t", "2", "--out", "json", "-I", "role:db", "test.ping"]);
    assert!(
        !stdout(&out).contains("evil"),
        "the master expected evil on its own word: {} {}",
        stdout(&out),
        stderr(&out)
    );
    // Its grains, on the other hand, are its own to tell.
    let out = c.brine(&["-t", "2", "--out", "json", "-G", "os:Debian", "test.ping"]);
    assert!(stdout(&out).contains("evil"), "{}", stdout(&out));
}

// ---------------------------------------------------------------------------
// 5. Acknowledgements and heartbeats for other minions' jobs

/// Attack 5 (MEDIUM): `Ack`/`Heartbeat` were accepted for any jid from any
/// minion: a rogue held `brine -t 3 m1 test.sleep 2` for 22 s. Attacks
/// `Progress::job_is_for` (master/src/reqserver/progress.rs) and `JobInFlight::is_for`: without
/// them the client waits for the rogue as long as it heart-beats.
#[test]
fn cve_2024_38822_acks_and_heartbeats_for_a_job_not_for_the_minion_are_refused() {
    let c = Cluster::builder().minions(1).start().ready();
    let mut evil = Rogue::accepted(&c, "evil");
    let new_jobs = c.events("salt/job/*/new");
    let started = Instant::now();
    let mut client = Command::new(bin("brine"))
        .arg("-c")
        .arg(c.master_dir())
        .args(["-t", "3", "--out", "json", "m1", "test.sleep", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("brine");
    let (_, job) = new_jobs.expect("the job", Duration::from_secs(10), |_, d| {
        d["fun"] == "test.sleep"
    });
    let jid: brine_common::ids::Jid = serde_json::from_value(job["jid"].clone()).expect("a jid");
    let ack = evil.request(Request::Ack { jid: jid.clone() });
    assert!(matches!(ack, Reply::Refused { .. }), "{ack:?}");
    // Heart-beat for the job until the client is done, for at most 15 s.
    let status = loop {
        let beat = evil.request(Request::Heartbeat {
            jids: vec![jid.clone()],
        });
        assert!(matches!(beat, Reply::Refused { .. }), "{beat:?}");
        if let Some(status) = client.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the client is still waiting on the rogue's heartbeats"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let mut out = String::new();
    client
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    assert!(status.success(), "{out}");
    assert!(!out.contains("evil"), "{out}");
    assert!(out.contains("m1"), "{out}");
}

// ---------------------------------------------------------------------------
// 6. Hidden ids

/// Attack 6 (MEDIUM): ids could start with `.`; with `auto_accept`,
/// `.shadow` got a session yet was missing from `brine-key -L` and
/// `manage.status`, and survived `brine-key -d '*'`. Attacks
/// `MinionId::parse` (common/src/ids.rs), which refuses such ids, and
/// `key_file_id` (master/src/keys.rs), which reports key files it cannot
/// list instead of hiding them.
#[test]
fn cve_2024_22231_a_dot_id_gets_no_key_and_no_key_file_is_hidden() {
    let c = Cluster::builder().minions(1).auto_accept(true).start();
    c.wait_pingable("m1", &["m1"]);
    let mut peer = Rogue::connect(c.ret_port, "shadow-peer", Identity::generate().expect("id"));
    peer.send_bytes(&auth_frame(
        ".shadow",
        &Identity::generate().expect("identity"),
    ));
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Some(frame) = peer.recv_frame(deadline.saturating_duration_since(Instant::now())) {
        assert!(
            !matches!(frame, MasterFrame::Auth(_)),
            "the master answered an auth request for '.shadow'"
        );
    }
    let accepted = c.pki_dir().join("minions");
    assert!(
        !accepted.join(".shadow").exists(),
        "a hidden key was accepted"
    );
    assert_serving(&c, "an auth request for '.shadow'");

    // A key file planted by hand under a hidden name is reported.
    let planted = accepted.join(".planted");
    std::fs::copy(accepted.join("m1"), &planted).expect("plant");
    let out = c.brine_key(&["-L"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(".planted"),
        "brine-key -L said nothing of .planted: {} {}",
        stdout(&out),
        stderr(&out)
    );
}

// ---------------------------------------------------------------------------
// 8. Auth floods

/// Attack 8 (MEDIUM): unauthenticated auth requests each wrote and fsynced a
/// pending key and fired `salt/auth`, without bound, and a request before
/// auth could be a 64 MiB frame. Attacks `KeyStore::decide_auth`'s
/// `max_pending_keys` check (master/src/keys.rs), the `AuthIntake` bound in
/// master/src/reqserver/auth.rs, and the pre-auth message cap
/// (`untrusted_message_size`, lifted by `trust_peer` once a peer is accepted).
#[test]
fn cve_2023_20897_an_auth_flood_caps_pending_keys_and_keeps_minions_served() {
    let c = Cluster::builder()
        .minions(1)
        .master_conf("max_pending_keys: 20\n")
        .start()
        .ready();
    // A minion accepted before the flood: its connection is trusted.
    let mut honest = Rogue::accepted(&c, "honest");

    // Before auth, a message of 1 MiB is cut off at its header.
    let mut big = zmtp_peer(c.ret_port, "DEALER");
    big.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut header = vec![0x02];
    header.extend_from_slice(&(1u64 << 20).to_be_bytes());
    big.write_all(&header).expect("header");
    let mut buf = [0u8; 256];
    let closed = loop {
        match big.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    assert!(closed, "the master waited for a 1 MiB message before auth");

    // 200 made-up ids from a few connections.
    let mut peers: Vec<Rogue> = (0..4)
        .map(|i| {
            Rogue::connect(
                c.ret_port,
                &format!("flood{i}"),
                Identity::generate().expect("id"),
            )
        })
        .collect();
    for n in 0..200 {
        let identity = Identity::generate().expect("identity");
        let peer = &mut peers[n % 4];
        peer.send_bytes(&auth_frame(&format!("bogus{n:03}"), &identity));
    }
    wait_for("the cap to refuse a key", Duration::from_secs(30), || {
        c.master_log()
            .contains("refused a new key: max_pending_keys reached")
            .then_some(())
    });
    let pending = c.keys()["minions_pre"].as_array().map_or(0, Vec::len);
    assert_eq!(pending, 20, "{}", c.keys());
    assert_serving(&c, "a flood of auth requests");

    // An accepted minion's session carries large messages as before.
    let grains = json!({"MinionData": {"grains": {"blob": "x".repeat(256 * 1024)}}});
    assert!(matches!(honest.request_any(&grains), Reply::Ok));
}

// ---------------------------------------------------------------------------
// 9. Private directories

/// Attack 9 (LOW): `pki_dir` and `cachedir` were 0755 and `jobs.redb` 0644,
/// so any local user read every job return (pillar, command output).
/// Attacks `private_dir` (common/src/crypto.rs) as the master and the minion
/// use it at start, and the 0600 of `RedbJobCache::open`.
#[test]
fn cve_2020_17490_key_and_cache_directories_are_private() {
    let c = Cluster::builder().minions(1).start().ready();
    let master_cache = c.master_root().join("var/cache/brine/master");
    assert_eq!(mode(&c.pki_dir()), 0o700);
    assert_eq!(mode(&master_cache), 0o700);
    assert_eq!(mode(&master_cache.join("jobs.redb")), 0o600);
    let minion = c.minion_root("m1");
    assert_eq!(mode(&minion.join("etc/brine/pki/minion")), 0o700);
    assert_eq!(mode(&minion.join("var/cache/brine/minion")), 0o700);
}

// ---------------------------------------------------------------------------
// 11. Dangling symlinks

/// Attack 11 (LOW): `file.managed` of a missing target wrote through a
/// dangling symlink (`fs::write`), so a local user who could plant the link
/// chose where root's file went. Attacks `atomic_write` as `manage_contents`
/// now uses it for new files too (minion/src/modules/file.rs): the rename
/// replaces the link.
#[test]
fn cve_2023_34049_file_managed_does_not_follow_a_dangling_symlink() {
    let tree = tempfile::tempdir().expect("tree");
    let target = tempfile::tempdir().expect("target");
    let managed = target.path().join("motd");
    let victim = target.path().join("elsewhere");
    std::os::unix::fs::symlink(&victim, &managed).expect("plant the link");
    std::fs::write(
        tree.path().join("motd.sls"),
        format!(
            "{}:\n  file.managed:\n    - contents: hello\n",
            managed.display()
        ),
    )
    .expect("sls");
    let c = crate::states::masterless(tree.path());
    let out = c.brine_call("m1", &["--local", "--out", "json", "state.apply", "motd"]);
    assert!(out.status.success(), "{} {}", stdout(&out), stderr(&out));
    assert!(!victim.exists(), "the write followed the planted link");
    let meta = std::fs::symlink_metadata(&managed).expect("managed file");
    assert!(meta.is_file(), "{meta:?}");
    assert_eq!(std::fs::read_to_string(&managed).expect("read"), "hello\n");
}

// ---------------------------------------------------------------------------
// 12. Forged unknown-session notices

/// A man in the middle on the request channel: forwards both ways, learns
/// the session id from the master's session frames, and can put whole
/// messages of its own into the master-to-minion stream between messages.
struct RequestProxy {
    port: u16,
    session: Arc<Mutex<Option<u64>>>,
    inject: Arc<Mutex<VecDeque<Vec<u8>>>>,
}

impl RequestProxy {
    fn start(master_port: u16) -> RequestProxy {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the proxy");
        let session = Arc::new(Mutex::new(None));
        let inject = Arc::new(Mutex::new(VecDeque::new()));
        let (s, i) = (session.clone(), inject.clone());
        std::thread::spawn(move || {
            for minion in listener.incoming() {
                let Ok(minion) = minion else { return };
                let Ok(master) = TcpStream::connect(("127.0.0.1", master_port)) else {
                    continue;
                };
                let (mut up_r, mut up_w) = (
                    minion.try_clone().expect("clone"),
                    master.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut up_r, &mut up_w);
                });
                let (s, i) = (s.clone(), i.clone());
                std::thread::spawn(move || relay_to_minion(master, minion, &s, &i));
            }
        });
        RequestProxy {
            port,
            session,
            inject,
        }
    }

    fn session(&self) -> Option<u64> {
        *self.session.lock().expect("lock")
    }

    /// Queue `payload` as one message for the minion.
    fn inject(&self, payload: Vec<u8>) {
        self.inject.lock().expect("lock").push_back(payload);
    }
}

/// Copy ZMTP frames from the master to the minion, noting session ids and
/// slipping queued messages in at message boundaries.
fn relay_to_minion(
    mut master: TcpStream,
    mut minion: TcpStream,
    session: &Mutex<Option<u64>>,
    inject: &Mutex<VecDeque<Vec<u8>>>,
) -> Option<()> {
    let mut greeting = [0u8; 64];
    master.read_exact(&mut greeting).ok()?;
    minion.write_all(&greeting).ok()?;
    loop {
        let mut flags = [0u8; 1];
        master.read_exact(&mut flags).ok()?;
        let len = if flags[0] & 0x02 != 0 {
            let mut l = [0u8; 8];
            master.read_exact(&mut l).ok()?;
            minion.write_all(&flags).ok()?;
            minion.write_all(&l).ok()?;
            usize::try_from(u64::from_be_bytes(l)).ok()?
        } else {
            let mut l = [0u8; 1];
            master.read_exact(&mut l).ok()?;
            minion.write_all(&flags).ok()?;
            minion.write_all(&l).ok()?;
            usize::from(l[0])
        };
        let mut body = vec![0u8; len];
        master.read_exact(&mut body).ok()?;
        minion.write_all(&body).ok()?;
        let is_command = flags[0] & 0x04 != 0;
        let more = flags[0] & 0x01 != 0;
        if is_command || more {
            continue;
        }
        if let Ok(MasterFrame::Session(sealed)) = decode::<MasterFrame>(&body, 64 << 20) {
            *session.lock().ok()? = Some(sealed.session);
        }
        while let Some(payload) = inject.lock().ok()?.pop_front() {
            let mut frame = vec![0x02];
            frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
            frame.extend(payload);
            minion.write_all(&frame).ok()?;
        }
    }
}

/// Attack 12 (INFO): `UnknownSession` was unsigned, so an on-path attacker
/// could force every minion to re-authenticate at will. Attacks the
/// signature check of `unknown_session_notice` (minion/src/link.rs): a
/// notice signed by another key is ignored; the same notice signed with the
/// master's key (the control: the injection does reach the minion) makes it
/// authenticate again.
#[test]
fn cve_2022_22935_a_forged_unknown_session_notice_does_not_force_reauth() {
    let mut c = Cluster::builder().minion_ids(&[]).start();
    let proxy = RequestProxy::start(c.ret_port);
    c.add_minion_at("m1", proxy.port, "");
    let c = c.ready();
    let session = wait_for(
        "a session through the proxy",
        Duration::from_secs(20),
        || proxy.session(),
    );
    let notice = |key: &Identity| {
        let blob = SignedBlob::sign(key, &UnknownSessionNotice { session }).expect("sign");
        encode(&MasterFrame::UnknownSession(blob)).expect("encode")
    };

    let log = LogMark::now(&c, "m1");
    proxy.inject(notice(&Identity::generate().expect("forger")));
    wait_for(
        "the minion to judge the forged notice",
        Duration::from_secs(20),
        || {
            log.since()
                .contains("ignoring an unknown-session notice that is not the master's")
                .then_some(())
        },
    );
    assert!(
        !log.since().contains("authenticating again"),
        "a forged notice forced re-authentication:\n{}",
        log.since()
    );
    assert_serving(&c, "a forged unknown-session notice");

    let master_key = Identity::load(&c.pki_dir().join("master.pem")).expect("master key");
    let log = LogMark::now(&c, "m1");
    proxy.inject(notice(&master_key));
    wait_for(
        "the master's own notice to be obeyed",
        Duration::from_secs(20),
        || log.since().contains("authenticating again").then_some(()),
    );
    assert_eq!(
        c.brine(&["-t", "5", "--out", "json", "--static", "m1", "test.ping"])
            .status
            .code(),
        Some(0)
    );
}
