//! Commit-ordered sequence numbers for the rows subscriptions resume from. An id made before
//! its transaction commits (UUIDv7, or a clock on another replica) can sort before a row that
//! committed earlier, so "the rows after X" by id can skip one a subscriber never received.
//! `order_events.seq` is global (a `myOrderEvents` stream spans orders) and `messages.seq`
//! counts within its thread (a `messageAdded` stream is one thread); the services assign them
//! in commit order. Existing rows are numbered in id order.
use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrderEvents {
    Table,
    Seq,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    ThreadId,
    Seq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [OrderEvents::Table.into_iden(), Messages::Table.into_iden()] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(
                            ColumnDef::new(Alias::new("seq"))
                                .big_integer()
                                .not_null()
                                .default(0),
                        )
                        .to_owned(),
                )
                .await?;
        }
        // UPDATE … FROM runs unchanged on PostgreSQL and SQLite (3.33 and later).
        exec_all(
            manager,
            &[
                "UPDATE order_events SET seq = numbered.n \
                 FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM order_events) AS numbered \
                 WHERE order_events.id = numbered.id",
                "UPDATE messages SET seq = numbered.n \
                 FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY thread_id ORDER BY id) AS n \
                       FROM messages) AS numbered \
                 WHERE messages.id = numbered.id",
            ],
        )
        .await?;
        create_index(
            manager,
            "order_events_seq",
            OrderEvents::Table,
            vec![OrderEvents::Seq.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "messages_thread_seq",
            Messages::Table,
            vec![Messages::ThreadId.into_iden(), Messages::Seq.into_iden()],
            true,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("order_events_seq", OrderEvents::Table.into_iden()),
            ("messages_thread_seq", Messages::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table.clone()).to_owned())
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(Alias::new("seq"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
