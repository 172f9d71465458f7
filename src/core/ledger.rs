//! The double-entry ledger. Every movement of money is one ledger transaction whose
//! postings sum to zero; merchant balances are sums of postings, never counters.
//!
//! Accounts per merchant and currency (credit to the merchant is positive):
//!
//! | movement            | postings                                        |
//! |---------------------|-------------------------------------------------|
//! | capture             | processor_clearing −A, available +A             |
//! | refund requested    | available −A, reserved +A                       |
//! | refund rejected     | reserved −A, available +A                       |
//! | refund paid         | reserved −A, refunds_paid +A                    |
//! | settlement created  | available −A, pending_settlement +A             |
//! | settlement paid     | pending_settlement −A, settlements_paid +A      |
//! | payout requested    | available −A, reserved +A                       |
//! | payout rejected     | reserved −A, available +A                       |
//! | payout processed    | reserved −A, payouts_paid +A                    |

use std::collections::BTreeMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use super::store::entities::{ledger_posting, ledger_transaction};
use super::{Balance, CoreError, Currency, Gateway, Money};

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

/// Records one movement of `amount` from account `from` to account `to`.
pub(super) async fn transfer<C: ConnectionTrait>(
    conn: &C,
    merchant_id: i64,
    kind: &'static str,
    subject: Subject,
    amount: Money,
    from: Account,
    to: Account,
) -> Result<(), CoreError> {
    let txn = ledger_transaction::ActiveModel {
        merchant_id: Set(merchant_id),
        kind: Set(kind.to_owned()),
        payment_id: Set(subject.payment_id),
        refund_id: Set(subject.refund_id),
        settlement_id: Set(subject.settlement_id),
        payout_id: Set(subject.payout_id),
        created_at: Set(super::now()),
        ..Default::default()
    };
    let txn_id = ledger_transaction::Entity::insert(txn).exec(conn).await?.last_insert_id;
    let currency = amount.currency().code().to_owned();
    let rows = [(from, -amount.minor()), (to, amount.minor())].map(|(account, minor)| ledger_posting::ActiveModel {
        transaction_id: Set(txn_id),
        merchant_id: Set(merchant_id),
        account: Set(account.as_str().to_owned()),
        currency: Set(currency.clone()),
        amount: Set(minor),
        ..Default::default()
    });
    ledger_posting::Entity::insert_many(rows).exec(conn).await?;
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

impl Gateway {
    /// A merchant's balances, one per currency it has ever held.
    pub async fn balances(&self, merchant_id: i64) -> Result<Vec<Balance>, CoreError> {
        balances(&self.store().reader, merchant_id).await
    }

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
}
