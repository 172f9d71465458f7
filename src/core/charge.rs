//! Host-to-host charges ([`Gateway::charge`]): a payment created and decided in one
//! write transaction — the account's policy, the processor's verdict, the payment in
//! its final state, the capture's ledger postings and the events — batched like
//! creation: one writer task takes every charge waiting at that moment into one
//! transaction.
//!
//! In a batch, in this order:
//!
//! 1. references: a charge under an idempotency key whose payment exists already is
//!    answered with it (a retry never charges twice; on Postgres an advisory lock on
//!    the key, held to the commit, makes two instances charging under one key at once
//!    take turns);
//! 2. the policies of the batch's accounts are read under their row locks (Postgres,
//!    in id order) — on SQLite the single writer serializes — and the usage of those
//!    with count or total limits summed, so limits hold across instances;
//! 3. each charge in turn is held to its account's policy, the usage growing with
//!    each charge it lets through (a charge the processor then declines still counted
//!    against the charges after it in the same batch: limits are never exceeded, at
//!    worst a charge is declined that a later batch would have let through);
//! 4. the processor is asked about the rest at once, each call within the configured
//!    timeout (a failure or timeout is a recorded decline);
//! 5. the payments are inserted in their final state with their fee (a fresh
//!    reference found taken is drawn again and its row inserted again), and the
//!    approvals' captures and each decision's event (`payment.succeeded`,
//!    `payment.failed`, `payment.pending`: a charge is never seen `created`) are written,
//!    all in multi-row statements: seven statements a batch, `BEGIN` and `COMMIT`
//!    included, and when charges carry idempotency keys one look-up more (and on
//!    Postgres one advisory lock per key).
//!
//! Should the batch's write fail, each charge is written again on its own with the
//! verdict it already has: the processor is never asked twice, and no charge it
//! answered goes unrecorded.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter};
use tokio::sync::{mpsc, oneshot};

use super::instrument::PaymentInstrument;
use super::outbox::{self, NewEvent};
use super::payments::{CheckoutOutcome, capture_entry, decide, decision_columns, policy_decline};
use super::policy::{self, AccountPolicy, Attempt, Usage};
use super::processor::{self, Processor};
use super::store::{self, entities::payment};
use super::{CoreError, Currency, EventType, NewPayment, Payment, PaymentStatus, Principal};

/// At most this many charges go into one transaction.
const MAX_BATCH: usize = 256;

/// How many fresh references a charge draws before giving up.
const REFERENCE_ATTEMPTS: usize = 5;

/// A host-to-host charge.
#[derive(Debug, Clone)]
pub struct NewCharge {
    /// The payment; its `reference` is replaced by the one `reference` gives.
    pub payment: NewPayment,
    /// How its reference is made.
    pub reference: ChargeReference,
    /// What to charge.
    pub instrument: PaymentInstrument,
    /// The payer's country (alpha-2), for the policy's allowed countries.
    pub payer_country: Option<String>,
    /// The domain the charge comes from, for the policy's blocked origins.
    pub origin_domain: Option<String>,
}

/// The reference of a charge's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeReference {
    /// Derived from the request's idempotency key: the same for every retry with that
    /// key by that credential, so a retry after a crash or a lost answer finds the
    /// first payment instead of charging again. `prefix` then `k<credential>_` and 32
    /// hex digits of the key's SHA-256.
    Keyed {
        /// The reference's prefix (`qr_`).
        prefix: &'static str,
        /// The idempotency key.
        key: String,
    },
    /// `prefix` and 16 random hex digits, drawn again while taken.
    Fresh {
        /// The reference's prefix.
        prefix: &'static str,
    },
}

impl ChargeReference {
    fn draw(&self, credential_id: i64) -> String {
        match self {
            ChargeReference::Keyed { prefix, key } => {
                use sha2::Digest;
                let digest = hex::encode(sha2::Sha256::digest(key.as_bytes()));
                format!("{prefix}k{credential_id}_{}", &digest[..32])
            }
            ChargeReference::Fresh { prefix } => format!("{prefix}{:016x}", rand::rng().random::<u64>()),
        }
    }

    fn keyed(&self) -> bool {
        matches!(self, ChargeReference::Keyed { .. })
    }
}

use super::create::Key;

struct ChargeJob {
    credential_id: i64,
    reference: ChargeReference,
    /// Complete but for its id; `created` until decided.
    payment: Payment,
    instrument: PaymentInstrument,
    country: Option<String>,
    origin: Option<String>,
    reply: oneshot::Sender<Result<Payment, CoreError>>,
}

impl ChargeJob {
    fn key(&self) -> Key {
        (self.payment.merchant_id, self.payment.namespace, self.payment.reference.clone())
    }
}

/// The batching writer of charges.
pub(super) struct Charger {
    jobs: mpsc::Sender<ChargeJob>,
}

/// What the writer needs.
pub(super) struct Context {
    pub store: store::Store,
    pub events: std::sync::Arc<tokio::sync::Notify>,
    pub processor: std::sync::Arc<dyn Processor>,
    pub timeout: std::time::Duration,
    pub clock: super::Clock,
}

impl Charger {
    pub(super) fn start(context: Context) -> Charger {
        let (jobs, rx) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(run(rx, context));
        Charger { jobs }
    }
}

impl super::Gateway {
    /// Charges `charge.instrument` for a new payment of the principal's merchant in the
    /// principal's dialect namespace, and answers with the payment as decided: approved
    /// (and captured, or held for a manual capture), pending the issuer, or declined by
    /// the account's policy or the processor (`last_attempt` says which). A charge under
    /// a key whose payment exists answers that payment as it stands.
    pub async fn charge(&self, principal: &Principal, charge: NewCharge) -> Result<Payment, CoreError> {
        let NewCharge { mut payment, reference, instrument, payer_country, origin_domain } = charge;
        payment.reference = reference.draw(principal.credential().id);
        super::create::storable(&payment)?;
        let (reply, rx) = oneshot::channel();
        let job = ChargeJob {
            credential_id: principal.credential().id,
            payment: super::create::new_payment(principal, payment, self.settings()),
            reference,
            instrument,
            country: payer_country,
            origin: origin_domain,
            reply,
        };
        self.inner.charger.jobs.send(job).await.map_err(|_| CoreError::Internal("charge writer stopped".into()))?;
        rx.await.map_err(|_| CoreError::Internal("charge writer dropped a request".into()))?
    }
}

async fn run(mut rx: mpsc::Receiver<ChargeJob>, context: Context) {
    use futures_util::FutureExt;
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let size = jobs.len();
        // A panic fails this batch's requests (their replies are dropped), not the writer.
        let batch = std::panic::AssertUnwindSafe(batch(&context, std::mem::take(&mut jobs)));
        if batch.catch_unwind().await.is_err() {
            tracing::error!(size, "charge batch panicked; its requests failed");
        }
        context.events.notify_waiters();
    }
}

/// A charge with its verdict, and the fee a capture of it pays.
struct Decided {
    job: ChargeJob,
    outcome: CheckoutOutcome,
    fee: i64,
}

async fn batch(context: &Context, jobs: Vec<ChargeJob>) {
    let store = &context.store;
    let txn = match store.begin_write().await {
        Ok(txn) => txn,
        Err(err) => return fail_all(jobs, &err.into()),
    };
    let (jobs, answered) = match references(&txn, store, jobs).await {
        Ok(split) => split,
        Err((jobs, err)) => return fail_all(jobs, &err),
    };
    for (job, earlier) in answered {
        let _ = job.reply.send(Ok(earlier));
    }
    // A second charge under a key the batch already holds waits for the first's payment.
    let mut leaders: Vec<ChargeJob> = Vec::with_capacity(jobs.len());
    let mut followers: Vec<(usize, ChargeJob)> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::with_capacity(jobs.len());
    for job in jobs {
        match index.get(&job.key()) {
            Some(&leader) => followers.push((leader, job)),
            None => {
                index.insert(job.key(), leaders.len());
                leaders.push(job);
            }
        }
    }
    let decisions = match policy_decisions(&txn, store, &leaders, context.clock.now()).await {
        Ok(decisions) => decisions,
        Err(err) => {
            fail_all(followers.into_iter().map(|(_, job)| job).collect(), &err);
            return fail_all(leaders, &err);
        }
    };
    let mut decided = verdicts(context, leaders, decisions).await;
    let now = context.clock.now();
    let written = match insert(&txn, &mut decided, now).await {
        Ok(results) => txn.commit().await.map(|()| results).map_err(CoreError::from),
        Err(err) => {
            // Rolled back, and the (SQLite: only) write connection freed for the retries.
            drop(txn);
            Err(err)
        }
    };
    let results = match written {
        Ok(results) => results,
        Err(err) => {
            tracing::warn!(error = %err, size = decided.len(), "charge batch failed; writing its charges one by one");
            one_by_one(store, &mut decided, now).await
        }
    };
    for (leader, job) in followers {
        let _ = job.reply.send(results[leader].clone());
    }
    for (d, result) in decided.into_iter().zip(results) {
        let _ = d.job.reply.send(result);
    }
}

fn fail_all(jobs: Vec<ChargeJob>, err: &CoreError) {
    for job in jobs {
        let _ = job.reply.send(Err(err.clone()));
    }
}

/// Splits off the keyed charges whose payment exists, with that payment: a retry is
/// answered, never charged again. (A fresh reference that happens to be taken is drawn
/// again when the payment is inserted.)
async fn references<C: ConnectionTrait>(
    conn: &C,
    store: &store::Store,
    jobs: Vec<ChargeJob>,
) -> Result<(Vec<ChargeJob>, Vec<(ChargeJob, Payment)>), (Vec<ChargeJob>, CoreError)> {
    if !jobs.iter().any(|job| job.reference.keyed()) {
        return Ok((jobs, Vec::new()));
    }
    let keyed: Vec<&ChargeJob> = jobs.iter().filter(|job| job.reference.keyed()).collect();
    if store.locks_rows()
        && let Err(err) = lock_keys(conn, &keyed).await
    {
        return Err((jobs, err));
    }
    let taken = match taken(conn, &keyed).await {
        Ok(taken) => taken,
        Err(err) => return Err((jobs, err)),
    };
    let (mut free, mut answered) = (Vec::with_capacity(jobs.len()), Vec::new());
    for job in jobs {
        // `get`, not `remove`: every charge under a key whose payment exists is answered.
        match taken.get(&job.key()).filter(|_| job.reference.keyed()).cloned() {
            Some(earlier) => answered.push((job, earlier)),
            None => free.push(job),
        }
    }
    Ok((free, answered))
}

/// Takes a transaction-scoped advisory lock (Postgres) on each keyed reference, in
/// order: two instances charging under one key at once are then serialized — the
/// second waits until the first commits, and finds its payment.
async fn lock_keys<C: ConnectionTrait>(conn: &C, jobs: &[&ChargeJob]) -> Result<(), CoreError> {
    use sha2::Digest;
    let mut locks: Vec<i64> = jobs
        .iter()
        .map(|job| {
            let (merchant, namespace, reference) = job.key();
            let digest = sha2::Sha256::digest(format!("charge:{merchant}:{namespace}:{reference}").as_bytes());
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            i64::from_be_bytes(first)
        })
        .collect();
    locks.sort_unstable();
    locks.dedup();
    for lock in locks {
        let statement = sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [lock.into()],
        );
        conn.query_all_raw(statement).await?;
    }
    Ok(())
}

/// The payments that already hold the jobs' references.
async fn taken<C: ConnectionTrait>(conn: &C, jobs: &[&ChargeJob]) -> Result<HashMap<Key, Payment>, CoreError> {
    let mut merchants: Vec<i64> = jobs.iter().map(|j| j.payment.merchant_id).collect();
    merchants.dedup();
    let mut namespaces: Vec<&str> = jobs.iter().map(|j| j.payment.namespace.as_str()).collect();
    namespaces.dedup();
    let rows = payment::Entity::find()
        .filter(payment::Column::MerchantId.is_in(merchants))
        .filter(payment::Column::Namespace.is_in(namespaces))
        .filter(payment::Column::Reference.is_in(jobs.iter().map(|j| j.payment.reference.clone())))
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|row| {
            let payment = store::payment(row)?;
            Ok(((payment.merchant_id, payment.namespace, payment.reference.clone()), payment))
        })
        .collect()
}

/// Each charge's policy decline (if any) and the fee its capture would pay, in order,
/// with the usage growing by each charge let through.
async fn policy_decisions<C: ConnectionTrait>(
    conn: &C,
    store: &store::Store,
    jobs: &[ChargeJob],
    now: DateTime<Utc>,
) -> Result<Vec<(Option<super::Decline>, i64)>, CoreError> {
    let mut credentials: Vec<i64> = jobs.iter().map(|j| j.credential_id).collect();
    credentials.sort_unstable();
    credentials.dedup();
    let policies: HashMap<i64, AccountPolicy> = policy::load(conn, store, &credentials, true).await?;
    let mut usage: HashMap<(i64, Currency), Usage> = HashMap::new();
    let mut decisions = Vec::with_capacity(jobs.len());
    for job in jobs {
        let Some(policy) = policies.get(&job.credential_id) else {
            decisions.push((None, 0));
            continue;
        };
        let unit = job.payment.amount.currency();
        let key = (job.credential_id, unit);
        if policy.counts_usage() && !usage.contains_key(&key) {
            usage.insert(key, policy::usage(conn, job.credential_id, unit, now).await?);
        }
        let attempt = Attempt {
            amount: job.payment.amount,
            country: job.country.as_deref(),
            origin_domain: job.origin.as_deref(),
        };
        let decline = policy.decline(&attempt, usage.get(&key).copied().unwrap_or_default());
        if decline.is_none()
            && let Some(counted) = usage.get_mut(&key)
        {
            let minor = job.payment.amount.minor();
            counted.day = (counted.day.0 + 1, counted.day.1.saturating_add(minor));
            counted.month = (counted.month.0 + 1, counted.month.1.saturating_add(minor));
        }
        decisions.push((decline, policy.fee(job.payment.amount)));
    }
    Ok(decisions)
}

/// The verdict of each charge: its policy decline, or the processor's answer (all
/// asked at once).
async fn verdicts(
    context: &Context,
    jobs: Vec<ChargeJob>,
    decisions: Vec<(Option<super::Decline>, i64)>,
) -> Vec<Decided> {
    let asks = jobs.iter().zip(&decisions).map(|(job, (decline, _))| async move {
        match decline {
            Some(reason) => policy_decline(&job.payment, &job.instrument, *reason),
            None => {
                let call = context.processor.charge(&job.payment, &job.instrument);
                processor::within(context.timeout, call).await.outcome(&job.payment, &job.instrument)
            }
        }
    });
    let outcomes = futures_util::future::join_all(asks).await;
    jobs.into_iter()
        .zip(outcomes)
        .zip(decisions)
        .map(|((job, outcome), (_, fee))| Decided { job, outcome, fee })
        .collect()
}

/// Writes the decided charges in `conn` (not committed): the payments in their final
/// state, the captures' ledger entries and each decision's event (a charge is never seen
/// `created`, so that is its only event). Answers each with its payment, or — for a
/// keyed charge whose reference another instance took meanwhile — that one.
async fn insert<C: ConnectionTrait>(
    conn: &C,
    decided: &mut [Decided],
    now: DateTime<Utc>,
) -> Result<Vec<Result<Payment, CoreError>>, CoreError> {
    let mut finals: Vec<(Payment, EventType)> = decided
        .iter()
        .map(|d| {
            let (mut payment, event) = decide(&d.job.payment, &d.outcome, now);
            if payment.status == PaymentStatus::Succeeded {
                payment.fee = d.fee;
            }
            (payment, event)
        })
        .collect();
    let mut results: Vec<Option<Result<Payment, CoreError>>> = (0..decided.len()).map(|_| None).collect();
    let mut todo: Vec<usize> = (0..decided.len()).collect();
    for _ in 0..REFERENCE_ATTEMPTS {
        if todo.is_empty() {
            break;
        }
        let ids = insert_rows(conn, todo.iter().map(|&i| &finals[i].0)).await?;
        let mut again = Vec::new();
        for i in todo {
            let job = &mut decided[i].job;
            match ids.get(&finals[i].0.reference) {
                Some(&id) => {
                    finals[i].0.id = id;
                    job.payment.id = id;
                }
                None if job.reference.keyed() => {
                    // Taken since the batch looked: another instance charging under the
                    // same key. Its payment is the answer.
                    let row = payment::Entity::find()
                        .filter(payment::Column::MerchantId.eq(job.payment.merchant_id))
                        .filter(payment::Column::Namespace.eq(job.payment.namespace.as_str()))
                        .filter(payment::Column::Reference.eq(&job.payment.reference))
                        .one(conn)
                        .await?;
                    results[i] = Some(match row {
                        Some(row) => store::payment(row),
                        None => Err(CoreError::DuplicateReference),
                    });
                }
                None => {
                    // A fresh reference taken: the charge is recorded under another.
                    job.payment.reference = job.reference.draw(job.credential_id);
                    finals[i].0.reference = job.payment.reference.clone();
                    again.push(i);
                }
            }
        }
        todo = again;
    }
    let (mut events, mut entries) = (Vec::with_capacity(decided.len()), Vec::with_capacity(decided.len()));
    for (i, (payment, event)) in finals.into_iter().enumerate() {
        if results[i].is_some() {
            continue;
        }
        if payment.id == 0 {
            results[i] = Some(Err(CoreError::Internal("no free payment reference after several draws".into())));
            continue;
        }
        events.push(NewEvent::payment(event, &payment)?);
        if payment.status == PaymentStatus::Succeeded {
            entries.push(capture_entry(&payment));
        }
        results[i] = Some(Ok(payment));
    }
    super::ledger::post(conn, entries, now).await?;
    outbox::emit(conn, events, now).await?;
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(CoreError::Internal("charge not written".into()))))
        .collect())
}

/// Inserts the payments (those whose reference is free); answers the ids by reference.
async fn insert_rows<'a, C: ConnectionTrait>(
    conn: &C,
    payments: impl Iterator<Item = &'a Payment>,
) -> Result<HashMap<String, i64>, CoreError> {
    let mut statement = Query::insert();
    statement.into_table(payment::Entity).columns(columns());
    let mut count = 0;
    for p in payments {
        let mut model = super::create::model(p);
        let decision = decision_columns(p);
        for column in DECISION_COLUMNS {
            model.set(*column, decision.get(*column).into_value().unwrap_or(sea_orm::Value::String(None)));
        }
        statement.values_panic(columns().map(|c| match model.get(c) {
            ActiveValue::Set(v) | ActiveValue::Unchanged(v) => Expr::val(v),
            ActiveValue::NotSet => Expr::val(sea_orm::Value::String(None)),
        }));
        count += 1;
    }
    statement
        .on_conflict(
            OnConflict::columns([payment::Column::MerchantId, payment::Column::Namespace, payment::Column::Reference])
                .do_nothing()
                .to_owned(),
        )
        .returning(Query::returning().columns([payment::Column::Id, payment::Column::Reference]));
    let mut ids = HashMap::with_capacity(count);
    for row in conn.query_all(&statement).await? {
        ids.insert(row.try_get("", "reference")?, row.try_get("", "id")?);
    }
    Ok(ids)
}

/// The columns [`decision_columns`] sets.
const DECISION_COLUMNS: &[payment::Column] = &[
    payment::Column::Status,
    payment::Column::ProcessorTxnId,
    payment::Column::Method,
    payment::Column::Instrument,
    payment::Column::AttemptCode,
    payment::Column::AttemptMessage,
    payment::Column::AttemptReason,
    payment::Column::DeclinedBy,
    payment::Column::AuthorizedAt,
    payment::Column::CapturedAt,
    payment::Column::Fee,
    payment::Column::UpdatedAt,
];

/// The batch's charges written each in its own transaction, with the verdicts they
/// have.
async fn one_by_one(
    store: &store::Store,
    decided: &mut [Decided],
    now: DateTime<Utc>,
) -> Vec<Result<Payment, CoreError>> {
    let mut results = Vec::with_capacity(decided.len());
    for d in decided.chunks_mut(1) {
        let result = async {
            let txn = store.begin_write().await?;
            let mut written = insert(&txn, d, now).await?;
            txn.commit().await?;
            written.pop().unwrap_or_else(|| Err(CoreError::Internal("charge not written".into())))
        }
        .await;
        if let Err(err) = &result {
            tracing::error!(error = %err, reference = %d[0].job.payment.reference, "a decided charge could not be written");
        }
        results.push(result);
    }
    results
}

/// The inserted columns: all but the id.
fn columns() -> impl Iterator<Item = payment::Column> {
    payment::Column::iter().filter(|c| !matches!(c, payment::Column::Id))
}
