//! A PostgreSQL database made for one test and dropped with it, pass or
//! fail, so that a suite run daily leaves nothing behind. For the tests of
//! every crate; the server (`SPOTIK_TEST_DATABASE_ADMIN_URL`, or the local
//! default) is the one `deploy/test` starts.
//!
//! Through `psql`, which is beside PostgreSQL wherever the tests run: a
//! destructor cannot await, and no crate needs a driver just for this.

use std::process::{Command, Stdio};

pub struct TestDatabase {
    /// Its connection URL.
    pub url: String,
    name: String,
}

/// The maintenance database tests connect to to create theirs.
pub fn admin_url() -> String {
    std::env::var("SPOTIK_TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn psql(statement: &str) -> bool {
    Command::new("psql")
        .arg(admin_url())
        .args(["-qX", "-v", "ON_ERROR_STOP=1", "-c", statement])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

impl TestDatabase {
    /// A new, empty database named `spotik_test_…`; panics if PostgreSQL
    /// cannot make one.
    pub fn create() -> Self {
        let name = format!("spotik_test_{:032x}", random());
        assert!(
            psql(&format!("CREATE DATABASE \"{name}\"")),
            "PostgreSQL at {} cannot create a database (deploy/test starts it)",
            admin_url()
        );
        let admin = admin_url();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE ends the connections a server under test may still hold.
        psql(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
    }
}

/// 128 bits that differ between calls and processes, without a crate for it.
fn random() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut bits = 0u128;
    for _ in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(bits);
        bits = (bits << 64) | u128::from(hasher.finish());
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_exists_while_held_and_is_gone_after() {
        let database = TestDatabase::create();
        let exists = |name: &str| {
            let out = Command::new("psql")
                .arg(admin_url())
                .args(["-qtAX", "-c"])
                .arg(format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim() == "1"
        };
        let name = database.name.clone();
        assert!(exists(&name));
        drop(database);
        assert!(!exists(&name), "dropped with its guard");
        assert_ne!(random(), random());
    }
}
