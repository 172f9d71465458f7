//! The dashboard's sessions. A session is a random cookie the dashboard hands out at
//! sign-in; the core keeps only a keyed hash of it (`token_hash`, computed by the
//! dashboard) and when it expires, so every instance on one database knows every
//! session, and signing out ends it everywhere. Expiry is the system's time: the test
//! clock does not sign operators out.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::CoreError;
use super::clock::system_now;
use super::store::entities::dashboard_session;

impl super::AdminGateway {
    /// Records a session for `ttl` and forgets the ones that have expired; returns when
    /// it expires.
    pub async fn open_session(&self, token_hash: &str, ttl: std::time::Duration) -> Result<DateTime<Utc>, CoreError> {
        let now = system_now();
        let expires_at = now + ChronoDuration::from_std(ttl).unwrap_or(ChronoDuration::hours(8));
        let txn = self.begin_write().await?;
        dashboard_session::Entity::delete_many()
            .filter(dashboard_session::Column::ExpiresAt.lt(now))
            .exec(&txn)
            .await?;
        let row = dashboard_session::ActiveModel {
            token_hash: Set(token_hash.to_owned()),
            created_at: Set(now),
            expires_at: Set(expires_at),
            ..Default::default()
        };
        dashboard_session::Entity::insert(row).exec_without_returning(&txn).await?;
        txn.commit().await?;
        Ok(expires_at)
    }

    /// When the session expires, if it is open.
    pub async fn session_expiry(&self, token_hash: &str) -> Result<Option<DateTime<Utc>>, CoreError> {
        let row = dashboard_session::Entity::find()
            .filter(dashboard_session::Column::TokenHash.eq(token_hash))
            .one(&self.store().reader)
            .await?;
        Ok(row.map(|r| r.expires_at).filter(|at| *at > system_now()))
    }

    /// Ends a session (signing out).
    pub async fn close_session(&self, token_hash: &str) -> Result<(), CoreError> {
        let txn = self.begin_write().await?;
        dashboard_session::Entity::delete_many()
            .filter(dashboard_session::Column::TokenHash.eq(token_hash))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}
