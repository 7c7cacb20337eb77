//! `lvsadm` (work in progress).
fn main() {}
