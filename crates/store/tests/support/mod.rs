//! The store tests' backends (issue 13): each test written with
//! [`on_both!`] runs twice, on a fresh SQLite data directory and on a fresh
//! PostgreSQL database of this process's throwaway cluster
//! (`phoneprov_testpeers::pg`). Shared by the integration tests
//! (`mod support;`) and the crate's unit tests (`#[path]`-included), so a
//! query one backend rejects fails a test.

#![allow(dead_code)]

use phoneprov_store::{Database, Store};

/// One test database.
pub struct TestDb {
    /// Where it is.
    pub db: Database,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh SQLite data directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        TestDb {
            db: Database::Sqlite(dir.path().to_path_buf()),
            _dir: Some(dir),
        }
    }

    /// A fresh database of the process's PostgreSQL cluster.
    pub fn postgres() -> TestDb {
        TestDb {
            db: Database::Postgres(phoneprov_testpeers::pg().fresh_db()),
            _dir: None,
        }
    }

    /// A new connection to it, migrated.
    pub fn store(&self) -> Store {
        Store::connect(&self.db).unwrap()
    }

    /// Whether it is the PostgreSQL one.
    pub fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }
}

/// `on_both! { fn name(db: &TestDb) { … } }`: the test `name::sqlite` and
/// the test `name::postgres`, same body.
macro_rules! on_both {
    ($(#[$meta:meta])* fn $name:ident($db:ident: &TestDb) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($db: &TestDb) $body

            #[test]
            fn sqlite() {
                body(&TestDb::sqlite())
            }

            #[test]
            fn postgres() {
                body(&TestDb::postgres())
            }
        }
    };
}
