//! Plain SQL on a test's database, beside the store: to check what is at rest, or that a
//! table refuses to be changed. Each call opens its own connection on a thread of its own,
//! so it may be used from async tests (the PostgreSQL client blocks).

use std::thread;

/// One result row as text (`NULL` as `None`).
pub type TextRow = Vec<Option<String>>;

/// Runs `sql` (one statement) on the database at `url`; the number of rows it changed, or the
/// database's error message.
pub fn execute(url: &str, sql: &str) -> Result<u64, String> {
    on_thread(url, sql, |db, sql| match db {
        Db::Sqlite(c) => c
            .execute(sql, [])
            .map(|n| n as u64)
            .map_err(|e| e.to_string()),
        Db::Postgres(c) => c.execute(sql, &[]).map_err(|e| match e.as_db_error() {
            Some(db) => db.message().to_owned(),
            None => e.to_string(),
        }),
    })
}

/// The rows of `sql`, every column cast to text by the query itself (write `CAST(x AS TEXT)`
/// where a column is not text).
///
/// # Panics
/// When the database cannot be opened or refuses the query.
pub fn text_rows(url: &str, sql: &str) -> Vec<TextRow> {
    on_thread(url, sql, |db, sql| match db {
        Db::Sqlite(c) => {
            let mut stmt = c.prepare(sql).map_err(|e| e.to_string())?;
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n).map(|i| r.get::<_, Option<String>>(i)).collect()
                })
                .map_err(|e| e.to_string())?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
        }
        Db::Postgres(c) => Ok(c
            .query(sql, &[])
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .collect()),
    })
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The one integer `sql` returns.
///
/// # Panics
/// When the database cannot be opened, refuses the query, or the answer is not an integer.
pub fn scalar(url: &str, sql: &str) -> i64 {
    on_thread(url, sql, |db, sql| match db {
        Db::Sqlite(c) => c
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .map_err(|e| e.to_string()),
        Db::Postgres(c) => c
            .query_one(sql, &[])
            .and_then(|r| r.try_get::<_, i64>(0))
            .map_err(|e| e.to_string()),
    })
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
}

fn on_thread<T: Send + 'static>(
    url: &str,
    sql: &str,
    work: impl FnOnce(&mut Db, &str) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    thread::spawn(move || {
        let mut db = open(&url)?;
        work(&mut db, &sql)
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_owned())?
}

fn open(url: &str) -> Result<Db, String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        return rusqlite::Connection::open(path)
            .map(Db::Sqlite)
            .map_err(|e| e.to_string());
    }
    let url = url.split('?').next().unwrap_or(url);
    postgres::Client::connect(url, postgres::NoTls)
        .map(Db::Postgres)
        .map_err(|e| e.to_string())
}
