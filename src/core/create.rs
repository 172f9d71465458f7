//! Payment creation, the hot path, batched.
//!
//! Each request builds its row, its canonical [`Payment`] and its `payment.created`
//! event on its own task; one writer task then takes every create waiting at that
//! moment and writes them in one transaction: one multi-row
//! `INSERT … ON CONFLICT DO NOTHING RETURNING id, …` and one multi-row outbox insert.
//! A reference that already exists is not returned by the insert and answers
//! [`CoreError::DuplicateReference`]; the unique index decides, so this also holds
//! across several instances sharing one Postgres.
//!
//! On SQLite the batch instead runs on the write connection itself
//! ([`Store::sqlite_direct`](store::Store::sqlite_direct)): each payment through one
//! prepared `INSERT … ON CONFLICT DO NOTHING RETURNING id` and its event through another,
//! in one `BEGIN IMMEDIATE … COMMIT`, with no hand-off to sqlx's thread per statement or
//! per returned row (see bench/RESULTS.md). Each request's row values are made on its own
//! task, in the form its backend binds.
//!
//! A batch that fails as a whole is written again payment by payment (through sea-orm on
//! both backends), so one bad row fails only its own request.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::sea_query::{Expr, InsertStatement, OnConflict, Query, SqliteQueryBuilder};
use sea_orm::{ActiveModelTrait, ActiveValue, ActiveValue::Set, ConnectionTrait, DatabaseBackend, Iterable};
use tokio::sync::{mpsc, oneshot};

use super::outbox::{self, NewEvent};
use super::store::{self, entities::outbox_event, entities::payment};
use super::{CoreError, CoreSettings, Dialect, FieldIssue, NewPayment, Payment, PaymentStatus, Principal};

/// At most this many creates go into one transaction.
const MAX_BATCH: usize = 256;

/// A payment's unique key: merchant, namespace, reference.
pub(super) type Key = (i64, Dialect, String);

struct CreateJob {
    key: Key,
    token: String,
    /// The row's values, in the order of [`columns`]; `Spent` once used.
    values: Row,
    /// Complete but for its id, which the insert assigns.
    payment: Payment,
    /// The `payment.created` payload, likewise without the id (sea-orm's statement only:
    /// on SQLite the writer serializes it from the payment once it has its id).
    event: serde_json::Value,
    reply: oneshot::Sender<Result<Payment, CoreError>>,
}

/// A payment's row values, made in the form its backend's writer binds.
enum Row {
    /// For sea-orm's statement (Postgres, and every payment written on its own).
    Exprs(Vec<Expr>),
    /// For the SQLite connection itself.
    Sqlite(Vec<rusqlite::types::Value>),
    /// Used up by an attempt that failed.
    Spent,
}

/// The batching writer of new payments.
pub(super) struct Creator {
    jobs: mpsc::Sender<CreateJob>,
    /// SQLite: batches go to the connection itself, and rows are made for it.
    direct: bool,
}

impl Creator {
    pub(super) fn start(
        store: store::Store,
        events: Arc<tokio::sync::Notify>,
        recent: Arc<outbox::Recent>,
        clock: super::Clock,
    ) -> Creator {
        let (jobs, rx) = mpsc::channel(MAX_BATCH * 8);
        let direct = store.backend() == DatabaseBackend::Sqlite;
        tokio::spawn(run(rx, Writer { store, direct, recent, clock }, events));
        Creator { jobs, direct }
    }
}

impl super::Gateway {
    /// Creates a payment for the principal's merchant in the principal's dialect
    /// namespace, and writes `payment.created`.
    pub async fn create_payment(&self, principal: &Principal, cmd: NewPayment) -> Result<Payment, CoreError> {
        storable(&cmd)?;
        let job = job(principal, cmd, self.settings(), self.inner.creator.direct)?;
        let rx = job.1;
        self.inner.creator.jobs.send(job.0).await.map_err(|_| CoreError::Internal("payment writer stopped".into()))?;
        rx.await.map_err(|_| CoreError::Internal("payment writer dropped a request".into()))?
    }

    /// Creates a payment under a reference of the dialect's own form that `draw` makes
    /// (the command's is replaced), drawing another when one is taken — up to
    /// [`FRESH_DRAWS`] times, then [`CoreError::DuplicateReference`].
    pub async fn create_payment_fresh(
        &self,
        principal: &Principal,
        mut cmd: NewPayment,
        draw: impl Fn() -> String,
    ) -> Result<Payment, CoreError> {
        for _ in 1..FRESH_DRAWS {
            cmd.reference = draw();
            match self.create_payment(principal, cmd.clone()).await {
                Err(CoreError::DuplicateReference) => continue,
                other => return other,
            }
        }
        cmd.reference = draw();
        self.create_payment(principal, cmd).await
    }
}

/// How many references [`Gateway::create_payment_fresh`] draws at most.
pub const FRESH_DRAWS: usize = 5;

/// Text the database can store: no NUL characters (Postgres refuses them in text and
/// JSON). Dialects validate their fields first; this keeps the core safe from any.
pub(super) fn storable(cmd: &NewPayment) -> Result<(), CoreError> {
    let texts = [
        ("reference", Some(cmd.reference.as_str())),
        ("method", cmd.method.as_deref()),
        ("description", cmd.description.as_deref()),
        ("customer.name", cmd.customer.name.as_deref()),
        ("customer.email", cmd.customer.email.as_deref()),
        ("customer.phone", cmd.customer.phone.as_deref()),
        ("urls.success", cmd.urls.success.as_deref()),
        ("urls.failure", cmd.urls.failure.as_deref()),
        ("urls.cancel", cmd.urls.cancel.as_deref()),
        ("urls.notify", cmd.urls.notify.as_deref()),
    ];
    let mut issues: Vec<FieldIssue> = texts
        .iter()
        .filter(|(_, text)| text.is_some_and(|t| t.contains('\0')))
        .map(|(field, _)| FieldIssue::new(*field, "must not contain NUL characters"))
        .collect();
    if cmd.metadata.as_ref().is_some_and(super::json_has_nul) {
        issues.push(FieldIssue::new("metadata", "must not contain NUL characters"));
    }
    if issues.is_empty() { Ok(()) } else { Err(CoreError::Validation(issues)) }
}

type Job = (CreateJob, oneshot::Receiver<Result<Payment, CoreError>>);

/// The request's job, its row made for the writer that will bind it (`direct`: SQLite's).
fn job(principal: &Principal, cmd: NewPayment, settings: &CoreSettings, direct: bool) -> Result<Job, CoreError> {
    let payment = new_payment(principal, cmd, settings);
    let token = payment.checkout_token.clone();
    let (reply, rx) = oneshot::channel();
    let key = (payment.merchant_id, payment.namespace, payment.reference.clone());
    let (values, event) = if direct {
        let values = row_values(&payment, token.clone()).into_iter().map(store::sqlite_value);
        (Row::Sqlite(values.collect::<Result<_, _>>().map_err(CoreError::Internal)?), serde_json::Value::Null)
    } else {
        (Row::Exprs(row(&payment, token.clone())), outbox::payment_snapshot(&payment))
    };
    Ok((CreateJob { key, token, values, payment, event, reply }, rx))
}

/// The payment `cmd` creates for the principal now: `created`, with a fresh checkout
/// token, its id still 0.
pub(super) fn new_payment(principal: &Principal, cmd: NewPayment, settings: &CoreSettings) -> Payment {
    let now = settings.clock.now();
    Payment {
        id: 0,
        merchant_id: principal.merchant_id(),
        namespace: principal.dialect(),
        reference: cmd.reference,
        amount: cmd.amount,
        status: PaymentStatus::Created,
        capture_mode: cmd.capture_mode,
        method: cmd.method,
        description: cmd.description,
        customer: cmd.customer,
        metadata: cmd.metadata,
        urls: cmd.urls,
        checkout_token: checkout_token(now),
        processor_txn_id: None,
        instrument: None,
        last_attempt: None,
        fee: 0,
        created_at: now,
        updated_at: now,
        expires_at: now + settings.payment_ttl,
        authorized_at: None,
        captured_at: None,
        created_by: Some(principal.credential().id),
    }
}

/// A checkout token: 128 random bits (the capability) after the creation time in
/// microseconds, so new tokens sort last and the unique index on them grows at its right
/// edge instead of touching a random page per payment.
fn checkout_token(now: chrono::DateTime<chrono::Utc>) -> String {
    let micros = u64::try_from(now.timestamp_micros()).unwrap_or_default();
    format!("{micros:014x}{}", hex::encode(rand::rng().random::<[u8; 16]>()))
}

/// What the writer task writes with.
struct Writer {
    store: store::Store,
    /// As [`Creator::direct`]: the jobs' rows are made for it.
    direct: bool,
    /// Where a direct batch leaves its committed events, typed, for the webhook engine.
    recent: Arc<outbox::Recent>,
    clock: super::Clock,
}

async fn run(mut rx: mpsc::Receiver<CreateJob>, writer: Writer, events: Arc<tokio::sync::Notify>) {
    use futures_util::FutureExt;
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (size, started) = (jobs.len(), std::time::Instant::now());
        // A panic fails this batch's requests (their replies are dropped), not the writer.
        let batch = std::panic::AssertUnwindSafe(write_batch(&writer, std::mem::take(&mut jobs)));
        if batch.catch_unwind().await.is_err() {
            tracing::error!(size, "payment batch panicked; its requests failed");
        }
        events.notify_waiters();
        tracing::debug!(size, micros = started.elapsed().as_micros() as u64, "payment batch written");
    }
}

async fn write_batch(writer: &Writer, jobs: Vec<CreateJob>) {
    let (store, clock) = (&writer.store, &writer.clock);
    // A reference twice in one batch: the second is a duplicate of the first.
    let mut seen = HashSet::with_capacity(jobs.len());
    let mut accepted = Vec::with_capacity(jobs.len());
    for job in jobs {
        if seen.insert(job.key.clone()) {
            accepted.push(job);
        } else {
            let _ = job.reply.send(Err(CoreError::DuplicateReference));
        }
    }
    let written = if writer.direct {
        let written;
        (accepted, written) = insert_direct(store, accepted, clock.now(), writer.recent.clone()).await;
        written
    } else {
        insert(store, &mut accepted, clock.now()).await
    };
    if written.is_err() && accepted.len() > 1 {
        // Something in the batch broke it: write each payment on its own, so one bad row
        // fails only its own request.
        tracing::warn!(size = accepted.len(), "payment batch failed; writing its payments one by one");
        for job in accepted {
            let mut single = [job];
            let result = insert(store, &mut single, clock.now()).await;
            let [job] = single;
            reply(job, result);
        }
        return;
    }
    for job in accepted {
        reply(job, written.clone());
    }
}

/// Answers a request: its payment, a duplicate (not inserted), or the batch's error.
fn reply(job: CreateJob, written: Result<(), CoreError>) {
    let result = match written {
        Ok(()) if job.payment.id > 0 => Ok(job.payment),
        Ok(()) => Err(CoreError::DuplicateReference),
        Err(err) => Err(err),
    };
    let _ = job.reply.send(result);
}

/// The inserted columns: all but the id and those a new payment leaves NULL (fewer
/// parameters for the database to bind per row).
fn columns() -> impl Iterator<Item = payment::Column> {
    use payment::Column as C;
    C::iter().filter(|c| {
        !matches!(
            c,
            C::Id
                | C::ProcessorTxnId
                | C::Instrument
                | C::AttemptCode
                | C::AttemptMessage
                | C::AttemptReason
                | C::DeclinedBy
                | C::Fee
                | C::AuthorizedAt
                | C::CapturedAt
        )
    })
}

/// Inserts the payments and their events; once committed, sets the id of each
/// inserted payment (those left at 0 were duplicates). The jobs' prepared values and
/// payloads are used up; a later attempt rebuilds them.
async fn insert(store: &store::Store, jobs: &mut [CreateJob], now: DateTime<Utc>) -> Result<(), CoreError> {
    let rows = jobs.iter_mut().map(|job| match std::mem::replace(&mut job.values, Row::Spent) {
        Row::Exprs(values) => values,
        Row::Sqlite(_) | Row::Spent => row(&job.payment, job.token.clone()),
    });
    let mut statement = insert_statement(rows);
    statement.returning(Query::returning().columns([
        payment::Column::Id,
        payment::Column::MerchantId,
        payment::Column::Namespace,
        payment::Column::Reference,
    ]));
    let index: HashMap<&Key, usize> = jobs.iter().enumerate().map(|(i, job)| (&job.key, i)).collect();

    let txn = store.begin_write().await?;
    let rows = txn.query_all(&statement).await?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let namespace: String = row.try_get("", "namespace")?;
        let namespace = Dialect::parse(&namespace).ok_or_else(|| CoreError::Internal("bad namespace".into()))?;
        let key = (row.try_get("", "merchant_id")?, namespace, row.try_get("", "reference")?);
        if let Some(&i) = index.get(&key) {
            ids.push((i, id));
        }
    }
    drop(index);
    let mut events = Vec::with_capacity(ids.len());
    for &(i, id) in &ids {
        let job = &mut jobs[i];
        let mut snapshot = std::mem::take(&mut job.event);
        if snapshot.is_null() {
            snapshot = outbox::payment_snapshot(&job.payment);
        }
        events.push(NewEvent::payment_created(snapshot, job.key.0, id));
    }
    outbox::emit(&txn, events, now).await?;
    txn.commit().await?;
    for (i, id) in ids {
        jobs[i].payment.id = id;
    }
    Ok(())
}

/// The insert of new payments' rows, a reference already taken skipped.
fn insert_statement(rows: impl Iterator<Item = Vec<Expr>>) -> InsertStatement {
    let mut statement = Query::insert();
    statement.into_table(payment::Entity).columns(columns());
    for values in rows {
        statement.values_panic(values);
    }
    statement.on_conflict(
        OnConflict::columns([payment::Column::MerchantId, payment::Column::Namespace, payment::Column::Reference])
            .do_nothing()
            .to_owned(),
    );
    statement
}

/// SQLite's insert of one payment, prepared once per batch: the id of the row, or no row
/// when its reference is taken.
static SQLITE_PAYMENT_INSERT: LazyLock<String> = LazyLock::new(|| {
    let placeholders = columns().map(|_| Expr::val(sea_orm::Value::String(None))).collect();
    let mut statement = insert_statement(std::iter::once(placeholders));
    statement.returning_col(payment::Column::Id);
    statement.build(SqliteQueryBuilder).0
});

/// SQLite's insert of one outbox event, in the order of [`outbox::INSERTED`].
static SQLITE_EVENT_INSERT: LazyLock<String> = LazyLock::new(|| {
    let mut statement = Query::insert();
    statement
        .into_table(outbox_event::Entity)
        .columns(outbox::INSERTED)
        .values_panic(outbox::INSERTED.map(|_| Expr::val(sea_orm::Value::String(None))));
    statement.build(SqliteQueryBuilder).0
});

/// [`insert`] on SQLite's write connection itself: each payment through one prepared
/// statement and its event through another, in one transaction, the event's payload
/// serialized there from the payment once it has its id (the writer's thread has time
/// to spare; the request tasks' cores do not). Any error rolls the whole batch back (and
/// no id is set); once committed, each inserted payment has its id (those left at 0 were
/// duplicates). The jobs come back with the result; should the writer's task itself fail
/// (a panic), they are dropped, and their requests fail.
async fn insert_direct(
    store: &store::Store,
    jobs: Vec<CreateJob>,
    now: DateTime<Utc>,
    recent: Arc<outbox::Recent>,
) -> (Vec<CreateJob>, Result<(), CoreError>) {
    let written = store.sqlite_direct(move |db| {
        let mut jobs = jobs;
        let result = write_direct(db, &mut jobs, now);
        if let Ok(events) = &result {
            // Committed: the webhook engine may have them as they are.
            let events = events.iter().map(|&(i, id)| outbox::Event::payment_created(id, jobs[i].payment.clone(), now));
            recent.keep(events.collect());
        }
        (jobs, result.map(|_| ()))
    });
    match written.await {
        Ok((jobs, Ok(()))) => (jobs, Ok(())),
        Ok((mut jobs, Err(e))) => {
            tracing::error!(error = %e, "payment batch failed on SQLite");
            for job in &mut jobs {
                job.payment.id = 0;
            }
            (jobs, Err(CoreError::Internal(e)))
        }
        Err(e) => (Vec::new(), Err(e.into())),
    }
}

/// The statements of [`insert_direct`], on the writer's thread. Returns, for each
/// payment inserted, its job's index and its event's id.
fn write_direct(
    db: &mut rusqlite::Connection,
    jobs: &mut [CreateJob],
    now: DateTime<Utc>,
) -> Result<Vec<(usize, i64)>, String> {
    use rusqlite::{OptionalExtension, TransactionBehavior, params_from_iter};
    let sql = |e: rusqlite::Error| e.to_string();
    let txn = db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let mut events = Vec::with_capacity(jobs.len());
    {
        let mut insert_payment = txn.prepare(&SQLITE_PAYMENT_INSERT).map_err(sql)?;
        let mut insert_event = txn.prepare(&SQLITE_EVENT_INSERT).map_err(sql)?;
        for (i, job) in jobs.iter_mut().enumerate() {
            let values = match std::mem::replace(&mut job.values, Row::Spent) {
                Row::Sqlite(values) => values,
                Row::Exprs(_) | Row::Spent => row_values(&job.payment, job.token.clone())
                    .into_iter()
                    .map(store::sqlite_value)
                    .collect::<Result<_, _>>()?,
            };
            let id: Option<i64> =
                insert_payment.query_row(params_from_iter(values), |r| r.get(0)).optional().map_err(sql)?;
            let Some(id) = id else { continue };
            job.payment.id = id;
            let event = outbox::payment_created_row(&job.payment, now).map(store::sqlite_value);
            let event = event.into_iter().collect::<Result<Vec<_>, _>>()?;
            events.push((i, insert_event.insert(params_from_iter(event)).map_err(sql)?));
        }
    }
    // On an error above, dropping `txn` rolled the batch back.
    txn.commit().map_err(sql)?;
    Ok(events)
}

/// The row values of a payment, in the order of [`columns`].
fn row(p: &Payment, token: String) -> Vec<Expr> {
    row_values(p, token).into_iter().map(Expr::val).collect()
}

/// The values of [`row`], unbound.
fn row_values(p: &Payment, token: String) -> Vec<sea_orm::Value> {
    let mut model = model(p);
    model.checkout_token = Set(token);
    columns()
        .map(|c| match model.get(c) {
            ActiveValue::Set(v) | ActiveValue::Unchanged(v) => v,
            // Every inserted column is set by `model`.
            ActiveValue::NotSet => sea_orm::Value::String(None),
        })
        .collect()
}

/// The columns of a new payment's row; those a new payment leaves NULL (or 0) are not
/// set.
pub(super) fn model(p: &Payment) -> payment::ActiveModel {
    payment::ActiveModel {
        merchant_id: Set(p.merchant_id),
        namespace: Set(p.namespace.as_str().to_owned()),
        reference: Set(p.reference.clone()),
        amount: Set(p.amount.minor()),
        currency: Set(p.amount.currency().code().to_owned()),
        status: Set(p.status.as_str().to_owned()),
        capture_mode: Set(p.capture_mode.as_str().to_owned()),
        method: Set(p.method.clone()),
        description: Set(p.description.clone()),
        customer: Set(serde_json::to_value(&p.customer).unwrap_or_default()),
        metadata: Set(p.metadata.clone()),
        urls: Set(serde_json::to_value(&p.urls).unwrap_or_default()),
        checkout_token: Set(p.checkout_token.clone()),
        created_at: Set(p.created_at),
        updated_at: Set(p.updated_at),
        expires_at: Set(p.expires_at),
        created_by: Set(p.created_by),
        ..Default::default()
    }
}

#[cfg(test)]
mod fresh_tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::core::{CaptureMode, Clock, Currency, Customer, Money, RedirectUrls};

    /// A core on a fresh SQLite file with the demo merchant, and its REBORNPAY principal.
    async fn demo_gateway(name: &str) -> (crate::core::Gateway, Principal, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("paybridge-{name}-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("core.db").display());
        let settings = CoreSettings {
            payment_ttl: Duration::from_secs(900),
            auth_cache_ttl: Duration::from_secs(1),
            max_connections: 2,
            processor_timeout: Duration::from_secs(1),
            clock: Clock::system(),
            sqlite_synchronous: Default::default(),
            rate_limits: Default::default(),
        };
        let scopes = super::super::Core::connect(&url, settings, Arc::new(crate::sandbox::Sandbox)).await.unwrap();
        scopes.admin.apply_seeds(&[crate::config::demo_merchant().to_seed()]).await.unwrap();
        let caller = scopes.gateway.authenticate(Dialect::Rebornpay, "pk_test_demo", None).await.unwrap();
        let principal = scopes.gateway.admit(&caller, None).await.unwrap();
        (scopes.gateway, principal, dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_taken_fresh_reference_is_drawn_again_a_few_times_at_most() {
        let (gateway, principal, dir) = demo_gateway("fresh").await;
        let command = NewPayment {
            reference: "ignored".into(),
            amount: Money::from_minor(1000, Currency::parse("BDT").unwrap()).unwrap(),
            capture_mode: CaptureMode::Manual,
            method: None,
            description: None,
            customer: Customer::default(),
            metadata: None,
            urls: RedirectUrls::default(),
        };
        let taken = gateway.create_payment(&principal, NewPayment { reference: "TAKEN".into(), ..command.clone() });
        taken.await.unwrap();
        // Two draws of a taken reference, then a free one.
        let draws = Mutex::new(vec!["FREE", "TAKEN", "TAKEN"]);
        let draw = || draws.lock().unwrap().pop().unwrap().to_owned();
        let created = gateway.create_payment_fresh(&principal, command.clone(), draw).await.unwrap();
        assert_eq!(created.reference, "FREE");
        // Only taken ones: refused after FRESH_DRAWS draws.
        let count = Mutex::new(0);
        let always_taken = || {
            *count.lock().unwrap() += 1;
            "TAKEN".to_owned()
        };
        let refused = gateway.create_payment_fresh(&principal, command, always_taken).await;
        assert_eq!((refused, *count.lock().unwrap()), (Err(CoreError::DuplicateReference), FRESH_DRAWS));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// On SQLite a batch goes to the connection itself: a payment reads back as it was
    /// answered, its event's stored payload is, text for text, the snapshot sea-orm's
    /// path writes, a reference sent twice at once is refused once, and the event kept
    /// for the webhook engine is what it would read from the row.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_direct_batch_writes_what_sea_orm_writes() {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
        let (gateway, principal, dir) = demo_gateway("direct-batch").await;
        assert!(gateway.inner.creator.direct);
        let command = |reference: &str| NewPayment {
            reference: reference.into(),
            amount: Money::from_minor(1050, Currency::parse("BDT").unwrap()).unwrap(),
            capture_mode: CaptureMode::Automatic,
            method: Some("bkash".into()),
            description: Some("Tea \"Assam\" ✓".into()),
            customer: Customer { name: Some("Karim".into()), ..Customer::default() },
            metadata: Some(serde_json::json!({"z": 1.50, "a": [true, null], "order": "ORD-42"})),
            urls: RedirectUrls { notify: Some("https://shop.example/hook".into()), ..RedirectUrls::default() },
        };
        // Sent together, so they share batches.
        let (a, b, again) = tokio::join!(
            gateway.create_payment(&principal, command("DIRECT-A")),
            gateway.create_payment(&principal, command("DIRECT-B")),
            gateway.create_payment(&principal, command("DIRECT-A")),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(again, Err(CoreError::DuplicateReference));
        assert!(a.id > 0 && b.id > 0 && a.id != b.id);
        for created in [&a, &b] {
            let read = gateway.payment_by_reference(&principal, &created.reference).await.unwrap();
            assert_eq!(&read, created);
        }
        use store::entities::outbox_event::{Column as C, Entity as Events};
        let created = Events::find().filter(C::EventType.eq("payment.created")).count(&gateway.store().reader);
        assert_eq!(created.await.unwrap(), 2);
        for payment in [&a, &b] {
            let stored = Events::find()
                .select_only()
                .columns([C::Id, C::MerchantId, C::EventType, C::CreatedAt])
                .column_as(sea_orm::sea_query::Expr::cust("CAST(payload AS TEXT)"), "payload")
                .filter(C::SubjectId.eq(payment.id))
                .into_model::<outbox::StoredEvent>()
                .one(&gateway.store().reader)
                .await
                .unwrap()
                .expect("its event");
            assert_eq!((stored.event_type.as_str(), stored.merchant_id), ("payment.created", payment.merchant_id));
            // The stored text itself.
            assert_eq!(stored.payload, outbox::payment_snapshot(payment).to_string());
            let kept = gateway.inner.recent.take(&[stored.id]).pop().flatten().expect("kept");
            assert_eq!(kept, outbox::Event::read(&stored).unwrap());
        }
        assert_eq!(gateway.inner.recent.len(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
