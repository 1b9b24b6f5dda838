//! End-to-end tests live in tests/tests/; this crate only hosts them (and the shared cluster builder in tests/tests/common).
