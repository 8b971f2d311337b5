//! Not built: a canary for scripts/deny-check. Its lock file pins idna
//! 0.5.0, which RUSTSEC-2024-0421 covers, so a working advisory database
//! must fail it.
fn main() {}
