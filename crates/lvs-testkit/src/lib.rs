//! `lvs-testkit`: helpers shared by test suites (dev-dependency only).
//!
//! - [`cap_log`]: reader for the exact-capture transcripts the ipvs-ref lab's
//!   `cap` helper writes (`testdata/ipvsadm/golden/*.log`).

pub mod cap_log;
