//! Commit-ordered positions of dispute changes, for the `disputeUpdated` stream. It read
//! "the disputes changed after X" by `updated_at`, a time taken before the change's commit:
//! a change that took its time first and committed last sorted before one already sent, and a
//! re-read after missed notices skipped it. Every change now draws `change_seq` from the
//! `dispute_change` counter in its transaction; the counter's row lock, held until commit,
//! makes that order commit order. Existing rows are numbered by `(updated_at, id)`.
use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Disputes {
    Table,
    ChangeSeq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Disputes::Table)
                    .add_column(
                        ColumnDef::new(Disputes::ChangeSeq)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        exec_all(
            manager,
            &[
                "UPDATE disputes SET change_seq = numbered.n \
                 FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY updated_at, id) AS n FROM disputes) \
                   AS numbered \
                 WHERE disputes.id = numbered.id",
                // The counter holds the last position handed out.
                "INSERT INTO counters (name, next_value) \
                 SELECT 'dispute_change', MAX(change_seq) FROM disputes HAVING COUNT(*) > 0",
            ],
        )
        .await?;
        create_index(
            manager,
            "disputes_change_seq",
            Disputes::Table,
            vec![Disputes::ChangeSeq.into_iden()],
            true,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("disputes_change_seq")
                    .table(Disputes::Table)
                    .to_owned(),
            )
            .await?;
        exec_all(
            manager,
            &["DELETE FROM counters WHERE name = 'dispute_change'"],
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Disputes::Table)
                    .drop_column(Disputes::ChangeSeq)
                    .to_owned(),
            )
            .await
    }
}
