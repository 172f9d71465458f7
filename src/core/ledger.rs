//! The double-entry ledger. Every movement of money is one ledger transaction whose
//! postings sum to zero; merchant balances are sums of postings, never counters.
//!
//! Accounts per merchant and currency (credit to the merchant is positive):
//!
//! | movement            | postings                                        |
//! |---------------------|-------------------------------------------------|
//! | capture             | processor_clearing −A, available +(A − F), fee_revenue +F |
//! | refund requested    | available −(R − f), fee_revenue −f, reserved +R |
//! | refund rejected     | reserved −R, available +(R − f), fee_revenue +f |
//! | refund paid         | reserved −R, refunds_paid +R                    |
//! | settlement created  | available −A, pending_settlement +A             |
//! | settlement paid     | pending_settlement −A, settlements_paid +A      |
//! | payout requested    | available −A, reserved +A                       |
//! | payout rejected     | reserved −A, available +A                       |
//! | payout processed    | reserved −A, payouts_paid +A                    |
//!
//! A capture of A posts the fee F of the account's policy in force at that moment
//! (`policy`) to `fee_revenue`, and the merchant is credited the net A − F; the fee is
//! kept on the payment. A refund of R returns the fee in proportion: the part f that
//! brings the fee returned so far to ⌊F × refunded so far ÷ A⌋, so a full refund (in
//! one refund or several) returns all of F and the merchant pays back exactly what it
//! was credited. A refund's f is kept on the refund, so its rejection reverses the
//! same amounts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::store::entities::{ledger_posting, ledger_transaction};
use super::{Balance, CoreError, Currency, Money};

/// A ledger account of a merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Account {
    Available,
    Reserved,
    PendingSettlement,
    ProcessorClearing,
    RefundsPaid,
    SettlementsPaid,
    PayoutsPaid,
    FeeRevenue,
}

impl Account {
    fn as_str(self) -> &'static str {
        match self {
            Account::Available => "available",
            Account::Reserved => "reserved",
            Account::PendingSettlement => "pending_settlement",
            Account::ProcessorClearing => "processor_clearing",
            Account::RefundsPaid => "refunds_paid",
            Account::SettlementsPaid => "settlements_paid",
            Account::PayoutsPaid => "payouts_paid",
            Account::FeeRevenue => "fee_revenue",
        }
    }
}

/// What a ledger transaction is about.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Subject {
    pub payment_id: Option<i64>,
    pub refund_id: Option<i64>,
    pub settlement_id: Option<i64>,
    pub payout_id: Option<i64>,
}

/// One ledger transaction to record: its postings (account, signed minor units) in one
/// currency, summing to zero.
pub(super) struct Entry {
    merchant_id: i64,
    kind: &'static str,
    subject: Subject,
    currency: super::Currency,
    postings: Vec<(Account, i64)>,
}

impl Entry {
    /// One movement of `amount` from account `from` to account `to`.
    pub fn transfer(
        merchant_id: i64,
        kind: &'static str,
        subject: Subject,
        amount: Money,
        from: Account,
        to: Account,
    ) -> Entry {
        Entry::new(merchant_id, kind, subject, amount.currency(), &[(from, -amount.minor()), (to, amount.minor())])
    }

    /// An entry; postings of zero are left out.
    pub(super) fn new(
        merchant_id: i64,
        kind: &'static str,
        subject: Subject,
        currency: super::Currency,
        postings: &[(Account, i64)],
    ) -> Entry {
        let postings = postings.iter().copied().filter(|(_, minor)| *minor != 0).collect();
        Entry { merchant_id, kind, subject, currency, postings }
    }
}

/// Records ledger transactions: one multi-row insert of the transactions and one of
/// their postings, however many there are. An entry whose postings do not sum to zero
/// fails the whole call (and so the caller's database transaction).
pub(super) async fn post<C: ConnectionTrait>(
    conn: &C,
    entries: Vec<Entry>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    use sea_orm::sea_query::Query;
    if entries.is_empty() {
        return Ok(());
    }
    if let Some(bad) = entries.iter().find(|e| e.postings.iter().map(|(_, m)| *m as i128).sum::<i128>() != 0) {
        return Err(CoreError::Internal(format!("unbalanced ledger entry {}: {:?}", bad.kind, bad.postings)));
    }
    let mut statement = Query::insert();
    statement.into_table(ledger_transaction::Entity).columns([
        ledger_transaction::Column::MerchantId,
        ledger_transaction::Column::Kind,
        ledger_transaction::Column::PaymentId,
        ledger_transaction::Column::RefundId,
        ledger_transaction::Column::SettlementId,
        ledger_transaction::Column::PayoutId,
        ledger_transaction::Column::CreatedAt,
    ]);
    for e in &entries {
        statement.values_panic([
            e.merchant_id.into(),
            e.kind.into(),
            e.subject.payment_id.into(),
            e.subject.refund_id.into(),
            e.subject.settlement_id.into(),
            e.subject.payout_id.into(),
            now.into(),
        ]);
    }
    // `RETURNING` does not promise the rows' order: each is matched by its kind and
    // subject, which must be unique in the call.
    statement.returning(Query::returning().columns([
        ledger_transaction::Column::Id,
        ledger_transaction::Column::Kind,
        ledger_transaction::Column::PaymentId,
        ledger_transaction::Column::RefundId,
        ledger_transaction::Column::SettlementId,
        ledger_transaction::Column::PayoutId,
    ]));
    let key = |kind: &str, s: &Subject| (kind.to_owned(), s.payment_id, s.refund_id, s.settlement_id, s.payout_id);
    let rows = conn.query_all(&statement).await?;
    let mut ids = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let subject = Subject {
            payment_id: row.try_get("", "payment_id")?,
            refund_id: row.try_get("", "refund_id")?,
            settlement_id: row.try_get("", "settlement_id")?,
            payout_id: row.try_get("", "payout_id")?,
        };
        let kind: String = row.try_get("", "kind")?;
        ids.insert(key(&kind, &subject), row.try_get::<i64>("", "id")?);
    }
    if ids.len() != entries.len() {
        return Err(CoreError::Internal("ledger entries of one call must have distinct subjects".into()));
    }
    let mut postings = Vec::new();
    for e in &entries {
        let txn_id = ids[&key(e.kind, &e.subject)];
        for &(account, minor) in &e.postings {
            postings.push(ledger_posting::ActiveModel {
                transaction_id: Set(txn_id),
                merchant_id: Set(e.merchant_id),
                account: Set(account.as_str().to_owned()),
                currency: Set(e.currency.code().to_owned()),
                amount: Set(minor),
                ..Default::default()
            });
        }
    }
    if !postings.is_empty() {
        ledger_posting::Entity::insert_many(postings).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// A merchant's balances per currency, summed from postings.
pub(super) async fn balances<C: ConnectionTrait>(conn: &C, merchant_id: i64) -> Result<Vec<Balance>, CoreError> {
    let rows: Vec<(String, String, i64)> = ledger_posting::Entity::find()
        .select_only()
        .column(ledger_posting::Column::Account)
        .column(ledger_posting::Column::Currency)
        .expr(Func::cast_as(Func::sum(Expr::col(ledger_posting::Column::Amount)), Alias::new("BIGINT")))
        .filter(ledger_posting::Column::MerchantId.eq(merchant_id))
        .filter(ledger_posting::Column::Account.is_in([
            Account::Available.as_str(),
            Account::Reserved.as_str(),
            Account::PendingSettlement.as_str(),
        ]))
        .group_by(ledger_posting::Column::Account)
        .group_by(ledger_posting::Column::Currency)
        .into_tuple()
        .all(conn)
        .await?;
    let mut by_currency: BTreeMap<&'static str, Balance> = BTreeMap::new();
    for (account, code, sum) in rows {
        let currency = Currency::parse(&code)
            .ok_or_else(|| CoreError::Internal(format!("ledger holds unknown currency {code}")))?;
        let balance = by_currency.entry(currency.code()).or_insert(Balance {
            currency,
            available: 0,
            reserved: 0,
            pending_settlement: 0,
        });
        match account.as_str() {
            "available" => balance.available = sum,
            "reserved" => balance.reserved = sum,
            _ => balance.pending_settlement = sum,
        }
    }
    Ok(by_currency.into_values().collect())
}

/// The result of checking the ledger's invariants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    /// Ledger transactions examined.
    pub transactions: u64,
    /// Ids of ledger transactions whose postings do not sum to zero.
    pub unbalanced: Vec<i64>,
}

impl super::Core {
    /// A merchant's balances, one per currency it has ever held.
    pub(super) async fn balances(&self, merchant_id: i64) -> Result<Vec<Balance>, CoreError> {
        balances(&self.store().reader, merchant_id).await
    }
}

/// A recorded ledger transaction and its postings, as the operator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTransaction {
    /// Its number.
    pub id: i64,
    /// What moved: `capture`, `refund_requested`, ….
    pub kind: String,
    /// The refund it is about, if any.
    pub refund_id: Option<i64>,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// The currency of every posting.
    pub currency: Currency,
    /// (account, signed minor units: credit to the merchant positive), in posting order.
    pub postings: Vec<(String, i64)>,
}

impl LedgerTransaction {
    /// What its postings sum to: zero, always, in a ledger that balances.
    pub fn sum(&self) -> i64 {
        self.postings.iter().map(|(_, amount)| amount).sum()
    }
}

impl super::AdminGateway {
    /// Checks that every ledger transaction sums to zero.
    pub async fn check_ledger(&self) -> Result<LedgerCheck, CoreError> {
        let db = &self.store().reader;
        let transactions = ledger_transaction::Entity::find().count(db).await?;
        let sum = Func::cast_as(Func::sum(Expr::col(ledger_posting::Column::Amount)), Alias::new("BIGINT"));
        let unbalanced: Vec<i64> = ledger_posting::Entity::find()
            .select_only()
            .column(ledger_posting::Column::TransactionId)
            .group_by(ledger_posting::Column::TransactionId)
            .having(Expr::expr(sum).ne(0))
            .into_tuple()
            .all(db)
            .await?;
        Ok(LedgerCheck { transactions, unbalanced })
    }

    /// The ledger transactions of a payment and of its refunds, oldest first.
    pub async fn payment_ledger(&self, payment_id: i64) -> Result<Vec<LedgerTransaction>, CoreError> {
        let db = &self.store().reader;
        let transactions = ledger_transaction::Entity::find()
            .filter(ledger_transaction::Column::PaymentId.eq(payment_id))
            .order_by_asc(ledger_transaction::Column::Id)
            .all(db)
            .await?;
        let ids: Vec<i64> = transactions.iter().map(|t| t.id).collect();
        let mut postings: BTreeMap<i64, (String, Vec<(String, i64)>)> = BTreeMap::new();
        let rows = ledger_posting::Entity::find()
            .filter(ledger_posting::Column::TransactionId.is_in(ids))
            .order_by_asc(ledger_posting::Column::Id)
            .all(db)
            .await?;
        for row in rows {
            let entry = postings.entry(row.transaction_id).or_insert_with(|| (row.currency.clone(), Vec::new()));
            entry.1.push((row.account, row.amount));
        }
        transactions
            .into_iter()
            .map(|t| {
                let (currency, postings) = postings.remove(&t.id).unwrap_or_default();
                let currency = Currency::parse(&currency)
                    .ok_or_else(|| CoreError::Internal(format!("ledger transaction {} in no known currency", t.id)))?;
                Ok(LedgerTransaction {
                    id: t.id,
                    kind: t.kind,
                    refund_id: t.refund_id,
                    created_at: t.created_at,
                    currency,
                    postings,
                })
            })
            .collect()
    }
}
