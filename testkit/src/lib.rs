//! Test harness: real servers on free ports, private to each test.
//!
//! Postgres is shared per test run (started by `scripts/infra.sh`) and each
//! test gets a fresh database; Redis trios and nginx are spawned per test
//! because tests stop and restart them.

pub mod browser;
pub mod nginx;
pub mod pg_server;
pub mod ports;
pub mod postgres;
pub mod redis;

use std::path::PathBuf;

/// The workspace root, for configs that live in the repository (nginx/, redis/, ssl/).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives one level below the workspace root")
        .to_path_buf()
}
