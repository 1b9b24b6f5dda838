//! ZMTP as it arrives from an unauthenticated peer: greeting, commands and
//! messages through the vendored decoder with Brine's caps (the master's
//! request port: 8 KiB before auth, 4 frames a message). The first byte
//! picks how the bytes are split into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 64) + 1;
    zeromq::__fuzz::decode_stream(stream, chunk, 64 << 10, 8 << 10, 4);
});
