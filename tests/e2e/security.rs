//! Attacks on the protocol (filled in below).
