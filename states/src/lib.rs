//! placeholder crate root; see DESIGN.md
