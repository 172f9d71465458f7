//! The dashboard: its operators' sessions (`dashboard_sessions`: an HMAC-SHA256 of a
//! session cookie, never the cookie itself, and when it expires), and the indexes its pages
//! read by — a payment's ledger transactions and events, and the last hour's webhook
//! attempts for the deliveries chart.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DashboardSessions {
    Table,
    Id,
    TokenHash,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum LedgerTransactions {
    Table,
    PaymentId,
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    SubjectId,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    AttemptedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DashboardSessions::Table)
                .col(ColumnDef::new(DashboardSessions::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(DashboardSessions::TokenHash).string().not_null().unique_key())
                .col(ColumnDef::new(DashboardSessions::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(DashboardSessions::ExpiresAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_dashboard_sessions_expiry")
                .table(DashboardSessions::Table)
                .col(DashboardSessions::ExpiresAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_ledger_transactions_payment")
                .table(LedgerTransactions::Table)
                .col(LedgerTransactions::PaymentId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_subject")
                .table(OutboxEvents::Table)
                .col(OutboxEvents::SubjectId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_attempts_time")
                .table(WebhookAttempts::Table)
                .col(WebhookAttempts::AttemptedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_attempts_time").table(WebhookAttempts::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_outbox_subject").table(OutboxEvents::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_ledger_transactions_payment").table(LedgerTransactions::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(DashboardSessions::Table).to_owned()).await
    }
}
