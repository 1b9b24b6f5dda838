//! brine-tests: the shared cluster builder ([`cluster`]) that the end-to-end
//! tests in `e2e/` and the benchmarks in `bench/` start real daemons with, and
//! the fault suite's namespaces and tmpfs ([`netns`]), and a throwaway
//! PostgreSQL for the cluster store ([`postgres`]).

pub mod cluster;
pub mod netns;
pub mod postgres;
pub mod sshd;
