//! Request signatures already used. A dialect that signs requests records each valid
//! signature here until its timestamp leaves the replay window; the same signature
//! again is refused, on every instance sharing the database (a unique index decides).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TryInsertResult};

use super::store::entities::used_signature;
use super::{CoreError, Principal};

impl super::Gateway {
    /// Records `signature` (hex, any case) of the principal's credential as used until
    /// `expires_at`. [`CoreError::InvalidSignature`] if it was used before.
    pub async fn consume_signature(
        &self,
        principal: &Principal,
        signature: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let row = used_signature::ActiveModel {
            credential_id: Set(principal.credential().id),
            signature: Set(signature.trim().to_ascii_lowercase()),
            expires_at: Set(expires_at),
            ..Default::default()
        };
        let inserted = used_signature::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([used_signature::Column::CredentialId, used_signature::Column::Signature])
                    .do_nothing()
                    .to_owned(),
            )
            .try_insert()
            .exec_without_returning(&self.store().writer)
            .await?;
        match inserted {
            TryInsertResult::Inserted(n) if n > 0 => Ok(()),
            _ => Err(CoreError::InvalidSignature("this signature was already used; sign each request anew")),
        }
    }
}

impl super::AdminGateway {
    /// Forgets signatures whose window has passed; returns how many.
    pub async fn purge_used_signatures(&self) -> Result<u64, CoreError> {
        let deleted = used_signature::Entity::delete_many()
            .filter(used_signature::Column::ExpiresAt.lt(super::clock::system_now()))
            .exec(&self.store().writer)
            .await?;
        Ok(deleted.rows_affected)
    }
}
