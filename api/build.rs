//! Links the `pam` eauth against the system's PAM library without needing
//! its development package: Debian's runtime package (libpam0g, present on
//! every system since `login` needs it) ships only `libpam.so.0`, so when
//! no `libpam.so` is on the linker's path, one pointing at `libpam.so.0` is
//! made in the build directory.

use std::path::{Path, PathBuf};

const LIB_DIRS: &[&str] = &["/usr/lib", "/lib", "/usr/lib64", "/lib64"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let multiarch = format!(
        "{}-linux-gnu",
        std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default()
    );
    let dirs: Vec<PathBuf> = LIB_DIRS
        .iter()
        .flat_map(|d| [Path::new(d).join(&multiarch), PathBuf::from(d)])
        .collect();
    if dirs.iter().any(|d| d.join("libpam.so").exists()) {
        return;
    }
    let Some(runtime) = dirs
        .iter()
        .map(|d| d.join("libpam.so.0"))
        .find(|p| p.exists())
    else {
        panic!("brine-api needs the PAM library (libpam.so.0; Debian package libpam0g)");
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let link = out.join("libpam.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&runtime, &link).expect("link libpam.so in OUT_DIR");
    println!("cargo:rustc-link-search=native={}", out.display());
}
