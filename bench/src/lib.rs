//! Benchmarks and the scale harness for Brine (see BENCHMARKS.md).
