//! The vendored zeromq's ROUTER peer table while a peer reads nothing: the
//! shape of the master stall the fault suite found (vendor/zeromq/
//! BRINE-PATCH.md). A send that waits on a slow peer's full queue must not
//! keep that peer's entry locked: the request server lifts an authenticated
//! peer's message cap (`trust_peer`) and the socket drops a closed peer
//! (`peer_disconnected`) through the same table, on the runtime's worker
//! threads. When the entry stayed locked across the wait, both blocked, every
//! worker thread ended up parked and the master served nobody again.
//!
//! No daemon here: a ROUTER and a DEALER in this process, on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use zeromq::util::PeerIdentity;
use zeromq::{
    DealerSocket, RouterSendHalf, RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage,
};

/// How long a table operation may take before the test calls it blocked: a
/// free entry answers in microseconds.
const BLOCKED_AFTER: Duration = Duration::from_secs(10);

/// A ROUTER with two DEALER peers that will never read (with one peer the
/// socket sends through a cache of its own and never touches the table), and
/// the first one's identity as the ROUTER knows it.
async fn router_with_silent_peers() -> (RouterSocket, DealerSocket, DealerSocket, PeerIdentity) {
    let mut router = RouterSocket::new();
    let endpoint = router.bind("tcp://127.0.0.1:0").await.expect("bind");
    let (silent, identity) = connect_dealer(&mut router, &endpoint.to_string()).await;
    let (bystander, _) = connect_dealer(&mut router, &endpoint.to_string()).await;
    (router, silent, bystander, identity)
}

/// A DEALER connected to `router` that said hello, with its identity.
async fn connect_dealer(router: &mut RouterSocket, endpoint: &str) -> (DealerSocket, PeerIdentity) {
    let mut dealer = DealerSocket::new();
    dealer.connect(endpoint).await.expect("connect");
    dealer
        .send(ZmqMessage::from("hello"))
        .await
        .expect("dealer send");
    let first = tokio::time::timeout(BLOCKED_AFTER, router.recv())
        .await
        .expect("the dealer's message in time")
        .expect("router recv");
    let identity = first.get(0).expect("identity frame").clone();
    let identity = PeerIdentity::try_from(identity).expect("peer identity");
    (dealer, identity)
}

/// Send to `peer` from a task of its own until a send waits (the peer's
/// queue and the TCP buffers are full); returns the task and the number of
/// messages it got out. The task ends when its send fails.
async fn fill_until_a_send_waits(
    send: &RouterSendHalf,
    peer: &PeerIdentity,
) -> (tokio::task::JoinHandle<()>, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let mut filler = send.clone();
    let counter = sent.clone();
    let to: bytes::Bytes = peer.clone().into();
    let task = tokio::spawn(async move {
        loop {
            let mut message = ZmqMessage::from(to.clone());
            message.push_back(vec![0u8; 64].into());
            if filler.send(message).await.is_err() {
                return;
            }
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    // The count stops moving once a send waits; bounded so a peer that does
    // read after all fails the test instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = sent.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the silent peer's queue never filled ({now} messages sent)"
        );
        last = now;
    }
    (task, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_waiting_on_a_full_peer_queue_leaves_the_peer_table_usable() {
    let (router, dealer, _bystander, peer) = router_with_silent_peers().await;
    let (send, _recv) = router.split();
    let (filler, sent) = fill_until_a_send_waits(&send, &peer).await;
    assert!(
        sent.load(Ordering::Relaxed) > 1_000,
        "the peer's queue holds many messages before a send waits"
    );

    // trust_peer on the same peer, from a blocking thread so a lock that is
    // never released shows as a timeout here instead of a hung runtime.
    let trusting = send.clone();
    let trusted_peer = peer.clone();
    let trusted = tokio::time::timeout(
        BLOCKED_AFTER,
        tokio::task::spawn_blocking(move || trusting.trust_peer(&trusted_peer)),
    )
    .await
    .expect("trust_peer blocked behind a send waiting on the peer's full queue")
    .expect("trust_peer thread");
    assert!(trusted, "the peer is still connected");

    // The peer goes away while the send still waits: the socket drops it
    // (peer_disconnected on the same entry) and the waiting send fails
    // instead of waiting for good.
    drop(dealer);
    tokio::time::timeout(BLOCKED_AFTER, filler)
        .await
        .expect("the waiting send did not end after its peer closed")
        .expect("filler task");
    let mut to_gone_peer = ZmqMessage::from(bytes::Bytes::from(peer.clone()));
    to_gone_peer.push_back("late".into());
    let mut late = send.clone();
    let gone = tokio::time::timeout(BLOCKED_AFTER, late.send(to_gone_peer))
        .await
        .expect("a send to a dropped peer answers at once");
    assert!(gone.is_err(), "the dropped peer left the table");
    assert!(!send.trust_peer(&peer), "the dropped peer left the table");
}
