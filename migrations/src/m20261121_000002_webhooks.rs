//! Webhook deliveries and their attempts, and the outbox's dispatch mark.
//!
//! An outbox event becomes zero or more deliveries once (`dispatched_at`); a delivery
//! is unique per event and origin (`event`, or `replay-…` for an admin's replay), so a
//! dispatch repeated after a crash, or run by two instances, adds nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(OutboxEvents::Table)
                .add_column(ColumnDef::new(OutboxEvents::DispatchedAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_undispatched")
                .table(OutboxEvents::Table)
                .col(OutboxEvents::DispatchedAt)
                .col(OutboxEvents::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(ColumnDef::new(WebhookDeliveries::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(WebhookDeliveries::EventId).big_integer().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Origin).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Dialect).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::CredentialId).big_integer().null())
                .col(ColumnDef::new(WebhookDeliveries::EventType).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::SubjectKey).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Url).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::ContentType).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Body).binary().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Status).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Attempts).integer().not_null())
                .col(ColumnDef::new(WebhookDeliveries::NextAttemptAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(WebhookDeliveries::LeaseUntil).timestamp_with_time_zone().null())
                .col(ColumnDef::new(WebhookDeliveries::LastStatusCode).integer().null())
                .col(ColumnDef::new(WebhookDeliveries::LastError).string().null())
                .col(ColumnDef::new(WebhookDeliveries::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(WebhookDeliveries::EventAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(WebhookDeliveries::DeliveredAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_deliveries_event_origin")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::EventId)
                .col(WebhookDeliveries::Origin)
                .unique()
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_deliveries_due", vec![WebhookDeliveries::Status, WebhookDeliveries::NextAttemptAt]),
            ("ix_deliveries_subject", vec![WebhookDeliveries::SubjectKey, WebhookDeliveries::EventId]),
            ("ix_deliveries_merchant", vec![WebhookDeliveries::MerchantId, WebhookDeliveries::Id]),
        ] {
            let mut index = Index::create();
            index.name(name).table(WebhookDeliveries::Table);
            for col in cols {
                index.col(col);
            }
            m.create_index(index.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(WebhookAttempts::Table)
                .col(ColumnDef::new(WebhookAttempts::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(WebhookAttempts::DeliveryId).big_integer().not_null())
                .col(ColumnDef::new(WebhookAttempts::AttemptedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(WebhookAttempts::Url).string().not_null())
                .col(ColumnDef::new(WebhookAttempts::StatusCode).integer().null())
                .col(ColumnDef::new(WebhookAttempts::Error).string().null())
                .col(ColumnDef::new(WebhookAttempts::LatencyMs).integer().not_null())
                .col(ColumnDef::new(WebhookAttempts::ResponseExcerpt).string().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                        .to(WebhookDeliveries::Table, WebhookDeliveries::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_attempts_delivery")
                .table(WebhookAttempts::Table)
                .col(WebhookAttempts::DeliveryId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebhookAttempts::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_outbox_undispatched").table(OutboxEvents::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(OutboxEvents::Table).drop_column(OutboxEvents::DispatchedAt).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    DispatchedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    Id,
    EventId,
    Origin,
    MerchantId,
    Dialect,
    CredentialId,
    EventType,
    SubjectKey,
    Url,
    ContentType,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastStatusCode,
    LastError,
    CreatedAt,
    EventAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    AttemptedAt,
    Url,
    StatusCode,
    Error,
    LatencyMs,
    ResponseExcerpt,
}
