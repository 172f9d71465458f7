//! Database migrations for paybridge (sea-orm-migration).
//!
//! One dated file per migration; `Migrator::up` runs at server start-up, from
//! `paybridge migrate`, and in every test. SQLite takes one change per `ALTER`, so
//! later migrations that alter tables keep to one change per statement.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_initial_schema;
mod m20261121_000002_webhooks;
mod m20261121_000003_outbox_pending_index;
mod m20261121_000004_payouts_and_users;
mod m20261201_000005_charging;
mod m20261201_000006_awaiting_processor;
mod m20261203_000007_dashboard;

/// Lists every migration in the order it must run.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_initial_schema::Migration),
            Box::new(m20261121_000002_webhooks::Migration),
            Box::new(m20261121_000003_outbox_pending_index::Migration),
            Box::new(m20261121_000004_payouts_and_users::Migration),
            Box::new(m20261201_000005_charging::Migration),
            Box::new(m20261201_000006_awaiting_processor::Migration),
            Box::new(m20261203_000007_dashboard::Migration),
        ]
    }
}
