//! `Idempotency-Key` records: the first request with a key runs and its response is
//! stored; a retry with the same key and the same request gets the stored response; the
//! same key with a different request is refused. Records are kept 24 hours.
//!
//! A record is claimed with a lease: if the instance that claimed it dies between its
//! commit and storing the response, a retry after the lease runs the request again.
//! What that retry may not do twice is guarded where the change is made: a payment by
//! its unique reference (the retry answers the dialect's duplicate error), a refund by
//! the request key stored on it (the retry gets the same refund).

use chrono::Duration as ChronoDuration;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TryInsertResult};

use super::CoreError;
use super::store::entities::idempotency_key;

/// How long a stored response is replayed.
pub const RETENTION_HOURS: i64 = 24;
/// How long a claim on a key lasts without a stored response, in the system's time: a
/// lease is about a request still running, which the test clock does not hurry.
const LEASE_SECS: i64 = 60;

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Its Content-Type.
    pub content_type: Option<String>,
    /// Its body.
    pub body: Vec<u8>,
}

/// What to do with a request carrying an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use: run it, then store its response with [`Gateway::idempotency_finish`]
    /// under this claim.
    Proceed(Claim),
    /// Seen before with the same request: answer with this.
    Replay(StoredResponse),
}

/// Proof of holding a key: only the holder may store its response or release it, so a
/// request whose lease ran out and was taken over cannot overwrite the new holder's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim(String);

impl super::Gateway {
    /// Claims `key` for a request whose fingerprint is `request_hash`.
    pub async fn idempotency_begin(
        &self,
        merchant_id: i64,
        scope: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyBegin, CoreError> {
        let now = self.now();
        let wall = super::clock::system_now();
        let leased_until = wall + ChronoDuration::seconds(LEASE_SECS);
        let token = Claim(hex::encode(rand::random::<[u8; 12]>()));
        let claim = idempotency_key::ActiveModel {
            merchant_id: Set(merchant_id),
            scope: Set(scope.to_owned()),
            key: Set(key.to_owned()),
            request_hash: Set(request_hash.to_owned()),
            status: Set("in_progress".to_owned()),
            claim: Set(token.0.clone()),
            response_status: Set(None),
            response_content_type: Set(None),
            response_body: Set(None),
            created_at: Set(now),
            locked_until: Set(leased_until),
            ..Default::default()
        };
        let txn = self.begin_write().await?;
        let existing = idempotency_key::Entity::find()
            .filter(idempotency_key::Column::MerchantId.eq(merchant_id))
            .filter(idempotency_key::Column::Scope.eq(scope))
            .filter(idempotency_key::Column::Key.eq(key))
            .one(&txn)
            .await?;
        let result = match existing {
            Some(row) if row.created_at < now - ChronoDuration::hours(RETENTION_HOURS) => {
                idempotency_key::Entity::delete_by_id(row.id).exec(&txn).await?;
                idempotency_key::Entity::insert(claim).exec_without_returning(&txn).await?;
                Ok(IdempotencyBegin::Proceed(token))
            }
            Some(row) if row.request_hash != request_hash => Err(CoreError::IdempotencyKeyReused),
            Some(row) if row.status == "done" => Ok(IdempotencyBegin::Replay(StoredResponse {
                status: row.response_status.and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
                content_type: row.response_content_type,
                body: row.response_body.unwrap_or_default(),
            })),
            Some(row) if row.locked_until < wall => {
                let renew = idempotency_key::ActiveModel {
                    id: Set(row.id),
                    claim: Set(token.0.clone()),
                    locked_until: Set(leased_until),
                    ..Default::default()
                };
                idempotency_key::Entity::update(renew).exec(&txn).await?;
                Ok(IdempotencyBegin::Proceed(token))
            }
            Some(_) => Err(CoreError::IdempotencyInProgress),
            None => {
                let inserted = idempotency_key::Entity::insert(claim)
                    .on_conflict(
                        OnConflict::columns([
                            idempotency_key::Column::MerchantId,
                            idempotency_key::Column::Scope,
                            idempotency_key::Column::Key,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .try_insert()
                    .exec_without_returning(&txn)
                    .await?;
                match inserted {
                    TryInsertResult::Inserted(n) if n > 0 => Ok(IdempotencyBegin::Proceed(token)),
                    _ => Err(CoreError::IdempotencyInProgress),
                }
            }
        };
        txn.commit().await?;
        result
    }

    /// Stores the response of a request that claimed `key`.
    pub async fn idempotency_finish(
        &self,
        merchant_id: i64,
        scope: &str,
        key: &str,
        claim: &Claim,
        response: StoredResponse,
    ) -> Result<(), CoreError> {
        let change = idempotency_key::ActiveModel {
            status: Set("done".to_owned()),
            response_status: Set(Some(i32::from(response.status))),
            response_content_type: Set(response.content_type),
            response_body: Set(Some(response.body)),
            ..Default::default()
        };
        idempotency_key::Entity::update_many()
            .set(change)
            .filter(idempotency_key::Column::MerchantId.eq(merchant_id))
            .filter(idempotency_key::Column::Scope.eq(scope))
            .filter(idempotency_key::Column::Key.eq(key))
            .filter(idempotency_key::Column::Claim.eq(&claim.0))
            .exec(&self.store().writer)
            .await?;
        Ok(())
    }

    /// Releases a claim without a response (the request failed inside paybridge), so
    /// a retry runs it again.
    pub async fn idempotency_abandon(
        &self,
        merchant_id: i64,
        scope: &str,
        key: &str,
        claim: &Claim,
    ) -> Result<(), CoreError> {
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::MerchantId.eq(merchant_id))
            .filter(idempotency_key::Column::Scope.eq(scope))
            .filter(idempotency_key::Column::Key.eq(key))
            .filter(idempotency_key::Column::Status.eq("in_progress"))
            .filter(idempotency_key::Column::Claim.eq(&claim.0))
            .exec(&self.store().writer)
            .await?;
        Ok(())
    }
}

impl super::Core {
    /// Deletes records older than the retention period; returns how many.
    pub(super) async fn purge_idempotency(&self) -> Result<u64, CoreError> {
        let cutoff = self.now() - ChronoDuration::hours(RETENTION_HOURS);
        let deleted = idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::CreatedAt.lt(cutoff))
            .exec(&self.store().writer)
            .await?;
        Ok(deleted.rows_affected)
    }
}
