//! The repository functions over a temp directory standing for `/`.

use super::*;

const DEBIAN_SOURCES: &str = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

/// A root with the Debian 12 stanzas, a one-line list, and a file apt
/// does not read.
fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let parts = dir.path().join("etc/apt/sources.list.d");
    std::fs::create_dir_all(&parts).expect("mkdir");
    std::fs::write(parts.join("debian.sources"), DEBIAN_SOURCES).expect("write");
    std::fs::write(
        parts.join("gcloud.list"),
        "# Google\ndeb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n",
    )
    .expect("write");
    std::fs::write(
        parts.join("x.list.disabled"),
        "deb http://no/where x main\n",
    )
    .expect("write");
    dir
}

fn none() -> (String, String) {
    ("Debian".into(), "bookworm".into())
}

#[test]
fn list_repos_reads_lists_and_deb822_like_salt() {
    let dir = root();
    let repos = list_repos(&Sources::load(dir.path()));
    let mut uris: Vec<&String> = repos.keys().collect();
    uris.sort();
    assert_eq!(
        uris,
        [
            "http://deb.debian.org/debian",
            "http://deb.debian.org/debian-security",
            "https://packages.cloud.google.com/apt"
        ]
    );
    let debian = repos["http://deb.debian.org/debian"]
        .as_array()
        .expect("list");
    assert_eq!(debian.len(), 2);
    assert_eq!(
        debian[1]["line"],
        json!(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main"
        )
    );
    assert_eq!(
        debian[0]["signedby"],
        json!("/usr/share/keyrings/debian-archive-keyring.gpg")
    );
    let gcloud = &repos["https://packages.cloud.google.com/apt"][0];
    assert_eq!(
        gcloud["line"],
        json!("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main")
    );
    assert_eq!(gcloud["signedby"], json!(""));
}

#[test]
fn get_repo_finds_a_matching_entry_or_nothing() {
    let dir = root();
    let sources = Sources::load(dir.path());
    let found = get_repo(
        &sources,
        "deb http://deb.debian.org/debian/ bookworm-updates main",
        &none(),
    )
    .expect("ok");
    assert_eq!(found["dist"], json!("bookworm-updates"));
    let missing = get_repo(
        &sources,
        "deb https://packages.sury.org/php/ bookworm main",
        &none(),
    )
    .expect("ok");
    assert!(missing.is_empty());
    // Too short is no repository (nothing matches); options eating the
    // words leave an invalid definition.
    assert!(
        get_repo(&sources, "deb http://h", &none())
            .expect("ok")
            .is_empty()
    );
    assert_eq!(
        get_repo(&sources, "deb [arch=amd64] http://h", &none())
            .expect_err("invalid")
            .to_string(),
        "Invalid repository definition: deb http://h"
    );
}

#[test]
fn a_new_repo_goes_to_its_file_and_an_existing_one_is_changed_in_place() {
    let dir = root();
    let repo =
        "deb [signed-by=/etc/apt/keyrings/php.gpg] https://packages.sury.org/php/ bookworm main";
    let mut kw = Map::new();
    kw.insert(
        "file".into(),
        json!("/etc/apt/sources.list.d/ondrej-php.list"),
    );
    apply_repo_change(dir.path(), &RepoChange::from_call(repo, &kw)).expect("added");
    let file = dir.path().join("etc/apt/sources.list.d/ondrej-php.list");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        format!("{repo}\n")
    );
    assert!(
        !get_repo(&Sources::load(dir.path()), repo, &none())
            .expect("ok")
            .is_empty()
    );
    // Disabling it rewrites the same line, commented out.
    kw.insert("disabled".into(), json!(true));
    apply_repo_change(dir.path(), &RepoChange::from_call(repo, &kw)).expect("changed");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        format!("# {repo}\n")
    );
    // The other files are untouched.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/apt/sources.list.d/debian.sources"))
            .expect("read"),
        DEBIAN_SOURCES
    );
    let bad = RepoChange::from_call("deb http://h", &Map::new());
    assert!(apply_repo_change(dir.path(), &bad).is_err());
}

#[test]
fn a_new_deb822_repo_is_a_stanza() {
    let dir = root();
    let mut kw = Map::new();
    kw.insert("file".into(), json!("/etc/apt/sources.list.d/salt.sources"));
    apply_repo_change(
        dir.path(),
        &RepoChange::from_call(
            "deb [signed-by=/k.pgp] https://repo.example/deb stable main",
            &kw,
        ),
    )
    .expect("added");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/apt/sources.list.d/salt.sources"))
            .expect("read"),
        "Types: deb\nURIs: https://repo.example/deb\nSuites: stable\nComponents: main\nSigned-By: /k.pgp\n"
    );
}

#[test]
fn del_repo_removes_a_line_file_or_a_suite() {
    let dir = root();
    let msg = del_repo(
        dir.path(),
        "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main",
    )
    .expect("removed");
    let gcloud = dir.path().join("etc/apt/sources.list.d/gcloud.list");
    assert_eq!(
        msg,
        format!(
            "File {} containing repo 'deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main' has been removed.",
            gcloud.display()
        )
    );
    assert!(!gcloud.exists());
    // One suite of a two-suite stanza: the stanza keeps the other.
    let msg = del_repo(
        dir.path(),
        "deb http://deb.debian.org/debian bookworm-updates main",
    )
    .expect("removed");
    assert!(msg.starts_with(
        "Repo 'deb http://deb.debian.org/debian bookworm-updates main' has been removed from "
    ));
    let debian = std::fs::read_to_string(dir.path().join("etc/apt/sources.list.d/debian.sources"))
        .expect("read");
    assert!(debian.contains("Suites: bookworm\n"), "{debian}");
    assert_eq!(
        del_repo(dir.path(), "deb http://none/x stable main")
            .expect_err("absent")
            .to_string(),
        "Repo deb http://none/x stable main doesn't exist in the sources.list(s)"
    );
}
