//! The managers against no server at all (a refused loopback port): `create` fails with the
//! driver's error, and a pool's `get` times out carrying it, in both front ends. Needs no
//! PostgreSQL.

#![cfg(all(feature = "sync", feature = "tokio"))]

use std::error::Error as _;
use std::time::Duration;

use cenote_postgres::NoTls;

/// Port 1 on loopback: nothing listens there, so a connect is refused at once.
const REFUSED: &str = "host=127.0.0.1 port=1 user=nobody dbname=nothing connect_timeout=2";

#[test]
fn sync_get_times_out_with_the_connection_error() {
    let manager = cenote_postgres::sync::PgManager::new(REFUSED, NoTls).expect("parses");
    let pool: cenote_postgres::sync::Pool = cenote_sync::Pool::builder(manager)
        .max_size(2)
        .acquire_timeout(Some(Duration::from_millis(200)))
        .build()
        .expect("valid options");
    let err = pool.get().expect_err("no server");
    assert!(err.is_timeout(), "{err:?}");
    let cause = err.source().expect("the connection error is the source");
    assert!(cause.to_string().contains("error connecting"), "{cause}");
    assert_eq!(pool.status().size, 0, "a failed create gives its place back");
}

#[test]
fn async_get_times_out_with_the_connection_error() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let manager = cenote_postgres::tokio::PgManager::new(REFUSED, NoTls).expect("parses");
        let pool: cenote_postgres::tokio::Pool = cenote_async::Pool::builder(manager)
            .max_size(2)
            .acquire_timeout(Some(Duration::from_millis(200)))
            .build()
            .expect("valid options");
        let err = pool.get().await.expect_err("no server");
        assert!(err.is_timeout(), "{err:?}");
        let cause = err.source().expect("the connection error is the source");
        assert!(cause.to_string().contains("error connecting"), "{cause}");
        assert_eq!(pool.status().size, 0, "a failed create gives its place back");
    });
}

#[test]
fn bad_connection_strings_are_errors() {
    for bad in ["host=localhost nonsense", "port=notaport", "postgresql://a@b:c:d/e", "sslmode=sometimes"] {
        assert!(cenote_postgres::sync::PgManager::new(bad, NoTls).is_err(), "{bad}");
        assert!(cenote_postgres::tokio::PgManager::new(bad, NoTls).is_err(), "{bad}");
        assert!(bad.parse::<cenote_postgres::sync::PgManager>().is_err(), "{bad}");
        assert!(bad.parse::<cenote_postgres::tokio::PgManager>().is_err(), "{bad}");
    }
}
