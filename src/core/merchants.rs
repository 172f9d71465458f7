//! Merchants and their dialect credentials: the admin API's operations and the
//! fixtures a configuration file declares.
//!
//! Every change here clears this instance's authentication cache, so a suspended
//! merchant or a rotated key stops working at once.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::access::parse_allowlist_entry;
use super::outbox::{self, NewEvent, UserSnapshot};
use super::store::{self, entities::credential, entities::merchant};
use super::{
    AccountPolicy, CoreError, Credential, Currency, Dialect, Entity, EventType, FieldIssue, Merchant, MerchantStatus,
};

/// A merchant to create, with the credentials it starts with.
#[derive(Debug, Clone)]
pub struct MerchantSeed {
    /// Unique name.
    pub name: String,
    /// Initial status.
    pub status: MerchantStatus,
    /// Where webhooks go.
    pub webhook_url: Option<String>,
    /// Allowed client IPs or CIDR ranges; empty = any.
    pub ip_allowlist: Vec<String>,
    /// Requests per minute; 0 = unlimited.
    pub rate_limit_per_minute: u32,
    /// Currency for dialects that do not name one.
    pub default_currency: String,
    /// Credentials to create with it.
    pub credentials: Vec<CredentialSeed>,
}

/// A credential with its key material given.
#[derive(Debug, Clone)]
pub struct CredentialSeed {
    /// The dialect it authenticates and that dialect's settings.
    pub settings: super::DialectSettings,
    /// Public part.
    pub key_id: String,
    /// Secret part.
    pub secret: super::Secret,
    /// StarPay role.
    pub role: Option<String>,
    /// Label (StarPay user name).
    pub label: Option<String>,
    /// Whether requests must be signed.
    pub require_signature: bool,
    /// The account's fees and limits.
    pub policy: Option<AccountPolicy>,
}

impl CredentialSeed {
    /// The dialect it authenticates.
    pub fn dialect(&self) -> Dialect {
        self.settings.dialect()
    }
}

/// A change to a merchant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MerchantPatch {
    /// New status.
    pub status: Option<MerchantStatus>,
    /// New webhook URL (`Some(None)` clears it).
    pub webhook_url: Option<Option<String>>,
    /// New allow-list.
    pub ip_allowlist: Option<Vec<String>>,
    /// New rate limit.
    pub rate_limit_per_minute: Option<u32>,
    /// New default currency.
    pub default_currency: Option<String>,
}

/// A change to a credential; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CredentialPatch {
    /// Whether requests must be signed.
    pub require_signature: Option<bool>,
    /// New key material (rotation): public part.
    pub key_id: Option<String>,
    /// New key material (rotation): secret part.
    pub secret: Option<super::Secret>,
    /// New role (StarPay users).
    pub role: Option<String>,
    /// Suspend (`true`: the key stops working at once, `user.suspended` for users) or
    /// reinstate (`false`).
    pub suspended: Option<bool>,
    /// Dialect settings to set, as sent (an admin's `extra`): each key replaces the
    /// credential's own, the rest are kept, and the result is checked by
    /// [`DialectSettings::parse`](super::DialectSettings::parse) — inside the update's
    /// transaction, so two patches of different keys both land.
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// A new policy (`Some(None)` removes it).
    pub policy: Option<Option<AccountPolicy>>,
}

impl super::AdminGateway {
    /// Creates a merchant and its credentials.
    pub async fn create_merchant(&self, seed: MerchantSeed) -> Result<Merchant, CoreError> {
        validate_seed(&seed)?;
        let txn = self.begin_write().await?;
        if merchant::Entity::find().filter(merchant::Column::Name.eq(&seed.name)).one(&txn).await?.is_some() {
            return Err(CoreError::invalid("name", "a merchant with this name already exists"));
        }
        let created = insert_merchant(&txn, &seed, self.now()).await?;
        for cred in &seed.credentials {
            insert_credential(&txn, created.id, cred, self.now()).await?;
        }
        self.commit_access_change(txn).await?;
        Ok(created)
    }

    /// Creates the merchants and credentials that do not exist yet; what exists is
    /// left exactly as it is, so loading the same fixtures again changes nothing.
    pub async fn apply_seeds(&self, seeds: &[MerchantSeed]) -> Result<(), CoreError> {
        let txn = self.begin_write().await?;
        for seed in seeds {
            validate_seed(seed)?;
            let existing = merchant::Entity::find().filter(merchant::Column::Name.eq(&seed.name)).one(&txn).await?;
            let merchant_id = match existing {
                Some(row) => row.id,
                None => insert_merchant(&txn, seed, self.now()).await?.id,
            };
            for cred in &seed.credentials {
                let exists = credential::Entity::find()
                    .filter(credential::Column::Dialect.eq(cred.dialect().as_str()))
                    .filter(credential::Column::KeyId.eq(&cred.key_id))
                    .one(&txn)
                    .await?
                    .is_some();
                if !exists {
                    insert_credential(&txn, merchant_id, cred, self.now()).await?;
                }
            }
        }
        self.commit_access_change(txn).await?;
        Ok(())
    }

    /// Every merchant, oldest first.
    pub async fn merchants(&self) -> Result<Vec<Merchant>, CoreError> {
        let rows = merchant::Entity::find().order_by_asc(merchant::Column::Id).all(&self.store().reader).await?;
        rows.into_iter().map(store::merchant).collect()
    }
}

impl super::Core {
    /// One merchant.
    pub(super) async fn merchant(&self, id: i64) -> Result<Merchant, CoreError> {
        let row = merchant::Entity::find_by_id(id)
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Merchant))?;
        store::merchant(row)
    }
}

impl super::AdminGateway {
    /// Changes a merchant.
    pub async fn update_merchant(&self, id: i64, patch: MerchantPatch) -> Result<Merchant, CoreError> {
        let mut issues = Vec::new();
        if let Some(Some(url)) = &patch.webhook_url {
            check_url("webhook_url", url, &mut issues);
        }
        if let Some(list) = &patch.ip_allowlist {
            check_allowlist(list, &mut issues);
        }
        if let Some(code) = &patch.default_currency {
            check_currency(code, &mut issues);
        }
        if !issues.is_empty() {
            return Err(CoreError::Validation(issues));
        }
        let mut change = merchant::ActiveModel { id: Set(id), updated_at: Set(self.now()), ..Default::default() };
        if let Some(status) = patch.status {
            change.status = Set(status.as_str().to_owned());
        }
        if let Some(url) = patch.webhook_url {
            change.webhook_url = Set(url);
        }
        if let Some(list) = patch.ip_allowlist {
            change.ip_allowlist = Set(serde_json::json!(list));
        }
        if let Some(limit) = patch.rate_limit_per_minute {
            change.rate_limit_per_minute = Set(i32::try_from(limit).unwrap_or(i32::MAX));
        }
        if let Some(code) = patch.default_currency {
            change.default_currency = Set(code.to_ascii_uppercase());
        }
        let txn = self.begin_write().await?;
        let updated =
            merchant::Entity::update_many().set(change).filter(merchant::Column::Id.eq(id)).exec(&txn).await?;
        if updated.rows_affected != 1 {
            return Err(CoreError::NotFound(Entity::Merchant));
        }
        self.commit_access_change(txn).await?;
        self.merchant(id).await
    }

    /// A merchant's credentials.
    pub async fn credentials(&self, merchant_id: i64) -> Result<Vec<Credential>, CoreError> {
        self.merchant(merchant_id).await?;
        let rows = credential::Entity::find()
            .filter(credential::Column::MerchantId.eq(merchant_id))
            .order_by_asc(credential::Column::Id)
            .all(&self.store().reader)
            .await?;
        rows.into_iter().map(store::credential).collect()
    }
}

impl super::Core {
    /// One credential.
    pub(super) async fn credential(&self, id: i64) -> Result<Credential, CoreError> {
        let row = credential::Entity::find_by_id(id)
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Credential))?;
        store::credential(row)
    }
}

impl super::ProcessorGateway {
    /// A merchant's first active credential for `dialect` (what return codes and
    /// redirects of that dialect are computed with).
    pub async fn dialect_credential(
        &self,
        merchant_id: i64,
        dialect: Dialect,
    ) -> Result<Option<Credential>, CoreError> {
        let row = credential::Entity::find()
            .filter(credential::Column::MerchantId.eq(merchant_id))
            .filter(credential::Column::Dialect.eq(dialect.as_str()))
            .filter(credential::Column::Status.eq("active"))
            .order_by_asc(credential::Column::Id)
            .one(&self.store().reader)
            .await?;
        row.map(store::credential).transpose()
    }
}

impl super::AdminGateway {
    /// Issues a credential to a merchant. A credential with a role is a user (StarPay):
    /// its creation emits `user.created`.
    pub async fn issue_credential(&self, merchant_id: i64, seed: CredentialSeed) -> Result<Credential, CoreError> {
        let txn = self.begin_write().await?;
        merchant::Entity::find_by_id(merchant_id).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Merchant))?;
        let created = insert_credential(&txn, merchant_id, &seed, self.now()).await?;
        if created.role.is_some() {
            outbox::emit_one(
                &txn,
                NewEvent::user(EventType::UserCreated, &UserSnapshot::from(&created), created.dialect),
                self.now(),
            )
            .await?;
        }
        self.commit_access_change(txn).await?;
        if created.role.is_some() {
            self.notify_events();
        }
        Ok(created)
    }

    /// Changes a credential; new key material replaces the old at once.
    pub async fn update_credential(&self, id: i64, change: CredentialPatch) -> Result<Credential, CoreError> {
        let txn = self.begin_write().await?;
        // Locked: the settings merge below reads what it changes.
        let row = self.for_update(credential::Entity::find_by_id(id)).one(&txn).await?;
        let row = row.ok_or(CoreError::NotFound(Entity::Credential))?;
        if let Some(key_id) = &change.key_id {
            ensure_key_free(&txn, &row.dialect, key_id).await?;
        }
        let mut update = credential::ActiveModel { id: Set(id), updated_at: Set(self.now()), ..Default::default() };
        if let Some(flag) = change.require_signature {
            update.require_signature = Set(flag);
        }
        if let Some(key_id) = change.key_id {
            update.key_id = Set(key_id);
        }
        if let Some(secret) = change.secret {
            update.secret = Set(secret.expose().to_owned());
        }
        if let Some(role) = change.role {
            if row.role.is_none() {
                return Err(CoreError::invalid("role", "only a user (a credential with a role) has a role"));
            }
            update.role = Set(Some(role));
        }
        if let Some(given) = change.settings {
            let current = store::credential(row.clone())?;
            let mut merged = current.settings.to_json();
            merged.extend(given);
            let settings = super::DialectSettings::parse(current.dialect, &merged)?;
            update.extra = Set(serde_json::Value::Object(settings.to_json()));
        }
        if let Some(policy) = &change.policy {
            super::policy::save(&txn, id, policy.as_ref(), self.now()).await?;
        }
        let newly_suspended = change.suspended == Some(true) && row.status == "active";
        if let Some(suspended) = change.suspended {
            update.status = Set(if suspended { "suspended" } else { "active" }.to_owned());
        }
        credential::Entity::update_many().set(update).filter(credential::Column::Id.eq(id)).exec(&txn).await?;
        let row = credential::Entity::find_by_id(id).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Credential))?;
        let updated = store::credential(row)?;
        let user_suspended = newly_suspended && updated.role.is_some();
        if user_suspended {
            outbox::emit_one(
                &txn,
                NewEvent::user(EventType::UserSuspended, &UserSnapshot::from(&updated), updated.dialect),
                self.now(),
            )
            .await?;
        }
        self.commit_access_change(txn).await?;
        if user_suspended {
            self.notify_events();
        }
        Ok(updated)
    }
}

async fn insert_merchant<C: ConnectionTrait>(
    conn: &C,
    seed: &MerchantSeed,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Merchant, CoreError> {
    let row = merchant::ActiveModel {
        name: Set(seed.name.clone()),
        status: Set(seed.status.as_str().to_owned()),
        webhook_url: Set(seed.webhook_url.clone()),
        ip_allowlist: Set(serde_json::json!(seed.ip_allowlist)),
        rate_limit_per_minute: Set(i32::try_from(seed.rate_limit_per_minute).unwrap_or(i32::MAX)),
        default_currency: Set(seed.default_currency.to_ascii_uppercase()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    store::merchant(merchant::Entity::insert(row).exec_with_returning(conn).await?)
}

async fn insert_credential<C: ConnectionTrait>(
    conn: &C,
    merchant_id: i64,
    seed: &CredentialSeed,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Credential, CoreError> {
    if seed.key_id.trim().is_empty() || seed.secret.is_empty() {
        return Err(CoreError::invalid("key_id", "credential key and secret must not be empty"));
    }
    seed.settings.check()?;
    ensure_key_free(conn, seed.dialect().as_str(), &seed.key_id).await?;
    let row = credential::ActiveModel {
        merchant_id: Set(merchant_id),
        dialect: Set(seed.dialect().as_str().to_owned()),
        key_id: Set(seed.key_id.clone()),
        secret: Set(seed.secret.expose().to_owned()),
        role: Set(seed.role.clone()),
        label: Set(seed.label.clone()),
        extra: Set(serde_json::Value::Object(seed.settings.to_json())),
        require_signature: Set(seed.require_signature),
        status: Set("active".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let created = store::credential(credential::Entity::insert(row).exec_with_returning(conn).await?)?;
    if let Some(policy) = &seed.policy {
        super::policy::save(conn, created.id, Some(policy), now).await?;
    }
    Ok(created)
}

async fn ensure_key_free<C: ConnectionTrait>(conn: &C, dialect: &str, key_id: &str) -> Result<(), CoreError> {
    let taken = credential::Entity::find()
        .filter(credential::Column::Dialect.eq(dialect))
        .filter(credential::Column::KeyId.eq(key_id))
        .one(conn)
        .await?
        .is_some();
    if taken {
        return Err(CoreError::invalid("key_id", format!("{dialect} key {key_id:?} is already in use")));
    }
    Ok(())
}

fn validate_seed(seed: &MerchantSeed) -> Result<(), CoreError> {
    let mut issues = Vec::new();
    if seed.name.trim().is_empty() {
        issues.push(FieldIssue::new("name", "must not be empty"));
    }
    if let Some(url) = &seed.webhook_url {
        check_url("webhook_url", url, &mut issues);
    }
    check_allowlist(&seed.ip_allowlist, &mut issues);
    check_currency(&seed.default_currency, &mut issues);
    if issues.is_empty() { Ok(()) } else { Err(CoreError::Validation(issues)) }
}

/// The longest URL any field takes.
pub const MAX_URL_LEN: usize = 2048;

/// Whether `url` is an absolute http(s) URL with a host, of at most [`MAX_URL_LEN`]
/// characters and without whitespace or control characters ([`check_url`]'s rule).
pub fn valid_url(url: &str) -> bool {
    url.chars().count() <= MAX_URL_LEN
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
        && url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Checks that `url` is an absolute http(s) URL with a host, of at most
/// [`MAX_URL_LEN`] characters and without whitespace or control characters — the rule of
/// every URL field of every API. (The URL parser would drop a CR or LF silently, but
/// the text as sent is what is stored and sent back in `Location`.)
pub fn check_url(field: &str, url: &str, issues: &mut Vec<FieldIssue>) {
    if !valid_url(url) {
        issues.push(FieldIssue::new(
            field,
            format!("must be an absolute http(s) URL of at most {MAX_URL_LEN} characters, without spaces or control characters"),
        ));
    }
}

fn check_allowlist(list: &[String], issues: &mut Vec<FieldIssue>) {
    for (i, entry) in list.iter().enumerate() {
        if parse_allowlist_entry(entry).is_none() {
            issues.push(FieldIssue::new(format!("ip_allowlist[{i}]"), "must be an IP address or CIDR range"));
        }
    }
}

fn check_currency(code: &str, issues: &mut Vec<FieldIssue>) {
    if Currency::parse(code).is_none() {
        issues.push(FieldIssue::new("default_currency", "must be a supported currency code"));
    }
}
