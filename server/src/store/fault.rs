//! Storage faults: a full disk or a failing one under the data directory.
//! They are the operator's to fix, not a bug, so the client is told which
//! (and where) instead of "internal error", and nothing that failed to
//! reach the disk is ever answered as done.

use std::io;

use sqlx::SqliteConnection;

/// What went wrong with the disk under the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No space (or quota) left: SQLITE_FULL, ENOSPC, EDQUOT.
    Full,
    /// The disk failed or went read-only: SQLITE_IOERR, EIO, EROFS, and the
    /// SQLite codes that follow from them.
    Io,
}

// Primary result codes (https://sqlite.org/rescode.html); extended codes
// keep the primary one in their low byte.
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

impl Fault {
    pub fn of_sqlx(e: &sqlx::Error) -> Option<Fault> {
        match e {
            sqlx::Error::Io(e) => Fault::of_io(e),
            sqlx::Error::Database(db) => {
                let code: i64 = db.code()?.parse().ok()?;
                match code & 0xff {
                    SQLITE_FULL => Some(Fault::Full),
                    SQLITE_IOERR | SQLITE_READONLY | SQLITE_CANTOPEN | SQLITE_CORRUPT => Some(Fault::Io),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    pub fn of_io(e: &io::Error) -> Option<Fault> {
        match e.raw_os_error()? {
            libc::ENOSPC | libc::EDQUOT => Some(Fault::Full),
            libc::EIO | libc::EROFS => Some(Fault::Io),
            _ => None,
        }
    }

    /// What the user should read, naming the data directory.
    pub fn message(self, data_dir: &std::path::Path) -> String {
        match self {
            Fault::Full => format!(
                "not saved: the disk holding the data directory {} is full; free space there and try again",
                data_dir.display()
            ),
            Fault::Io => format!(
                "not saved: the disk holding the data directory {} failed to read or write; check it (dmesg, df) and try again",
                data_dir.display()
            ),
        }
    }
}

/// Whether a connection going back to the pool is clean. One whose COMMIT
/// or ROLLBACK failed (a full disk does that) is still inside a transaction:
/// it holds the write lock, so every other writer gets "database is locked",
/// and whatever later runs on it is never committed, so a write answered as
/// done would vanish. Such a connection is closed, which rolls it back.
pub(super) async fn clean(conn: &mut SqliteConnection) -> bool {
    match conn.lock_handle().await {
        // SAFETY: the locked handle guarantees no other thread uses the
        // connection; sqlite3_get_autocommit only reads a flag.
        Ok(mut handle) => unsafe { libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) != 0 },
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_errors_are_recognized() {
        assert_eq!(Fault::of_io(&io::Error::from_raw_os_error(libc::ENOSPC)), Some(Fault::Full));
        assert_eq!(Fault::of_io(&io::Error::from_raw_os_error(libc::EIO)), Some(Fault::Io));
        assert_eq!(Fault::of_io(&io::Error::from_raw_os_error(libc::ENOENT)), None);
        assert_eq!(Fault::of_sqlx(&sqlx::Error::RowNotFound), None);
    }

    #[sqlx::test(migrations = false)]
    async fn a_connection_left_in_a_transaction_is_not_clean(pool: sqlx::SqlitePool) {
        let mut conn = pool.acquire().await.unwrap();
        assert!(clean(&mut conn).await);
        sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
        assert!(!clean(&mut conn).await, "inside a transaction");
        sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
        assert!(clean(&mut conn).await);
    }
}
