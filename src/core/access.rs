//! Who is calling and whether they may: credentials → [`Caller`] (authenticated), and
//! the merchant's status, IP allow-list and rate limit → [`Principal`] (admitted, the
//! only key to the core's merchant-facing methods).
//!
//! Authenticated credentials are cached for `auth_cache_ttl` so the request hot path
//! reads nothing from the database. An admin change of merchants or credentials clears
//! the cache of the instance that made it at once, and on Postgres every other
//! instance's as the change commits (`NOTIFY`/`LISTEN`, [`Core::commit_access_change`]);
//! should that announcement be missed, within the TTL.
//!
//! Rate-limit buckets are counted in this instance's memory, or in Redis when several
//! instances share them ([`super::shared_limits`]), with memory as the fallback.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use subtle::ConstantTimeEq;

use super::shared_limits::{Counted, RateLimitStore, SharedLimits};
use super::store::{self, entities::credential, entities::merchant};
use super::{CoreError, Credential, Dialect, Merchant, MerchantStatus};

/// An authenticated caller, not yet admitted: a credential and the merchant it belongs
/// to, as [`Gateway::authenticate`] found them. Only admission ([`Gateway::admit`],
/// [`Gateway::admit_class`]) turns one into a [`Principal`].
#[derive(Clone, Debug)]
pub struct Caller {
    inner: Arc<PrincipalData>,
}

/// An admitted caller: authenticated, its merchant approved, its address on the
/// merchant's allow-list, its request counted in its rate-limit bucket. Every
/// merchant-facing [`Gateway`] method takes one, and only admission makes one, so no
/// dialect can reach the core past those checks. It reads as the [`Caller`] it was.
///
/// ```
/// # use paybridge::core::{Caller, CoreError, Gateway, NewPayment};
/// # async fn create(gateway: &Gateway, caller: &Caller, cmd: NewPayment) -> Result<(), CoreError> {
/// let principal = gateway.admit(caller, None).await?;
/// gateway.create_payment(&principal, cmd).await?;
/// # Ok(()) }
/// ```
///
/// A caller that was not admitted does not compile:
///
/// ```compile_fail
/// # use paybridge::core::{Caller, CoreError, Gateway, NewPayment};
/// # async fn create(gateway: &Gateway, caller: &Caller, cmd: NewPayment) -> Result<(), CoreError> {
/// gateway.create_payment(caller, cmd).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Principal {
    caller: Caller,
}

impl std::ops::Deref for Principal {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

#[derive(Debug)]
struct PrincipalData {
    merchant: Merchant,
    credential: Credential,
    allowlist: Vec<IpNet>,
}

impl Caller {
    /// The merchant's id.
    pub fn merchant_id(&self) -> i64 {
        self.inner.merchant.id
    }

    /// The merchant.
    pub fn merchant(&self) -> &Merchant {
        &self.inner.merchant
    }

    /// The credential used.
    pub fn credential(&self) -> &Credential {
        &self.inner.credential
    }

    /// The dialect the credential belongs to.
    pub fn dialect(&self) -> Dialect {
        self.inner.credential.dialect
    }
}

/// A rate-limit bucket. A dialect that publishes limits per endpoint class (ShadhinPay:
/// 100/min for creation, 300/min for status) or per user (StarPay: per role, per hour)
/// admits each request in its bucket. Buckets are counted per merchant, or per
/// credential for per-user limits. The merchant's own `rate_limit_per_minute` is the
/// merchant-wide bucket ([`RateClass::MERCHANT`]); a dialect's published per-minute
/// classes keep their own limits, and 0 turns every per-minute bucket off; per-user
/// hourly tiers always apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateClass {
    /// The bucket's name, unique within the dialects that share a merchant.
    pub name: &'static str,
    /// The published limit per window, before the merchant's cap.
    pub limit: u32,
    /// The window.
    pub window: RateWindow,
    /// Whose requests share the bucket.
    pub owner: RateOwner,
}

/// Whose requests a rate-limit bucket counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateOwner {
    /// The merchant's, through any of its credentials.
    Merchant,
    /// One credential's (a StarPay user's).
    Credential,
    /// One client IP's, for requests no credential admitted (an unknown key).
    ClientIp,
}

/// The window a rate limit counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateWindow {
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
}

impl RateClass {
    /// The merchant-wide bucket at the merchant's own limit.
    pub const MERCHANT: RateClass = RateClass::per_minute("merchant", u32::MAX);

    /// A merchant-wide bucket of `limit` requests per minute.
    pub const fn per_minute(name: &'static str, limit: u32) -> RateClass {
        RateClass { name, limit, window: RateWindow::Minute, owner: RateOwner::Merchant }
    }

    /// A per-credential bucket of `limit` requests per hour.
    pub const fn per_user_hour(name: &'static str, limit: u32) -> RateClass {
        RateClass { name, limit, window: RateWindow::Hour, owner: RateOwner::Credential }
    }

    /// A per-client-IP bucket of `limit` requests per hour, for callers no credential
    /// admitted.
    pub const fn per_ip_hour(name: &'static str, limit: u32) -> RateClass {
        RateClass { name, limit, window: RateWindow::Hour, owner: RateOwner::ClientIp }
    }
}

/// The outcome of a rate-limit check that let the request through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    /// Requests allowed per window, or `None` when unlimited.
    pub limit: Option<u32>,
    /// Requests left in the current window.
    pub remaining: u32,
}

/// A rate limiter counting on the core's clock (a test clock's advance refills it).
type Limiter =
    RateLimiter<governor::state::NotKeyed, governor::state::InMemoryState, super::Clock, StateInformationMiddleware>;

type LimiterKey = (Owner, &'static str);

/// The owner of one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Owner {
    /// A merchant's or a credential's id (their classes have distinct names).
    Id(i64),
    /// A client IP (unknown when the peer address is not known).
    Ip(Option<IpAddr>),
}

impl std::fmt::Display for Owner {
    /// As a shared bucket's key names it: `12`, `192.0.2.7`, `2001:db8::`, `unknown`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Id(id) => write!(f, "{id}"),
            Owner::Ip(Some(ip)) => write!(f, "{ip}"),
            Owner::Ip(None) => f.write_str("unknown"),
        }
    }
}

/// A bucket: its limit, its limiter and when it was last used.
struct Bucket {
    limit: u32,
    limiter: Arc<Limiter>,
    used: Instant,
}

/// Most buckets kept: past it, the half of the per-IP ones (which any client can
/// create) used longest ago are forgotten — never a merchant's or a user's.
const MAX_LIMITERS: usize = 100_000;

/// The owner of a client address's bucket: an IPv6 client by its /64 (one subscriber's
/// network), which it could otherwise spread over countless addresses.
fn ip_owner(ip: Option<IpAddr>) -> Owner {
    match ip {
        Some(IpAddr::V6(v6)) => {
            let net = u128::from(v6) & !((1u128 << 64) - 1);
            Owner::Ip(Some(IpAddr::V6(std::net::Ipv6Addr::from(net))))
        }
        other => Owner::Ip(other),
    }
}

pub(super) struct AccessControl {
    ttl: Duration,
    cache: RwLock<HashMap<(Dialect, String), (Instant, Caller)>>,
    /// By merchant and rate class: the limit each was built for, and the limiter.
    limiters: Mutex<HashMap<LimiterKey, Bucket>>,
    /// Bumped by every admin change of merchants and credentials.
    generation: std::sync::atomic::AtomicU64,
    /// What the rate limiters count on.
    clock: super::Clock,
    /// The buckets every instance shares, when configured; `limiters` are then the
    /// fallback while it does not answer.
    shared: Option<SharedLimits>,
}

impl AccessControl {
    pub(super) fn new(ttl: Duration, clock: super::Clock, store: &RateLimitStore) -> Result<AccessControl, CoreError> {
        let shared = match store {
            RateLimitStore::Memory => None,
            RateLimitStore::Redis { url, prefix, timeout } => Some(SharedLimits::new(url, prefix, *timeout)?),
        };
        Ok(AccessControl {
            ttl,
            cache: RwLock::default(),
            limiters: Mutex::default(),
            generation: Default::default(),
            clock,
            shared,
        })
    }

    fn cached(&self, dialect: Dialect, key_id: &str) -> Option<Caller> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let (at, principal) = cache.get(&(dialect, key_id.to_owned()))?;
        (at.elapsed() < self.ttl).then(|| principal.clone())
    }

    fn remember(&self, principal: Caller) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 100_000 {
            cache.clear();
        }
        let key = (principal.dialect(), principal.credential().key_id.clone());
        cache.insert(key, (Instant::now(), principal));
    }

    /// Forgets every cached credential (after an admin change).
    pub(super) fn invalidate(&self) {
        self.cache.write().unwrap_or_else(|e| e.into_inner()).clear();
        self.generation.fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    fn limiter(&self, owner: Owner, class: RateClass, limit: NonZeroU32) -> Arc<Limiter> {
        let mut limiters = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(bucket) = limiters.get_mut(&(owner, class.name))
            && bucket.limit == limit.get()
        {
            bucket.used = now;
            return bucket.limiter.clone();
        }
        if limiters.len() >= MAX_LIMITERS {
            let mut by_ip: Vec<(Instant, LimiterKey)> =
                limiters.iter().filter(|(k, _)| matches!(k.0, Owner::Ip(_))).map(|(k, b)| (b.used, *k)).collect();
            by_ip.sort_unstable_by_key(|(used, _)| *used);
            for (_, key) in by_ip.iter().take(by_ip.len().div_ceil(2)) {
                limiters.remove(key);
            }
        }
        let quota = match class.window {
            RateWindow::Minute => Quota::per_minute(limit),
            RateWindow::Hour => Quota::per_hour(limit),
        };
        let limiter = Arc::new(
            RateLimiter::direct_with_clock(quota, self.clock.clone()).with_middleware::<StateInformationMiddleware>(),
        );
        limiters.insert((owner, class.name), Bucket { limit: limit.get(), limiter: limiter.clone(), used: now });
        limiter
    }
}

impl super::DeliveryGateway {
    /// A number that changes whenever this instance changes a merchant or credential:
    /// caches of credentials outside the core compare it to know they are stale.
    pub fn credentials_generation(&self) -> u64 {
        self.inner.access.generation.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl super::Core {
    /// Commits an admin change of merchants or credentials: announced to every instance
    /// on the database, which forget their cached credentials as it commits, and
    /// forgotten here at once.
    pub(super) async fn commit_access_change(&self, txn: sea_orm::DatabaseTransaction) -> Result<(), CoreError> {
        self.store().announce_access_change(&txn).await?;
        txn.commit().await?;
        self.inner.access.invalidate();
        Ok(())
    }

    /// Requests counted in this instance's memory because the shared rate-limit store
    /// did not answer, since start (0 without one).
    pub fn rate_limit_fallbacks(&self) -> u64 {
        self.inner.access.shared.as_ref().map_or(0, SharedLimits::fallbacks)
    }
}

impl super::Gateway {
    /// Finds the active credential `key_id` of `dialect` and, when `secret` is given,
    /// checks it in constant time. An empty key is [`CoreError::MissingCredentials`];
    /// an unknown key or a wrong secret is [`CoreError::InvalidCredentials`].
    pub async fn authenticate(
        &self,
        dialect: Dialect,
        key_id: &str,
        secret: Option<&str>,
    ) -> Result<Caller, CoreError> {
        if key_id.is_empty() {
            return Err(CoreError::MissingCredentials);
        }
        let principal = match self.inner.access.cached(dialect, key_id) {
            Some(p) => p,
            None => {
                let p = self.load_principal(dialect, key_id).await?.ok_or(CoreError::InvalidCredentials)?;
                self.inner.access.remember(p.clone());
                p
            }
        };
        if let Some(secret) = secret {
            let expected = principal.credential().secret.expose().as_bytes();
            if !bool::from(expected.ct_eq(secret.as_bytes())) {
                return Err(CoreError::InvalidCredentials);
            }
        }
        Ok(principal)
    }
}

impl super::Core {
    async fn load_principal(&self, dialect: Dialect, key_id: &str) -> Result<Option<Caller>, CoreError> {
        let db = &self.store().reader;
        let Some(cred) = credential::Entity::find()
            .filter(credential::Column::Dialect.eq(dialect.as_str()))
            .filter(credential::Column::KeyId.eq(key_id))
            .filter(credential::Column::Status.eq("active"))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let Some(merchant) = merchant::Entity::find_by_id(cred.merchant_id).one(db).await? else {
            return Ok(None);
        };
        let merchant = store::merchant(merchant)?;
        let allowlist = merchant.ip_allowlist.iter().filter_map(|s| parse_allowlist_entry(s)).collect();
        Ok(Some(Caller {
            inner: Arc::new(PrincipalData { merchant, credential: store::credential(cred)?, allowlist }),
        }))
    }
}

impl super::Gateway {
    /// Lets an authenticated request through, or says why not: the merchant must be
    /// approved, the client IP on its allow-list (when it has one) and the merchant
    /// under its rate limit.
    pub async fn admit(&self, caller: &Caller, client_ip: Option<IpAddr>) -> Result<Principal, CoreError> {
        self.admit_class(caller, client_ip, RateClass::MERCHANT).await.map(|(principal, _)| principal)
    }

    /// [`Gateway::admit`], counting the request in `class`'s bucket.
    pub async fn admit_class(
        &self,
        caller: &Caller,
        client_ip: Option<IpAddr>,
        class: RateClass,
    ) -> Result<(Principal, RateDecision), CoreError> {
        if caller.merchant().status != MerchantStatus::Approved {
            return Err(CoreError::MerchantNotApproved);
        }
        let allowlist = &caller.inner.allowlist;
        if !allowlist.is_empty() {
            let allowed = client_ip.is_some_and(|ip| allowlist.iter().any(|net| net.contains(&ip)));
            if !allowed {
                return Err(CoreError::IpNotAllowed);
            }
        }
        let decision = self.count_request(Some(caller), client_ip, class).await?;
        Ok((Principal { caller: caller.clone() }, decision))
    }

    /// Counts a request in `class`'s bucket and nothing else (not the merchant's
    /// standing): what [`Gateway::admit_class`] does last, and what a dialect that
    /// shows every caller its budget (StarPay's `X-RateLimit-*`) does for a request it
    /// refuses before — `principal` `None` for a caller no credential admitted, counted
    /// by client IP in a [`RateOwner::ClientIp`] class.
    pub async fn count_request(
        &self,
        principal: Option<&Caller>,
        client_ip: Option<IpAddr>,
        class: RateClass,
    ) -> Result<RateDecision, CoreError> {
        let Some(published) = NonZeroU32::new(class.limit) else {
            return Err(CoreError::RateLimited { retry_after_secs: 60 });
        };
        let owner = match (class.owner, principal) {
            (RateOwner::ClientIp, _) => ip_owner(client_ip),
            (RateOwner::Credential, Some(p)) => Owner::Id(p.credential().id),
            (RateOwner::Merchant, Some(p)) => Owner::Id(p.merchant_id()),
            (_, None) => {
                return Err(CoreError::Internal(format!("{} is counted per caller, and none is known", class.name)));
            }
        };
        let cap = principal.map(|p| NonZeroU32::new(p.merchant().rate_limit_per_minute));
        let limit = match (class.window, cap) {
            // The merchant's 0: limiting off (benchmarks, QA).
            (RateWindow::Minute, Some(None)) => return Ok(RateDecision { limit: None, remaining: u32::MAX }),
            // The merchant-wide bucket is the merchant's own limit; a class the dialect
            // publishes per endpoint (ShadhinPay's 100 / 300 / 120) is its own, not cut
            // down to the merchant's (whose default, 120, is REBORNPAY's).
            (RateWindow::Minute, Some(Some(cap))) if class == RateClass::MERCHANT => cap,
            // A per-user tier the dialect publishes (StarPay) applies whatever the
            // merchant's per-minute setting, and so does a per-IP budget.
            _ => published,
        };
        let access = &self.inner.access;
        if let Some(shared) = &access.shared {
            let window = match class.window {
                RateWindow::Minute => Duration::from_secs(60),
                RateWindow::Hour => Duration::from_secs(3600),
            };
            let bucket = format!("{}:{owner}", class.name);
            match shared.count(&bucket, limit, window, access.clock.offset()).await {
                Some(Counted::Allowed { remaining }) => {
                    return Ok(RateDecision { limit: Some(limit.get()), remaining });
                }
                Some(Counted::Limited { wait }) => {
                    return Err(CoreError::RateLimited { retry_after_secs: wait.as_secs() + 1 });
                }
                // Not answered: counted in memory below.
                None => {}
            }
        }
        let limiter = access.limiter(owner, class, limit);
        match limiter.check() {
            Ok(snapshot) => {
                Ok(RateDecision { limit: Some(limit.get()), remaining: snapshot.remaining_burst_capacity() })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(&self.inner.access.clock));
                Err(CoreError::RateLimited { retry_after_secs: wait.as_secs() + 1 })
            }
        }
    }
}

/// Parses an allow-list entry: an address or a CIDR range.
pub fn parse_allowlist_entry(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry.parse::<IpNet>().ok().or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_one_budget_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_owner(Some(a)), ip_owner(Some(b)));
        assert_ne!(ip_owner(Some(a)), ip_owner(Some(c)));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(ip_owner(Some(v4)), Owner::Ip(Some(v4)));
    }

    #[test]
    fn past_the_bound_the_oldest_addresses_are_forgotten_never_a_merchant() {
        let access =
            AccessControl::new(Duration::from_secs(1), super::super::Clock::system(), &RateLimitStore::Memory).unwrap();
        let class = RateClass::per_ip_hour("test.ip", 10);
        let limit = NonZeroU32::new(10).unwrap();
        let merchant = access.limiter(Owner::Id(1), RateClass::MERCHANT, limit);
        assert!(merchant.check().is_ok());
        for i in 0..MAX_LIMITERS as u32 {
            access.limiter(Owner::Ip(Some(IpAddr::from(i.to_be_bytes()))), class, limit);
        }
        let count = || access.limiters.lock().unwrap().len();
        assert!(count() <= MAX_LIMITERS / 2 + 2, "half of the addresses forgotten: {}", count());
        // The merchant's bucket is the same one, with its request still counted.
        let again = access.limiter(Owner::Id(1), RateClass::MERCHANT, limit);
        assert!(Arc::ptr_eq(&merchant, &again));
        // The most recent addresses are kept.
        let last = Owner::Ip(Some(IpAddr::from((MAX_LIMITERS as u32 - 1).to_be_bytes())));
        assert!(access.limiters.lock().unwrap().contains_key(&(last, "test.ip")));
    }
}
