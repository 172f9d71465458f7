//! The outbox's undispatched events by a partial index.
//!
//! `ix_outbox_undispatched` (dispatched_at, id) kept an entry for every event ever
//! written, and Postgres's generic plan for the dispatcher's
//! `WHERE dispatched_at IS NULL ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED` walked the
//! primary key past all of them: 12 ms per dispatch after 20,000 events
//! (bench/RESULTS.md). A partial index holds only the events still to dispatch, in id
//! order, on both backends.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_outbox_undispatched").table(OutboxEvents::Table).to_owned()).await?;
        // The same statement on SQLite and Postgres; sea-query has no partial indexes.
        m.get_connection()
            .execute_unprepared("CREATE INDEX ix_outbox_pending ON outbox_events (id) WHERE dispatched_at IS NULL")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_outbox_pending").table(OutboxEvents::Table).to_owned()).await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_undispatched")
                .table(OutboxEvents::Table)
                .col(OutboxEvents::DispatchedAt)
                .col(OutboxEvents::Id)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    DispatchedAt,
    Id,
}
