//! Charging in the core: each account's policy (fees and limits) in its own typed
//! table instead of a credential's `extra.settings` JSON, the fee posted at capture on
//! the payment and the part of it a refund returns, and the typed reason of a decline and
//! who declined (the account's policy or the processor).
//!
//! Settings already stored in `credentials.extra.settings` are moved into
//! `account_policies` (amounts as the decimal text they were given in) and removed
//! from `extra`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, JsonValue};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AccountPolicies::Table)
                .col(ColumnDef::new(AccountPolicies::CredentialId).big_integer().not_null().primary_key())
                .col(ColumnDef::new(AccountPolicies::FeePercent).string().not_null())
                .col(ColumnDef::new(AccountPolicies::FeeFixed).string().not_null())
                .col(ColumnDef::new(AccountPolicies::MinAmount).string().null())
                .col(ColumnDef::new(AccountPolicies::MaxAmount).string().null())
                .col(ColumnDef::new(AccountPolicies::DailyCount).big_integer().null())
                .col(ColumnDef::new(AccountPolicies::MonthlyCount).big_integer().null())
                .col(ColumnDef::new(AccountPolicies::DailyTotal).string().null())
                .col(ColumnDef::new(AccountPolicies::MonthlyTotal).string().null())
                .col(ColumnDef::new(AccountPolicies::AllowedCurrencies).json_binary().not_null())
                .col(ColumnDef::new(AccountPolicies::AllowedCountries).json_binary().not_null())
                .col(ColumnDef::new(AccountPolicies::BlockedOriginDomains).json_binary().not_null())
                .col(ColumnDef::new(AccountPolicies::UpdatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(AccountPolicies::Table, AccountPolicies::CredentialId)
                        .to(Credentials::Table, Credentials::Id),
                )
                .to_owned(),
        )
        .await?;
        // One change per ALTER for SQLite.
        m.alter_table(
            Table::alter()
                .table(Payments::Table)
                .add_column(ColumnDef::new(Payments::Fee).big_integer().not_null().default(0))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Payments::Table)
                .add_column(ColumnDef::new(Payments::AttemptReason).string().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Payments::Table)
                .add_column(ColumnDef::new(Payments::DeclinedBy).string().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Refunds::Table)
                .add_column(ColumnDef::new(Refunds::Fee).big_integer().not_null().default(0))
                .to_owned(),
        )
        .await?;
        move_settings(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Refunds::Table).drop_column(Refunds::Fee).to_owned()).await?;
        m.alter_table(Table::alter().table(Payments::Table).drop_column(Payments::DeclinedBy).to_owned()).await?;
        m.alter_table(Table::alter().table(Payments::Table).drop_column(Payments::AttemptReason).to_owned()).await?;
        m.alter_table(Table::alter().table(Payments::Table).drop_column(Payments::Fee).to_owned()).await?;
        m.drop_table(Table::drop().table(AccountPolicies::Table).to_owned()).await
    }
}

/// Moves every `credentials.extra.settings` into `account_policies`.
async fn move_settings(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = m.get_connection();
    let select = Query::select().columns([Credentials::Id, Credentials::Extra]).from(Credentials::Table).to_owned();
    for row in db.query_all(&select).await? {
        let id: i64 = row.try_get("", "id")?;
        let mut extra: JsonValue = row.try_get("", "extra")?;
        let Some(settings) = extra.as_object_mut().and_then(|e| e.remove("settings")) else { continue };
        if !JsonValue::is_null(&settings) {
            let amount = |key: &str| match settings.get(key) {
                Some(JsonValue::String(text)) => Some(text.trim().to_owned()),
                Some(JsonValue::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let count = |key: &str| settings.get(key).and_then(JsonValue::as_i64);
            let list =
                |key: &str| settings.get(key).cloned().filter(JsonValue::is_array).unwrap_or(JsonValue::Array(vec![]));
            let insert = Query::insert()
                .into_table(AccountPolicies::Table)
                .columns([
                    AccountPolicies::CredentialId,
                    AccountPolicies::FeePercent,
                    AccountPolicies::FeeFixed,
                    AccountPolicies::MinAmount,
                    AccountPolicies::MaxAmount,
                    AccountPolicies::DailyCount,
                    AccountPolicies::MonthlyCount,
                    AccountPolicies::DailyTotal,
                    AccountPolicies::MonthlyTotal,
                    AccountPolicies::AllowedCurrencies,
                    AccountPolicies::AllowedCountries,
                    AccountPolicies::BlockedOriginDomains,
                    AccountPolicies::UpdatedAt,
                ])
                .values_panic([
                    id.into(),
                    amount("fee_percent").unwrap_or_else(|| "0".into()).into(),
                    amount("fee_fixed").unwrap_or_else(|| "0".into()).into(),
                    amount("min_amount").into(),
                    amount("max_amount").into(),
                    count("daily_count").into(),
                    count("monthly_count").into(),
                    amount("daily_total").into(),
                    amount("monthly_total").into(),
                    list("allowed_currencies").into(),
                    list("allowed_countries").into(),
                    list("blocked_origin_domains").into(),
                    Expr::current_timestamp(),
                ])
                .to_owned();
            db.execute(&insert).await?;
        }
        let update = Query::update()
            .table(Credentials::Table)
            .value(Credentials::Extra, extra)
            .and_where(Expr::col(Credentials::Id).eq(id))
            .to_owned();
        db.execute(&update).await?;
    }
    Ok(())
}

#[derive(DeriveIden)]
enum AccountPolicies {
    Table,
    CredentialId,
    FeePercent,
    FeeFixed,
    MinAmount,
    MaxAmount,
    DailyCount,
    MonthlyCount,
    DailyTotal,
    MonthlyTotal,
    AllowedCurrencies,
    AllowedCountries,
    BlockedOriginDomains,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Credentials {
    Table,
    Id,
    Extra,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Fee,
    AttemptReason,
    DeclinedBy,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Fee,
}
