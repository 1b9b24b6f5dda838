//! Link flags for the master crate's binaries (`brine-master`, `brine`,
//! `brine-key`, `brine-run`, `brine-cp`).
//!
//! `-z pack-relative-relocs`: the relative relocations as a compact bitmap
//! (DT_RELR, glibc 2.36+) instead of a RELA table the loader reads through at
//! every start; see minion/build.rs for the measurement.

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
