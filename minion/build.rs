//! Link flags for the minion's binaries (`brine-minion`, `brine-call`).
//!
//! `-z pack-relative-relocs` stores the executable's 31,000 relative
//! relocations as a compact bitmap (DT_RELR, glibc 2.36+) instead of a
//! 750 KB RELA table the loader reads through at every start: about a tenth
//! of a short `brine-call`'s CPU went to `_dl_relocate_object`.

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
