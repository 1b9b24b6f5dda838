//! Every message shape that crosses a socket, decoded from arbitrary
//! msgpack: what minions send the master (frames, auth requests, session
//! requests and each request variant inside), what the master sends
//! minions, and the CLI's local-socket requests.
#![no_main]

use brine_common::frame::decode;
use brine_common::wire::{
    AuthReply, AuthRequest, Grant, MasterFrame, MinionFrame, PubEnvelope, Publication, Reply,
    Request, SessionReply, SessionRequest, UnknownSessionNotice,
};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let _ = decode::<MinionFrame>(data, CAP);
    let _ = decode::<AuthRequest>(data, CAP);
    let _ = decode::<SessionRequest>(data, CAP);
    let _ = decode::<Request>(data, CAP);
    let _ = decode::<MasterFrame>(data, CAP);
    let _ = decode::<AuthReply>(data, CAP);
    let _ = decode::<Grant>(data, CAP);
    let _ = decode::<SessionReply>(data, CAP);
    let _ = decode::<Reply>(data, CAP);
    let _ = decode::<UnknownSessionNotice>(data, CAP);
    let _ = decode::<PubEnvelope>(data, CAP);
    let _ = decode::<Publication>(data, CAP);
    let _ = decode::<brine_client::ClientRequest>(data, CAP);
});
