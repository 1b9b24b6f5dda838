//! The connection task's serve loop and the subscription's glue against a
//! fake transport: a fake master that opens the minion's requests and seals
//! its answers, with publish frames handed straight to `on_publication`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};

use brine_common::frame::encode;
use brine_common::ids::MinionId;
use brine_common::wire::{PublishState, Published, SessionRequest};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::session::tests::{MasterEnd, session_pair};
use super::stream::tests::{CAP, EPOCH, FakeMaster, RUN, own_topic, publication, state, synced};
use super::*;

const WAIT: Duration = Duration::from_secs(5);
const SESSION: u64 = 42;

/// The minion's end of the request channel: every frame goes to the test.
struct FakeSink(mpsc::UnboundedSender<MinionFrame>);

impl FrameSink for FakeSink {
    async fn send_frame(&mut self, frame: &MinionFrame, _timeout: Duration) -> bool {
        self.0.send(frame.clone()).is_ok()
    }
}

/// A link whose session is served against a fake master.
struct Harness {
    link: Link,
    master: FakeMaster,
    end: MasterEnd,
    from_minion: mpsc::UnboundedReceiver<MinionFrame>,
    to_minion: mpsc::Sender<Box<MasterFrame>>,
    publications: mpsc::UnboundedReceiver<Box<Publication>>,
    served: JoinHandle<()>,
}

fn settings() -> LinkSettings {
    LinkSettings {
        id: MinionId::parse("m1").expect("id"),
        masters: vec![("127.0.0.1".into(), 4506)],
        failover: false,
        publish_port: None,
        source_address: None,
        master_finger: None,
        acceptance_wait_time: Duration::from_secs(10),
        acceptance_wait_time_max: Duration::ZERO,
        auth_timeout: WAIT,
        // One ping at the start of the session, then none during a test.
        alive_interval: Duration::from_secs(3600),
        max_message_size: CAP,
        master_pub_path: None,
        position: PositionFile::new(None),
        outbox: Outbox::in_memory(),
        subscribe: true,
        verified: None,
    }
}

impl Harness {
    /// A minion at `pos` in run `RUN` whose session has just been granted
    /// `grant_state`; the grant's catch-up (if any) is the first request.
    fn start(pos: (u64, u64), grant_state: PublishState) -> Harness {
        Harness::start_with(settings(), pos, grant_state)
    }

    /// [`Harness::start`] with these settings.
    fn start_with(settings: LinkSettings, pos: (u64, u64), grant_state: PublishState) -> Harness {
        let master = FakeMaster::new();
        let (outgoing, mut outgoing_rx) = mpsc::channel(16);
        let (pub_tx, publications) = mpsc::unbounded_channel();
        let connected = Arc::new(tokio::sync::watch::Sender::new(0));
        let shared = Arc::new(Shared {
            settings,
            identity: Arc::new(Identity::generate().expect("identity")),
            current: AtomicUsize::new(0),
            alive: AtomicBool::new(true),
            outgoing,
            tracker: Mutex::new(synced(&master, pos.0, pos.1)),
            resync: Notify::new(),
            connected: connected.clone(),
            deliveries: Mutex::new(Some(DeliverySink::Direct(pub_tx))),
            position_writer: Mutex::new(None),
            next_req: AtomicU64::new(1),
        });
        let first_catch_up = adopt_grant(&shared, &master.grant(grant_state));
        let (session, end) = session_pair(SESSION);
        let (to_master, from_minion) = mpsc::unbounded_channel();
        let (to_minion, mut incoming) = mpsc::channel(16);
        let served = tokio::spawn({
            let shared = shared.clone();
            async move {
                let mut sink = FakeSink(to_master);
                serve(
                    &shared,
                    session,
                    &mut sink,
                    &mut incoming,
                    &mut outgoing_rx,
                    first_catch_up,
                )
                .await;
            }
        });
        Harness {
            link: Link {
                conns: vec![shared].into(),
                connected,
            },
            master,
            end,
            from_minion,
            to_minion,
            publications,
            served,
        }
    }

    /// The next request the minion sends other than a ping (left unanswered:
    /// the pinger waits for its pong without sending another).
    async fn next_request(&mut self) -> SessionRequest {
        loop {
            let frame = tokio::time::timeout(WAIT, self.from_minion.recv())
                .await
                .expect("the minion sends a request in time")
                .expect("the serve loop is running");
            let request = self.end.open(&frame);
            if !matches!(request.body, Request::Ping) {
                return request;
            }
        }
    }

    async fn answer(&mut self, req_id: u64, reply: Reply) -> MasterFrame {
        let frame = self.end.answer(req_id, reply);
        self.deliver(frame.clone()).await;
        frame
    }

    async fn deliver(&self, frame: MasterFrame) {
        self.to_minion
            .send(Box::new(frame))
            .await
            .expect("the serve loop reads");
    }

    /// Hand one publish frame to the subscription's glue.
    fn publish(&self, topic: &str, seq: u64) {
        let blob = self.master.publish((RUN, EPOCH), topic, seq);
        let payload = encode(&blob).expect("encode");
        on_publication(
            &self.link.conns[0],
            &own_topic(),
            topic.as_bytes(),
            &payload,
        );
    }

    async fn delivered(&mut self) -> String {
        tokio::time::timeout(WAIT, self.publications.recv())
            .await
            .expect("a publication in time")
            .expect("the link is alive")
            .fun
    }

    fn nothing_delivered(&mut self) -> bool {
        self.publications.try_recv().is_err()
    }
}

fn published(range: impl IntoIterator<Item = u64>) -> Vec<Published> {
    range
        .into_iter()
        .map(|seq| Published {
            topic: TOPIC_BROADCAST.into(),
            seq,
            publication: publication(seq),
        })
        .collect()
}

fn is_catch_up(request: &Request, run: u64, broadcast: u64, own: u64) -> bool {
    matches!(request, Request::CatchUp { run: r, broadcast_after: b, own_after: o }
        if (*r, *b, *o) == (run, broadcast, own))
}

#[tokio::test]
async fn a_publication_in_order_is_delivered_once() {
    let mut h = Harness::start((3, 0), state(3, 0));
    h.publish(TOPIC_BROADCAST, 4);
    assert_eq!(h.delivered().await, "test.4");
    h.publish(TOPIC_BROADCAST, 4);
    assert!(h.nothing_delivered(), "a replayed publication is refused");
}

#[tokio::test]
async fn a_gap_is_caught_up_through_the_session_in_order_once() {
    let mut h = Harness::start((1, 0), state(1, 0));
    // Publications 2 and 3 were lost; 4 reveals the gap.
    h.publish(TOPIC_BROADCAST, 4);
    assert!(h.nothing_delivered(), "nothing past a gap is delivered");
    let refresh = h.next_request().await;
    assert!(matches!(refresh.body, Request::GetPublishKey));
    let key = h.master.key.as_bytes().to_vec();
    h.answer(
        refresh.req_id,
        Reply::PublishKey {
            key,
            state: state(4, 0),
        },
    )
    .await;
    let catch_up = h.next_request().await;
    assert!(
        is_catch_up(&catch_up.body, RUN, 1, 0),
        "{:?}",
        catch_up.body
    );
    let answer = h
        .answer(catch_up.req_id, Reply::CatchUp(published(2..=4)))
        .await;
    for fun in ["test.2", "test.3", "test.4"] {
        assert_eq!(h.delivered().await, fun);
    }
    // The same answer replayed, and publication 4 arriving late, run nothing.
    h.deliver(answer).await;
    h.publish(TOPIC_BROADCAST, 4);
    h.publish(TOPIC_BROADCAST, 5);
    assert_eq!(h.delivered().await, "test.5");
    assert!(h.nothing_delivered());
}

#[tokio::test]
async fn a_new_master_run_is_caught_up_from_its_start() {
    let restarted = PublishState {
        run: RUN + 1,
        ..state(2, 0)
    };
    let mut h = Harness::start((30, 0), restarted);
    let catch_up = h.next_request().await;
    assert!(
        is_catch_up(&catch_up.body, RUN + 1, 0, 0),
        "{:?}",
        catch_up.body
    );
    h.answer(catch_up.req_id, Reply::CatchUp(published(1..=2)))
        .await;
    assert_eq!(h.delivered().await, "test.1");
    assert_eq!(h.delivered().await, "test.2");
}

#[tokio::test]
async fn each_caller_gets_the_answer_to_its_own_request() {
    let mut h = Harness::start((0, 0), state(0, 0));
    let first = tokio::spawn({
        let link = h.link.clone();
        async move { link.request(Request::GetPublishKey, WAIT).await }
    });
    let a = h.next_request().await;
    let second = tokio::spawn({
        let link = h.link.clone();
        async move { link.request(Request::GetPublishKey, WAIT).await }
    });
    let b = h.next_request().await;
    // Answered in the other order.
    h.answer(b.req_id, Reply::Pillar(Default::default())).await;
    h.answer(a.req_id, Reply::Ok).await;
    assert!(matches!(first.await.expect("join"), Ok(Reply::Ok)));
    assert!(matches!(second.await.expect("join"), Ok(Reply::Pillar(_))));
}

#[tokio::test]
async fn only_the_masters_unknown_session_notice_ends_the_session() {
    let mut h = Harness::start((0, 0), state(0, 0));
    let forged = SignedBlob::sign(
        &Identity::generate().expect("identity"),
        &UnknownSessionNotice { session: SESSION },
    )
    .expect("sign");
    h.deliver(MasterFrame::UnknownSession(forged)).await;
    // Still serving: a caller's request goes through.
    let call = tokio::spawn({
        let link = h.link.clone();
        async move { link.request(Request::GetPublishKey, WAIT).await }
    });
    let req = h.next_request().await;
    h.answer(req.req_id, Reply::Ok).await;
    assert!(matches!(call.await.expect("join"), Ok(Reply::Ok)));

    let genuine = SignedBlob::sign(
        &h.master.identity,
        &UnknownSessionNotice { session: SESSION },
    )
    .expect("sign");
    h.deliver(MasterFrame::UnknownSession(genuine)).await;
    tokio::time::timeout(WAIT, &mut h.served)
        .await
        .expect("the serve loop ends to authenticate again")
        .expect("join");
}

#[tokio::test]
async fn a_broken_transport_ends_the_session() {
    let mut h = Harness::start((0, 0), state(0, 0));
    h.from_minion.close();
    tokio::time::timeout(WAIT, &mut h.served)
        .await
        .expect("the serve loop ends to reconnect")
        .expect("join");
}

/// A return in the outbox is sent until the master acknowledges it: a
/// master that cannot store it yet gets it again; the acknowledgement
/// removes it from the disk.
#[tokio::test]
async fn a_return_is_resent_until_acknowledged_then_leaves_the_outbox() {
    use crate::outbox::{OutboxLimits, Pending};
    let dir = tempfile::tempdir().expect("tmp");
    let limits = OutboxLimits {
        max_count: 10,
        max_bytes: 1 << 20,
    };
    let (outbox, backlog) = Outbox::open(dir.path(), limits).expect("outbox");
    assert!(backlog.is_empty());
    let mut with_outbox = settings();
    with_outbox.outbox = outbox.clone();
    let mut h = Harness::start_with(with_outbox, (0, 0), state(0, 0));
    let ret = brine_common::wire::JobReturn {
        jid: brine_common::ids::Jid::parse("20261207090000000001").expect("jid"),
        fun: "test.ping".into(),
        fun_args: Vec::new(),
        ret: serde_json::json!(true),
        retcode: 0,
        success: true,
        out: None,
    };
    let delivery = outbox.persist(Pending::Return(ret.clone())).await;
    assert_eq!(outbox.waiting(), 1, "on disk before it is sent");
    let link = h.link.clone();
    let sending = tokio::spawn(async move { delivery.send(&link).await });

    let first = h.next_request().await;
    assert!(matches!(&first.body, Request::Return(r) if *r == ret));
    let not_now = Reply::Refused {
        reason: brine_common::wire::CACHE_UNAVAILABLE.into(),
    };
    h.answer(first.req_id, not_now).await;
    let again = h.next_request().await;
    assert!(matches!(&again.body, Request::Return(r) if *r == ret));
    assert_eq!(outbox.waiting(), 1, "still kept");
    h.answer(again.req_id, Reply::Ok).await;
    tokio::time::timeout(WAIT, sending)
        .await
        .expect("settled in time")
        .expect("sender");
    assert_eq!(outbox.waiting(), 0);
    let (_, backlog) = Outbox::open(dir.path(), limits).expect("outbox");
    assert!(backlog.is_empty(), "nothing left for the next start");
}

/// A stopping minion's link hands over nothing more, and the executor's
/// channel closes once what was handed over is read.
#[tokio::test]
async fn a_stopped_link_delivers_nothing_more_and_closes_the_channel() {
    let mut h = Harness::start((3, 0), state(3, 0));
    h.publish(TOPIC_BROADCAST, 4);
    h.link.stop_deliveries().await;
    h.publish(TOPIC_BROADCAST, 5);
    assert_eq!(h.delivered().await, "test.4", "handed over before the stop");
    let end = tokio::time::timeout(WAIT, h.publications.recv()).await;
    assert!(end.expect("in time").is_none(), "nothing after the stop");
}

/// An auth request the master leaves unanswered (what it does with one
/// stamped outside the allowed clock skew) is told apart from a broken
/// transport, so the connection task can say what to check.
#[tokio::test]
async fn an_unanswered_auth_request_is_not_a_broken_transport() {
    let mut quick = settings();
    quick.auth_timeout = Duration::from_millis(50);
    let h = Harness::start_with(quick, (1, 0), state(1, 0));
    let (to_master, mut sent) = mpsc::unbounded_channel();
    let mut sink = FakeSink(to_master);

    let (_silent_master, mut incoming) = mpsc::channel(1);
    let failure = authenticate(&h.link.conns[0], &mut sink, &mut incoming).await;
    assert!(matches!(failure, Err(AuthFailure::Unanswered)));
    assert!(matches!(sent.recv().await, Some(MinionFrame::Auth(_))));

    let (gone, mut incoming) = mpsc::channel(1);
    drop(gone);
    let failure = authenticate(&h.link.conns[0], &mut sink, &mut incoming).await;
    assert!(matches!(failure, Err(AuthFailure::Transport)));
}

#[test]
fn the_unanswered_auth_warning_names_the_clock_skew_and_this_hosts_clock() {
    let now: jiff::Timestamp = "2026-12-07T10:18:50Z".parse().expect("timestamp");
    let text = unanswered_auth_message(Duration::from_secs(2), now);
    assert!(text.contains("within 2s"), "{text}");
    assert!(
        text.contains("more than 300 s from its own clock"),
        "{text}"
    );
    assert!(text.contains("(2026-12-07T10:18:50Z)"), "{text}");
    let warned: Vec<u32> = (1..=30).filter(|n| warn_unanswered(*n)).collect();
    assert_eq!(warned, [1, 10, 20, 30]);
}
