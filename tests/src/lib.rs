//! brine-tests: the shared cluster builder ([`cluster`]) that the end-to-end
//! tests in `e2e/` and the benchmarks in `bench/` start real daemons with.

pub mod cluster;
