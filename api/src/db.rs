//! Database connections for both backends.
//!
//! SQLite runs in WAL mode with a busy timeout, and all writes go through a pool of exactly one
//! connection: writers queue in the pool instead of failing with "database is locked", while
//! readers use their own pool and never wait on a writer. On PostgreSQL both handles are the same
//! pool. Services open write transactions on `writer` and read on `reader`.
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, SqlErr, SqlxPostgresConnector,
    SqlxSqliteConnector, Statement,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

#[derive(Clone, Debug)]
pub struct Db {
    pub reader: DatabaseConnection,
    pub writer: DatabaseConnection,
    pub backend: DbBackend,
    /// SQL statements executed so far, through either handle (SeaORM's metric callback).
    pub statements: Arc<AtomicU64>,
    /// PostgreSQL: the row-security policies of the tenant-scoped tables are in place and the
    /// connecting user may take their role (found by [`Db::migrate`]).
    pub tenant_rls: Arc<AtomicBool>,
}

fn counted(mut conn: DatabaseConnection, counter: &Arc<AtomicU64>) -> DatabaseConnection {
    let counter = counter.clone();
    conn.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    conn
}

/// A pool's open connections and how many of them are idle.
pub fn pool_use(conn: &DatabaseConnection) -> Option<(u32, usize)> {
    match conn {
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            let pool = conn.get_postgres_connection_pool();
            Some((pool.size(), pool.num_idle()))
        }
        DatabaseConnection::SqlxSqlitePoolConnection(_) => {
            let pool = conn.get_sqlite_connection_pool();
            Some((pool.size(), pool.num_idle()))
        }
        _ => None,
    }
}

/// A PostgreSQL connection idle this long is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(20)
                .acquire_timeout(Duration::from_secs(10))
                // sqlx pings every idle connection before handing it out: a round trip to the
                // server per statement under load. Only a connection idle for a while, which
                // a restart or a network timeout may have cut, is checked now.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_AFTER_IDLE {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect(url)
                .await
                .context("connecting to PostgreSQL")?;
            let statements = Arc::new(AtomicU64::new(0));
            let conn = counted(
                SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
                &statements,
            );
            Ok(Db {
                reader: conn.clone(),
                writer: conn,
                backend: DbBackend::Postgres,
                statements,
                tenant_rls: Arc::new(AtomicBool::new(false)),
            })
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("parsing the SQLite DATABASE_URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(dir) = options.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
            }
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let writer_pool = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                // A file on this machine cannot hang up: no ping (a round trip to the
                // connection's worker thread) before each statement.
                .test_before_acquire(false)
                .connect_with(options.clone())
                .await
                .context("opening the SQLite database")?;
            // An in-memory database exists once per connection: readers must share the writer.
            let reader_pool = if in_memory {
                writer_pool.clone()
            } else {
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await
                    .context("opening the SQLite database for reading")?
            };
            let statements = Arc::new(AtomicU64::new(0));
            Ok(Db {
                reader: counted(
                    SqlxSqliteConnector::from_sqlx_sqlite_pool(reader_pool),
                    &statements,
                ),
                writer: counted(
                    SqlxSqliteConnector::from_sqlx_sqlite_pool(writer_pool),
                    &statements,
                ),
                backend: DbBackend::Sqlite,
                statements,
                tenant_rls: Arc::new(AtomicBool::new(false)),
            })
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://")
        }
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.reader
            .execute(Statement::from_string(self.backend, "SELECT 1"))
            .await
            .map(|_| ())
    }

    pub async fn migrate(&self) -> Result<(), DbErr> {
        use migration::MigratorTrait;
        migration::Migrator::up(&self.writer, None).await?;
        let rls = self.backend == DbBackend::Postgres && self.has_tenant_policies().await?;
        if self.backend == DbBackend::Postgres && !rls {
            tracing::warn!(
                role = migration::TENANT_ROLE,
                "row-level security of the tenant-scoped tables is off: the migrating user could \
                 not create or take the tenant role; membership is checked by the services only"
            );
        }
        self.tenant_rls.store(rls, Ordering::Relaxed);
        Ok(())
    }

    /// True when `invoices` carries the tenant policy and the current user may take its role.
    async fn has_tenant_policies(&self) -> Result<bool, DbErr> {
        let row = self
            .writer
            .query_one(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT EXISTS (SELECT 1 FROM pg_policies \
                       WHERE tablename = 'invoices' AND policyname = 'tenant_scope') \
                     AND COALESCE(pg_has_role(current_user, \
                       (SELECT oid FROM pg_roles WHERE rolname = '{}'), 'MEMBER'), false) AS ok",
                    migration::TENANT_ROLE
                ),
            ))
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<bool>>("", "ok")?.unwrap_or(false),
            None => false,
        })
    }

    pub fn tenant_rls(&self) -> bool {
        self.tenant_rls.load(Ordering::Relaxed)
    }
}

/// The unique constraints the services turn into user errors, with the column list SQLite names
/// in its message (SQLite reports columns, PostgreSQL the constraint name).
const UNIQUE_CONSTRAINTS: &[(&str, &str)] = &[
    ("users_email_key", "users.email"),
    ("tenants_slug_key", "tenants.slug"),
    (
        "tenant_members_tenant_user_key",
        "tenant_members.tenant_id, tenant_members.user_id",
    ),
    ("providers_user_key", "providers.user_id"),
    ("listings_slug_key", "listings.slug"),
    ("orders_number_key", "orders.number"),
    ("reviews_order_key", "reviews.order_id"),
    ("disputes_order_open_key", "disputes.order_id"),
    (
        "contacts_tenant_user_live_key",
        "contacts.tenant_id, contacts.user_id",
    ),
    (
        "invoices_tenant_number_key",
        "invoices.tenant_id, invoices.number",
    ),
    (
        "ledger_entries_idempotency_key",
        "ledger_entries.idempotency_key",
    ),
    ("stripe_events_pkey", "stripe_events.id"),
    (
        "idempotency_keys_user_operation_key",
        "idempotency_keys.user_id, idempotency_keys.operation, idempotency_keys.key",
    ),
];

/// True when `err` is a violation of the named unique constraint, on either backend.
pub fn is_unique_violation(err: &DbErr, constraint: &str) -> bool {
    let Some(SqlErr::UniqueConstraintViolation(message)) = err.sql_err() else {
        return false;
    };
    if message.contains(&format!("\"{constraint}\"")) {
        return true;
    }
    UNIQUE_CONSTRAINTS
        .iter()
        .find(|(name, _)| *name == constraint)
        .is_some_and(|(_, columns)| message.ends_with(&format!("failed: {columns}")))
}

/// A LIKE pattern matching `text` anywhere, with `%`, `_` and `\` in it taken literally. The
/// escape character is declared, since SQLite has none by default.
pub fn contains(text: &str) -> sea_orm::sea_query::LikeExpr {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    sea_orm::sea_query::LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// `column` is one of `keys`, written so that the statement's text is the same for any number
/// of keys: PostgreSQL `= ANY($1)` with one text array, SQLite `IN (SELECT value FROM
/// json_each(?))` with one JSON array. An `IN ($1, …, $n)` list is a new statement for every
/// distinct n, which the per-connection statement cache then prepares (and evicts) again.
pub fn one_of<C, I>(backend: DbBackend, column: C, keys: I) -> sea_orm::sea_query::SimpleExpr
where
    C: sea_orm::ColumnTrait,
    I: IntoIterator<Item = String>,
{
    use sea_orm::sea_query::extension::postgres::PgFunc;
    use sea_orm::sea_query::{ArrayType, Expr, Value};
    use sea_orm::IntoSimpleExpr;
    let keys: Vec<String> = keys.into_iter().collect();
    match backend {
        DbBackend::Postgres => {
            let array = keys
                .into_iter()
                .map(|key| Value::String(Some(Box::new(key))))
                .collect();
            Expr::expr(column.into_simple_expr()).eq(PgFunc::any(Expr::val(Value::Array(
                ArrayType::String,
                Some(Box::new(array)),
            ))))
        }
        _ => {
            let json = serde_json::Value::from(keys).to_string();
            Expr::expr(column.into_simple_expr()).in_subquery(
                sea_orm::sea_query::Query::select()
                    .expr(Expr::cust("value"))
                    .from_function(
                        sea_orm::sea_query::Func::cust(sea_orm::sea_query::Alias::new("json_each"))
                            .arg(json),
                        sea_orm::sea_query::Alias::new("keys"),
                    )
                    .to_owned(),
            )
        }
    }
}

/// The largest value of an integer `column` among the rows `query` selects, 0 when there are
/// none: where a commit-ordered position (`seq`, `change_seq`) stands now.
pub async fn highest<E>(
    conn: &impl ConnectionTrait,
    query: sea_orm::Select<E>,
    column: E::Column,
) -> Result<i64, DbErr>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{ColumnTrait, QuerySelect};
    let highest: Option<i64> = query
        .select_only()
        .column_as(column.max(), "highest")
        .into_tuple()
        .one(conn)
        .await?
        .flatten();
    Ok(highest.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, QueryFilter, QueryTrait};

    use super::*;

    fn sql(backend: DbBackend, keys: &[&str]) -> String {
        entity::providers::Entity::find()
            .filter(one_of(
                backend,
                entity::providers::Column::Id,
                keys.iter().map(|k| (*k).to_owned()),
            ))
            .build(backend)
            .sql
    }

    #[test]
    fn a_key_list_is_one_statement_whatever_its_length() {
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let one = sql(backend, &["a"]);
            assert_eq!(one, sql(backend, &["a", "b", "c", "d", "e"]), "{backend:?}");
            assert_eq!(one, sql(backend, &[]), "{backend:?}");
        }
        assert!(sql(DbBackend::Postgres, &["a"]).ends_with("\"providers\".\"id\" = ANY($1)"));
    }
}
