//! Payouts to merchants' bank accounts, and who did what: the credential (a StarPay
//! user) that created a payment or payout, so a user's "own history" can be told from
//! the team's.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Payouts::Table)
                .col(ColumnDef::new(Payouts::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Payouts::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(Payouts::CreatedBy).big_integer().null())
                .col(ColumnDef::new(Payouts::Namespace).string().not_null())
                .col(ColumnDef::new(Payouts::Amount).big_integer().not_null())
                .col(ColumnDef::new(Payouts::Currency).string().not_null())
                .col(ColumnDef::new(Payouts::Status).string().not_null())
                .col(ColumnDef::new(Payouts::Destination).json_binary().not_null())
                .col(ColumnDef::new(Payouts::Reference).string().null())
                .col(ColumnDef::new(Payouts::Note).string().null())
                .col(ColumnDef::new(Payouts::RequestKey).string().null())
                .col(ColumnDef::new(Payouts::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Payouts::UpdatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Payouts::DecidedAt).timestamp_with_time_zone().null())
                .foreign_key(
                    ForeignKey::create().from(Payouts::Table, Payouts::MerchantId).to(Merchants::Table, Merchants::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payouts_merchant")
                .table(Payouts::Table)
                .col(Payouts::MerchantId)
                .col(Payouts::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ix_payouts_status").table(Payouts::Table).col(Payouts::Status).to_owned())
            .await?;
        // An Idempotency-Key makes a payout once, even when the stored response was lost.
        m.create_index(
            Index::create()
                .name("ux_payouts_request_key")
                .table(Payouts::Table)
                .col(Payouts::MerchantId)
                .col(Payouts::RequestKey)
                .unique()
                .to_owned(),
        )
        .await?;
        // One change per ALTER for SQLite.
        m.alter_table(
            Table::alter()
                .table(Payments::Table)
                .add_column(ColumnDef::new(Payments::CreatedBy).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(LedgerTransactions::Table)
                .add_column(ColumnDef::new(LedgerTransactions::PayoutId).big_integer().null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(LedgerTransactions::Table).drop_column(LedgerTransactions::PayoutId).to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table(Payments::Table).drop_column(Payments::CreatedBy).to_owned()).await?;
        m.drop_table(Table::drop().table(Payouts::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Payouts {
    Table,
    Id,
    MerchantId,
    CreatedBy,
    Namespace,
    Amount,
    Currency,
    Status,
    Destination,
    Reference,
    Note,
    RequestKey,
    CreatedAt,
    UpdatedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    CreatedBy,
}

#[derive(DeriveIden)]
enum LedgerTransactions {
    Table,
    PayoutId,
}
