//! sea-orm entities, one module per table of `migrations/`.

pub mod merchant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "merchants")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub status: String,
        pub webhook_url: Option<String>,
        pub ip_allowlist: Json,
        pub rate_limit_per_minute: i32,
        pub default_currency: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod credential {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "credentials")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub merchant_id: i64,
        pub dialect: String,
        pub key_id: String,
        pub secret: String,
        pub role: Option<String>,
        pub label: Option<String>,
        pub extra: Json,
        pub require_signature: bool,
        pub status: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "payments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub merchant_id: i64,
        pub namespace: String,
        pub reference: String,
        pub amount: i64,
        pub currency: String,
        pub status: String,
        pub capture_mode: String,
        pub method: Option<String>,
        pub description: Option<String>,
        pub customer: Json,
        pub metadata: Option<Json>,
        pub urls: Json,
        pub checkout_token: String,
        pub processor_txn_id: Option<String>,
        pub instrument: Option<Json>,
        pub attempt_code: Option<String>,
        pub attempt_message: Option<String>,
        pub attempt_reason: Option<String>,
        pub declined_by: Option<String>,
        pub fee: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub authorized_at: Option<DateTimeUtc>,
        pub captured_at: Option<DateTimeUtc>,
        pub created_by: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refund {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "refunds")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub payment_id: i64,
        pub merchant_id: i64,
        pub amount: i64,
        pub currency: String,
        pub status: String,
        pub reason: Option<String>,
        pub request_key: Option<String>,
        pub note: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub decided_at: Option<DateTimeUtc>,
        pub fee: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod settlement {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "settlements")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub merchant_id: i64,
        pub amount: i64,
        pub currency: String,
        pub status: String,
        pub created_at: DateTimeUtc,
        pub paid_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payout {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "payouts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub merchant_id: i64,
        pub created_by: Option<i64>,
        pub namespace: String,
        pub amount: i64,
        pub currency: String,
        pub status: String,
        pub destination: Json,
        pub reference: Option<String>,
        pub note: Option<String>,
        pub request_key: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub decided_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ledger_transaction {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ledger_transactions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub merchant_id: i64,
        pub kind: String,
        pub payment_id: Option<i64>,
        pub refund_id: Option<i64>,
        pub settlement_id: Option<i64>,
        pub created_at: DateTimeUtc,
        pub payout_id: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ledger_posting {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ledger_postings")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub transaction_id: i64,
        pub merchant_id: i64,
        pub account: String,
        pub currency: String,
        pub amount: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod outbox_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub merchant_id: i64,
        pub event_type: String,
        pub subject_id: Option<i64>,
        pub payload: Json,
        pub created_at: DateTimeUtc,
        pub dispatched_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod idempotency_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub merchant_id: i64,
        pub scope: String,
        pub key: String,
        pub request_hash: String,
        pub status: String,
        pub claim: String,
        pub response_status: Option<i32>,
        pub response_content_type: Option<String>,
        pub response_body: Option<Vec<u8>>,
        pub created_at: DateTimeUtc,
        pub locked_until: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod used_signature {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "used_signatures")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub credential_id: i64,
        pub signature: String,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook_delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub event_id: i64,
        pub origin: String,
        pub merchant_id: i64,
        pub dialect: String,
        pub credential_id: Option<i64>,
        pub event_type: String,
        pub subject_key: String,
        pub url: String,
        pub content_type: String,
        pub body: Vec<u8>,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub lease_until: Option<DateTimeUtc>,
        pub last_status_code: Option<i32>,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
        pub event_at: DateTimeUtc,
        pub delivered_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook_attempt {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub delivery_id: i64,
        pub attempted_at: DateTimeUtc,
        pub url: String,
        pub status_code: Option<i32>,
        pub error: Option<String>,
        pub latency_ms: i32,
        pub response_excerpt: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod account_policy {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_policies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub credential_id: i64,
        pub fee_percent: String,
        pub fee_fixed: String,
        pub min_amount: Option<String>,
        pub max_amount: Option<String>,
        pub daily_count: Option<i64>,
        pub monthly_count: Option<i64>,
        pub daily_total: Option<String>,
        pub monthly_total: Option<String>,
        pub allowed_currencies: Json,
        pub allowed_countries: Json,
        pub blocked_origin_domains: Json,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod dashboard_session {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "dashboard_sessions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub token_hash: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
