//! fresh_database() against the run's Postgres (TEST_DATABASE_URL, set by scripts/test.sh).

use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn each_call_gets_its_own_empty_database_and_drop_removes_it() {
    let a = testkit::postgres::fresh_database().await.unwrap();
    let b = testkit::postgres::fresh_database().await.unwrap();
    assert_ne!(a.name, b.name);
    assert!(a.name.starts_with("test_"));

    let mut conn = PgConnection::connect(&a.url).await.unwrap();
    let (db,): (String,) = sqlx::query_as("SELECT current_database()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(db, a.name);
    sqlx::query("CREATE TABLE t (id int)")
        .execute(&mut conn)
        .await
        .unwrap();
    // Left open on purpose: dropping must not be blocked by a test's leftover session.
    let name = a.name.clone();
    drop(a);

    let mut admin = PgConnection::connect(&testkit::postgres::admin_url().unwrap())
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(n, 0, "the database should be gone after drop");
    b.drop_database().await.unwrap();
}
