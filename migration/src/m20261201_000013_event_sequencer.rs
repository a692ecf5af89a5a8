//! PostgreSQL: where an order event waits for its commit-ordered position. A transaction that
//! records an event stores it with `seq = -nextval('order_event_pending')` (negative: no
//! stream reads it yet) and commits without waiting for any other; the sequencer then numbers
//! committed events in batches, after every position it gave before (see
//! `api::services::orders::sequencer`). SQLite's single writer numbers in the transaction and
//! needs nothing here.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("CREATE SEQUENCE IF NOT EXISTS order_event_pending")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            let conn = manager.get_connection();
            // Events still waiting for a position get theirs, in the order they were taken.
            conn.execute_unprepared(
                "UPDATE order_events SET seq = numbered.top + numbered.n \
                 FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY seq DESC) AS n, \
                         (SELECT COALESCE(MAX(seq), 0) FROM order_events WHERE seq > 0) AS top \
                       FROM order_events WHERE seq < 0) AS numbered \
                 WHERE order_events.id = numbered.id",
            )
            .await?;
            conn.execute_unprepared("DROP SEQUENCE IF EXISTS order_event_pending")
                .await?;
        }
        Ok(())
    }
}
