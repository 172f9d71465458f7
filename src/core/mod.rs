//! The canonical payment core, behind one door per kind of caller (`scopes`):
//! [`Gateway`] for the dialects, [`AdminGateway`] for the admin API and the sweeps,
//! [`ProcessorGateway`] for the checkout and the sandbox API, [`DeliveryGateway`] for
//! the webhook engine, all made together by [`Core::connect`].
//!
//! Each state-changing method runs one database transaction that writes the state
//! change, its ledger postings and its outbox events together. Dialects never see the
//! store; the core never sees a dialect's wire field names (it knows each dialect's
//! credential settings, typed, and nothing else of it).
//!
//! - [`money`]: `Money` and `Currency`.
//! - [`error`]: the `CoreError` table.
//! - [`types`]: canonical records and commands.
//! - `access`: credentials → [`Principal`], the auth cache, IP allow-lists, rate limits.
//! - `create`: payment creation, batched (the hot path).
//! - `charge`: host-to-host charges — created and decided in one transaction, batched.
//! - [`processor`]: the [`Processor`] seam every charge goes through (injected at
//!   build time; the sandbox is one), and its [`Verdict`]s.
//! - [`policy`]: an account's fees and limits ([`AccountPolicy`]), their table, usage.
//! - [`instrument`]: cards and wallets as a processor receives them.
//! - [`payer`]: the rules a payer's details are checked by.
//! - `payments`: lookups, checkout completion (the hosted page pays through the
//!   processor), the 3-D Secure answer, capture with its fee.
//! - `refunds`, `settlements`: the admin-queued refund flow and settlements to merchants.
//! - `payouts`: merchant-requested payouts to bank accounts, reserved then decided by an admin.
//! - `ledger`: double-entry postings and the balances derived from them.
//! - `outbox`: canonical events written in the same transaction as the change, typed
//!   ([`Event`], [`Payload`]).
//! - [`clock`]: the time the core reads ([`Clock`]: the system's, or a test clock).
//! - `merchants`: merchants and credentials (admin API, config fixtures).
//! - [`dialect_settings`]: a credential's typed dialect settings ([`DialectSettings`]:
//!   ShadhinPay's business id, PayRequest's provider, QR Money's ids), checked when
//!   written.
//! - `idempotency`: stored responses for `Idempotency-Key`.
//! - `deliveries`: the webhook delivery queue (dispatch, claim, attempts, replay).
//! - `signatures`: request signatures already used (replay protection).
//! - `scopes`: the four doors and the few operations two of them share.
//! - `store` (private): connections, entities, row conversions.

pub mod clock;
pub mod dialect_settings;
pub mod error;
pub mod instrument;
pub mod money;
pub mod payer;
pub mod policy;
pub mod processor;
pub mod secret;
pub mod types;

mod access;
mod charge;
mod create;
mod deliveries;
mod idempotency;
mod ledger;
mod merchants;
mod outbox;
mod payments;
mod payouts;
mod refunds;
mod scopes;
mod sessions;
mod settlements;
mod shared_limits;
mod signatures;
mod store;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseTransaction, EntityTrait, Select};

pub use access::{Caller, Principal, RateClass, RateDecision, RateOwner, RateWindow, parse_allowlist_entry};
pub use charge::{ChargeReference, NewCharge};
pub use clock::{Clock, ClockError};
pub use deliveries::{
    Attempt, AttemptOutcome, Delivery, DeliveryFilter, DeliveryStatus, Dispatched, MinuteActivity, NewDelivery,
    QueueStats,
};
pub use dialect_settings::{DialectSettings, PayrequestSettings, QrmoneySettings, ShadhinpaySettings};
pub use error::{CoreError, Entity, ErrorClass, FieldIssue};
pub use idempotency::{Claim, IdempotencyBegin, StoredResponse};
pub use instrument::PaymentInstrument;
pub use ledger::{LedgerCheck, LedgerTransaction};
pub use merchants::{CredentialPatch, CredentialSeed, MAX_URL_LEN, MerchantPatch, MerchantSeed, check_url, valid_url};
pub use money::{AmountError, Currency, Money};
pub use outbox::{Event, EventRecord, Payload, UserSnapshot};
pub use payments::CheckoutOutcome;
pub use policy::AccountPolicy;
pub use processor::{Processor, ProcessorError, Verdict};
pub use refunds::RefundAmount;
pub use scopes::{AdminGateway, DeliveryGateway, Gateway, ProcessorGateway, Scopes};
pub use secret::Secret;
pub use shared_limits::RateLimitStore;
pub use types::*;

/// Settings the core needs from the configuration.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// How long a created payment can be paid.
    pub payment_ttl: Duration,
    /// How long an authenticated credential is trusted before it is read again.
    /// Admin changes made through this instance take effect at once regardless.
    pub auth_cache_ttl: Duration,
    /// Connections in the read pool.
    pub max_connections: u32,
    /// How long the processor may take to answer a charge before it is recorded as
    /// declined (`bank_error`).
    pub processor_timeout: Duration,
    /// The time every decision by time reads ([`Clock::system`] unless the
    /// configuration turns the test clock on).
    pub clock: Clock,
    /// When a SQLite commit is on disk (Postgres keeps its own `synchronous_commit`).
    pub sqlite_synchronous: SqliteSynchronous,
    /// Where rate-limit buckets are counted.
    pub rate_limits: RateLimitStore,
}

/// When a SQLite commit is acknowledged, in WAL mode: SQLite's `synchronous` pragma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Once the commit is fsynced to the WAL (one fsync per group commit): an
    /// acknowledged payment survives an OS crash or a power loss. The default.
    #[default]
    Full,
    /// Once the commit is written to the WAL, fsynced only at checkpoints: it survives
    /// the process being killed, but an OS crash or power loss may lose the last
    /// commits, acknowledged or not. Faster; for tests and throwaway demos.
    Normal,
}

/// The payment core that every scope ([`Gateway`], [`AdminGateway`],
/// [`ProcessorGateway`], [`DeliveryGateway`]) shares. Cheap to clone; every clone
/// shares one state. Its own public methods only read.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

struct Inner {
    store: store::Store,
    settings: CoreSettings,
    access: access::AccessControl,
    creator: create::Creator,
    charger: charge::Charger,
    processor: Arc<dyn Processor>,
    events: Arc<tokio::sync::Notify>,
    /// Signalled when deliveries may have come due without a new event (a replay, the
    /// test clock moved).
    due: Arc<tokio::sync::Notify>,
    /// Events just written, kept typed for the webhook engine.
    recent: Arc<outbox::Recent>,
    _checkpointer: Option<store::AbortOnDrop>,
    /// Forgets cached credentials when another instance changed some (Postgres).
    _access_listener: Option<store::AbortOnDrop>,
}

impl Core {
    /// Connects to the database, brings its schema up to date and starts the core's
    /// background writers; every charge goes through `processor`. Returns its doors,
    /// one per kind of caller.
    pub async fn connect(
        database_url: &str,
        settings: CoreSettings,
        processor: Arc<dyn Processor>,
    ) -> Result<Scopes, CoreError> {
        let store = store::Store::connect(database_url, settings.max_connections, settings.sqlite_synchronous).await?;
        migrate_store(&store).await?;
        let events = Arc::new(tokio::sync::Notify::new());
        let recent = Arc::new(outbox::Recent::default());
        let creator = create::Creator::start(store.clone(), events.clone(), recent.clone(), settings.clock.clone());
        let charger = charge::Charger::start(charge::Context {
            store: store.clone(),
            events: events.clone(),
            processor: processor.clone(),
            timeout: settings.processor_timeout,
            clock: settings.clock.clone(),
        });
        let access =
            access::AccessControl::new(settings.auth_cache_ttl, settings.clock.clone(), &settings.rate_limits)?;
        let _checkpointer = store.start_checkpointer();
        let due = Arc::new(tokio::sync::Notify::new());
        let inner = Arc::new_cyclic(|inner: &std::sync::Weak<Inner>| {
            let inner = inner.clone();
            let _access_listener = store.listen_for_access_changes(move || {
                if let Some(inner) = inner.upgrade() {
                    inner.access.invalidate();
                }
            });
            Inner {
                store,
                settings,
                access,
                creator,
                charger,
                processor,
                events,
                due,
                recent,
                _checkpointer,
                _access_listener,
            }
        });
        Ok(Scopes::of(Core { inner }))
    }

    /// Applies pending migrations to the database at `database_url` and returns.
    pub async fn migrate(database_url: &str) -> Result<(), CoreError> {
        let store = store::Store::connect(database_url, 1, SqliteSynchronous::Full).await?;
        migrate_store(&store).await
    }

    /// True when the database answers.
    pub async fn ready(&self) -> bool {
        self.inner.store.ping().await.is_ok()
    }

    /// Woken after every commit that wrote outbox events (on this instance), so the
    /// webhook engine need not poll hard.
    pub fn events_written(&self) -> Arc<tokio::sync::Notify> {
        self.inner.events.clone()
    }

    fn notify_events(&self) {
        self.inner.events.notify_waiters();
    }

    /// Woken when deliveries may have come due without a new event: one was replayed, or
    /// the test clock moved past retries' times. For the instance's one webhook engine.
    pub fn deliveries_due(&self) -> Arc<tokio::sync::Notify> {
        self.inner.due.clone()
    }

    fn notify_due(&self) {
        // `notify_one` keeps a permit when the engine is not waiting: not lost mid-round.
        self.inner.due.notify_one();
    }

    /// The time now, by this core's clock (microsecond precision).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.settings.clock.now()
    }

    /// The settings this core runs with.
    pub fn settings(&self) -> &CoreSettings {
        &self.inner.settings
    }

    fn store(&self) -> &store::Store {
        &self.inner.store
    }

    /// Opens a write transaction (see [`store::Store::begin_write`]).
    async fn begin_write(&self) -> Result<DatabaseTransaction, CoreError> {
        Ok(self.store().begin_write().await?)
    }

    /// Locks the selected rows for the rest of the transaction where the backend
    /// needs it.
    fn for_update<E: EntityTrait>(&self, query: Select<E>) -> Select<E> {
        self.store().for_update(query)
    }
}

/// True when a JSON value holds a NUL character in any string or key.
pub fn json_has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

/// A row count or offset as SQL takes it: at most `i64::MAX` (the drivers bind
/// signed integers, and a larger `u64` from a client's page number would not fit).
pub(crate) fn sql_count(n: u64) -> u64 {
    n.min(i64::MAX as u64)
}

async fn migrate_store(store: &store::Store) -> Result<(), CoreError> {
    use migration::MigratorTrait;
    migration::Migrator::up(&store.writer, None).await?;
    Ok(())
}
