//! Admin operations: merchants, credentials, the refund queue, settlements, events.

use poem::Request;
use poem::web::Data;
use poem_openapi::auth::Bearer;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, SecurityScheme, Tags};
use subtle::ConstantTimeEq;

use super::AdminState;
use super::types::*;
use crate::adapters::starpay::roles::Role;
use crate::core::{
    AccountPolicy, AdminGateway, CoreError, Credential, CredentialPatch, CredentialSeed, Currency, Dialect,
    MerchantPatch, MerchantSeed, MerchantStatus, Money, PayoutFilter, money::parse_decimal,
};
use crate::http::problem::Reply;
use crate::http::wire::Wire;

#[derive(Tags)]
enum Tag {
    /// Merchants and their status.
    Merchants,
    /// Dialect credentials.
    Credentials,
    /// The refund queue.
    Refunds,
    /// The payout queue.
    Payouts,
    /// Settlements and balances.
    Settlements,
    /// Outbox events and ledger checks.
    Operations,
    /// Webhook deliveries and their attempts.
    Webhooks,
}

/// `Authorization: Bearer <admin_token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_token")]
pub struct AdminAuth(());

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<()> {
    let expected = req.data::<AdminState>().map(|s| s.admin_token.clone()).unwrap_or_else(|| "".into());
    if !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(bearer.token.as_bytes())) {
        Ok(())
    } else {
        Err(poem::Error::from_status(poem::http::StatusCode::UNAUTHORIZED))
    }
}

/// The admin API.
pub struct AdminApi;

type R<T> = Reply<T>;

#[OpenApi]
impl AdminApi {
    /// List merchants.
    #[oai(operation_id = "listMerchants", path = "/merchants", method = "get", tag = "Tag::Merchants")]
    async fn list_merchants(&self, state: Data<&AdminState>, _auth: AdminAuth) -> R<Vec<MerchantBody>> {
        R::ok(state.gateway.merchants().await.map(|ms| ms.into_iter().map(Into::into).collect()))
    }

    /// Create a merchant.
    #[oai(operation_id = "createMerchant", path = "/merchants", method = "post", tag = "Tag::Merchants")]
    async fn create_merchant(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        body: Json<Wire<CreateMerchant>>,
    ) -> R<MerchantBody> {
        let result = async {
            let req = body.0.into_result()?;
            let seed = MerchantSeed {
                name: req.name,
                status: req.status.map_or(MerchantStatus::Pending, Into::into),
                webhook_url: req.webhook_url,
                ip_allowlist: req.ip_allowlist.unwrap_or_default(),
                rate_limit_per_minute: req.rate_limit_per_minute.unwrap_or(120),
                default_currency: req.default_currency.map_or("BDT", |c| c.0.code()).to_owned(),
                credentials: Vec::new(),
            };
            Ok(state.gateway.create_merchant(seed).await?.into())
        };
        R::created(result.await)
    }

    /// Show a merchant.
    #[oai(operation_id = "getMerchant", path = "/merchants/:id", method = "get", tag = "Tag::Merchants")]
    async fn merchant(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<MerchantBody> {
        R::ok(state.gateway.merchant(id.0).await.map(Into::into))
    }

    /// Change a merchant's webhook URL, IP allow-list, rate limit or default currency.
    #[oai(operation_id = "updateMerchant", path = "/merchants/:id", method = "patch", tag = "Tag::Merchants")]
    async fn update_merchant(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        id: Path<i64>,
        body: Json<Wire<UpdateMerchant>>,
    ) -> R<MerchantBody> {
        let result = async {
            let req = body.0.into_result()?;
            let patch = MerchantPatch {
                webhook_url: req.webhook_url.map(|u| Some(u).filter(|u| !u.is_empty())),
                ip_allowlist: req.ip_allowlist,
                rate_limit_per_minute: req.rate_limit_per_minute,
                default_currency: req.default_currency.map(|c| c.0.code().to_owned()),
                status: None,
            };
            Ok(state.gateway.update_merchant(id.0, patch).await?.into())
        };
        R::ok(result.await)
    }

    /// Approve a merchant: it may transact.
    #[oai(operation_id = "approveMerchant", path = "/merchants/:id/approve", method = "post", tag = "Tag::Merchants")]
    async fn approve(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<MerchantBody> {
        let patch = MerchantPatch { status: Some(MerchantStatus::Approved), ..Default::default() };
        R::ok(state.gateway.update_merchant(id.0, patch).await.map(Into::into))
    }

    /// Suspend a merchant: its requests answer `merchant_not_approved` at once.
    #[oai(operation_id = "suspendMerchant", path = "/merchants/:id/suspend", method = "post", tag = "Tag::Merchants")]
    async fn suspend(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<MerchantBody> {
        let patch = MerchantPatch { status: Some(MerchantStatus::Suspended), ..Default::default() };
        R::ok(state.gateway.update_merchant(id.0, patch).await.map(Into::into))
    }

    /// List a merchant's credentials.
    #[oai(
        operation_id = "listCredentials",
        path = "/merchants/:id/credentials",
        method = "get",
        tag = "Tag::Credentials"
    )]
    async fn credentials(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<Vec<CredentialBody>> {
        let result = async { shown(&state.gateway, state.gateway.credentials(id.0).await?).await };
        R::ok(result.await)
    }

    /// Issue a dialect credential with generated key material.
    #[oai(
        operation_id = "issueCredential",
        path = "/merchants/:id/credentials",
        method = "post",
        tag = "Tag::Credentials"
    )]
    async fn issue_credential(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        id: Path<i64>,
        body: Json<Wire<IssueCredential>>,
    ) -> R<CredentialBody> {
        let result = async {
            let req = body.0.into_result()?;
            let dialect = req.dialect;
            let mut given = req.extra.unwrap_or_default().0;
            let policy = take_settings(&mut given)?.flatten();
            let (key_id, secret, settings) = crate::adapters::new_credential(dialect, given)?;
            let role = match (dialect, req.role) {
                (Dialect::Starpay, Some(role)) if Role::parse(&role).is_some() => Some(role),
                (Dialect::Starpay, _) => {
                    return Err(CoreError::invalid("role", format!("must be {}", Role::listed())));
                }
                (_, _) => None,
            };
            let seed = CredentialSeed {
                settings,
                key_id,
                secret: secret.into(),
                role,
                label: req.label,
                require_signature: req.require_signature.unwrap_or(false),
                policy,
            };
            shown_one(&state.gateway, state.gateway.issue_credential(id.0, seed).await?).await
        };
        R::created(result.await)
    }

    /// Rotate a credential's secret (and, for single-token dialects, its key). The old
    /// material stops working at once.
    #[oai(
        operation_id = "rotateCredential",
        path = "/credentials/:id/rotate",
        method = "post",
        tag = "Tag::Credentials"
    )]
    async fn rotate(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<CredentialBody> {
        let result = async { shown_one(&state.gateway, super::rotate_credential(&state.gateway, id.0).await?).await };
        R::ok(result.await)
    }

    /// Change a credential: require (or stop requiring) signed requests; change a
    /// StarPay user's role; set dialect settings (QR Money's fees and limits).
    #[oai(operation_id = "updateCredential", path = "/credentials/:id", method = "patch", tag = "Tag::Credentials")]
    async fn update_credential(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        id: Path<i64>,
        body: Json<Wire<UpdateCredential>>,
    ) -> R<CredentialBody> {
        let result = async {
            let req = body.0.into_result()?;
            if let Some(role) = &req.role
                && Role::parse(role).is_none()
            {
                return Err(CoreError::invalid("role", format!("must be {}", Role::listed())));
            }
            let mut given: Option<serde_json::Map<_, _>> = req.extra.map(|extra| extra.into_iter().collect());
            let policy = match &mut given {
                Some(given) => take_settings(given)?,
                None => None,
            };
            // Given settings replace the credential's own key by key (in the core).
            let settings = given.filter(|g| !g.is_empty());
            let change = CredentialPatch {
                require_signature: req.require_signature,
                role: req.role,
                settings,
                policy,
                ..Default::default()
            };
            shown_one(&state.gateway, state.gateway.update_credential(id.0, change).await?).await
        };
        R::ok(result.await)
    }

    /// Suspend a credential (a StarPay user): its key stops working at once, and a
    /// user's suspension is notified as `user.suspended`.
    #[oai(
        operation_id = "suspendCredential",
        path = "/credentials/:id/suspend",
        method = "post",
        tag = "Tag::Credentials"
    )]
    async fn suspend_credential(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<CredentialBody> {
        let change = CredentialPatch { suspended: Some(true), ..Default::default() };
        let result = async { shown_one(&state.gateway, state.gateway.update_credential(id.0, change).await?).await };
        R::ok(result.await)
    }

    /// Reinstate a suspended credential.
    #[oai(
        operation_id = "reinstateCredential",
        path = "/credentials/:id/reinstate",
        method = "post",
        tag = "Tag::Credentials"
    )]
    async fn reinstate_credential(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        id: Path<i64>,
    ) -> R<CredentialBody> {
        let change = CredentialPatch { suspended: Some(false), ..Default::default() };
        let result = async { shown_one(&state.gateway, state.gateway.update_credential(id.0, change).await?).await };
        R::ok(result.await)
    }

    /// List refunds, newest first (default: the pending queue).
    #[oai(operation_id = "listRefunds", path = "/refunds", method = "get", tag = "Tag::Refunds")]
    async fn refunds(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        /// Status filter (default `pending`).
        status: Query<Option<RefundState>>,
        /// Only this merchant's.
        merchant_id: Query<Option<i64>>,
    ) -> R<Vec<RefundBody>> {
        let status = status.0.unwrap_or(RefundState::Pending).into();
        let refunds = state.gateway.refunds(Some(status), merchant_id.0, 500).await;
        R::ok(refunds.map(|rs| rs.into_iter().map(Into::into).collect()))
    }

    /// Approve a pending refund: the money leaves and `refund.succeeded` is emitted.
    #[oai(operation_id = "approveRefund", path = "/refunds/:id/approve", method = "post", tag = "Tag::Refunds")]
    async fn approve_refund(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        /// The refund: its number, or its id as a dialect answered it (`rf_12`, `RF_12`).
        #[oai(validator(max_length = 32, pattern = r"^\s*([rR][fF]_)?0*[1-9][0-9]{0,17}\s*$"))]
        id: Path<String>,
        body: Json<Wire<Decision>>,
    ) -> R<RefundBody> {
        let id = match refund_id(&id) {
            Ok(id) => id,
            Err(err) => return R::ok(Err(err)),
        };
        R::ok(decided(body, |note| state.gateway.approve_refund(id, note)).await)
    }

    /// Reject a pending refund: the reservation returns to the available balance.
    #[oai(operation_id = "rejectRefund", path = "/refunds/:id/reject", method = "post", tag = "Tag::Refunds")]
    async fn reject_refund(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        /// The refund: its number, or its id as a dialect answered it (`rf_12`, `RF_12`).
        #[oai(validator(max_length = 32, pattern = r"^\s*([rR][fF]_)?0*[1-9][0-9]{0,17}\s*$"))]
        id: Path<String>,
        body: Json<Wire<Decision>>,
    ) -> R<RefundBody> {
        let id = match refund_id(&id) {
            Ok(id) => id,
            Err(err) => return R::ok(Err(err)),
        };
        R::ok(decided(body, |note| state.gateway.reject_refund(id, note)).await)
    }

    /// List payouts, newest first (default: the pending queue).
    #[oai(operation_id = "listPayouts", path = "/payouts", method = "get", tag = "Tag::Payouts")]
    async fn payouts(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        /// Status filter (default `pending`).
        status: Query<Option<PayoutState>>,
        /// Only this merchant's.
        merchant_id: Query<Option<i64>>,
    ) -> R<Vec<PayoutBody>> {
        let status = status.0.unwrap_or(PayoutState::Pending).into();
        let filter = PayoutFilter { statuses: vec![status], limit: 500, ..Default::default() };
        let payouts = state.gateway.payouts(merchant_id.0, &filter).await;
        R::ok(payouts.map(|(ps, _)| ps.into_iter().map(Into::into).collect()))
    }

    /// Mark a pending payout paid: the reserved money leaves and `payout.processed` is
    /// emitted.
    #[oai(operation_id = "approvePayout", path = "/payouts/:id/approve", method = "post", tag = "Tag::Payouts")]
    async fn approve_payout(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        id: Path<i64>,
        body: Json<Wire<Decision>>,
    ) -> R<PayoutBody> {
        R::ok(decided(body, |note| state.gateway.approve_payout(id.0, note)).await)
    }

    /// Reject a pending payout: the reservation returns to the available balance and
    /// `payout.rejected` is emitted.
    #[oai(operation_id = "rejectPayout", path = "/payouts/:id/reject", method = "post", tag = "Tag::Payouts")]
    async fn reject_payout(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        id: Path<i64>,
        body: Json<Wire<Decision>>,
    ) -> R<PayoutBody> {
        R::ok(decided(body, |note| state.gateway.reject_payout(id.0, note)).await)
    }

    /// A merchant's balances per currency.
    #[oai(operation_id = "merchantBalance", path = "/merchants/:id/balance", method = "get", tag = "Tag::Settlements")]
    async fn balance(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<Vec<BalanceBody>> {
        let result = async {
            state.gateway.merchant(id.0).await?;
            Ok(state.gateway.balances(id.0).await?.iter().map(Into::into).collect())
        };
        R::ok(result.await)
    }

    /// Settle a merchant: move its available balance (or `amount`) out and emit
    /// `settlement.paid`.
    #[oai(
        operation_id = "createSettlement",
        path = "/merchants/:id/settlements",
        method = "post",
        tag = "Tag::Settlements"
    )]
    async fn create_settlement(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        id: Path<i64>,
        body: Json<Wire<CreateSettlement>>,
    ) -> R<SettlementBody> {
        let result = async {
            let req = body.0.into_result()?;
            let merchant = state.gateway.merchant(id.0).await?;
            let currency = match req.currency {
                Some(code) => code.0,
                None => Currency::parse(&merchant.default_currency)
                    .ok_or_else(|| CoreError::invalid("currency", "is not a supported currency code"))?,
            };
            let amount = req
                .amount
                .map(|text| {
                    parse_decimal(&text)
                        .and_then(|d| Money::from_major(d, currency))
                        .map_err(|e| CoreError::invalid("amount", e.to_string()))
                })
                .transpose()?;
            let settlement =
                state.gateway.create_settlement(id.0, currency, amount, req.pay_now.unwrap_or(true)).await?;
            Ok(settlement.into())
        };
        R::created(result.await)
    }

    /// A merchant's settlements, newest first.
    #[oai(
        operation_id = "listSettlements",
        path = "/merchants/:id/settlements",
        method = "get",
        tag = "Tag::Settlements"
    )]
    async fn settlements(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<Vec<SettlementBody>> {
        let result = async {
            state.gateway.merchant(id.0).await?;
            Ok(state.gateway.settlements(id.0, 500).await?.into_iter().map(Into::into).collect())
        };
        R::ok(result.await)
    }

    /// Mark a processing settlement paid.
    #[oai(operation_id = "paySettlement", path = "/settlements/:id/pay", method = "post", tag = "Tag::Settlements")]
    async fn pay_settlement(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<SettlementBody> {
        R::ok(state.gateway.pay_settlement(id.0).await.map(Into::into))
    }

    /// Outbox events, oldest first, after an id.
    #[oai(operation_id = "listEvents", path = "/events", method = "get", tag = "Tag::Operations")]
    async fn events(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        /// Only this merchant's.
        merchant_id: Query<Option<i64>>,
        /// Only events with a larger id.
        after: Query<Option<i64>>,
        /// At most this many: 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
    ) -> R<Vec<EventBody>> {
        let limit = limit.0.unwrap_or(100).clamp(1, 1000);
        let events = state.gateway.events(merchant_id.0, after.0.unwrap_or(0), limit).await;
        R::ok(events.map(|es| es.into_iter().map(Into::into).collect()))
    }

    /// Webhook deliveries, newest first.
    #[oai(operation_id = "listDeliveries", path = "/webhooks/deliveries", method = "get", tag = "Tag::Webhooks")]
    #[expect(clippy::too_many_arguments, reason = "one parameter per documented query filter")]
    async fn deliveries(
        &self,
        state: Data<&AdminState>,
        _auth: AdminAuth,
        /// Only this merchant's.
        merchant_id: Query<Option<i64>>,
        /// Only this dialect event name (`payment.success`).
        #[oai(validator(max_length = 64))]
        event: Query<Option<String>>,
        /// Only in this state.
        status: Query<Option<DeliveryState>>,
        /// Only this subject (`payment:12`).
        #[oai(validator(max_length = 64))]
        subject: Query<Option<String>>,
        /// At most this many: 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
    ) -> R<Vec<DeliveryBody>> {
        let filter = crate::core::DeliveryFilter {
            merchant_id: merchant_id.0,
            event_type: event.0,
            status: status.0.map(Into::into),
            subject_key: subject.0,
            failing: false,
            limit: limit.0.unwrap_or(100).clamp(1, 1000),
        };
        R::ok(state.gateway.deliveries(&filter).await.map(|ds| ds.into_iter().map(Into::into).collect()))
    }

    /// A delivery and every attempt at it.
    #[oai(operation_id = "getDelivery", path = "/webhooks/deliveries/:id", method = "get", tag = "Tag::Webhooks")]
    async fn delivery(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<DeliveryDetail> {
        R::ok(state.gateway.delivery(id.0).await.map(|(d, attempts)| DeliveryDetail {
            delivery: d.into(),
            attempts: attempts.into_iter().map(Into::into).collect(),
        }))
    }

    /// Send a delivery again: a new delivery of the same event, body and signing, due now.
    #[oai(
        operation_id = "replayDelivery",
        path = "/webhooks/deliveries/:id/replay",
        method = "post",
        tag = "Tag::Webhooks"
    )]
    async fn replay(&self, state: Data<&AdminState>, _auth: AdminAuth, id: Path<i64>) -> R<DeliveryBody> {
        R::created(state.gateway.replay_delivery(id.0).await.map(Into::into))
    }

    /// Check that every ledger transaction sums to zero.
    #[oai(operation_id = "ledgerCheck", path = "/ledger/check", method = "get", tag = "Tag::Operations")]
    async fn ledger_check(&self, state: Data<&AdminState>, _auth: AdminAuth) -> R<LedgerCheckBody> {
        let check = state.gateway.check_ledger().await;
        R::ok(check.map(|c| LedgerCheckBody { transactions: c.transactions, unbalanced: c.unbalanced }))
    }
}

/// A refund's number from an admin path: `12`, or the id a dialect answered — QA copy
/// them from REBORNPAY's `rf_12` and ShadhinPay's `RF_12`.
fn refund_id(text: &str) -> Result<i64, CoreError> {
    let text = text.trim();
    let digits = match text.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("rf_") => &text[3..],
        _ => text,
    };
    digits
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| CoreError::invalid("id", "must be a refund id: 12, rf_12 or RF_12"))
}

/// Runs an admin decision (approve or reject) with the note of its body.
async fn decided<T, U: Into<T>, F: Future<Output = Result<U, CoreError>>>(
    body: Json<Wire<Decision>>,
    decide: impl FnOnce(Option<String>) -> F,
) -> Result<T, CoreError> {
    let note = body.0.into_result()?.note;
    Ok(decide(note).await?.into())
}

/// Credentials as the admin API shows them: each account's policy as its
/// `extra.settings`, where the API takes it.
async fn shown(gateway: &AdminGateway, credentials: Vec<Credential>) -> Result<Vec<CredentialBody>, CoreError> {
    let ids: Vec<i64> = credentials.iter().map(|c| c.id).collect();
    let mut policies = gateway.account_policies(&ids).await?;
    Ok(credentials
        .into_iter()
        .map(|credential| {
            let policy = policies.remove(&credential.id);
            let mut body = CredentialBody::from(credential);
            if let (Some(policy), Some(extra)) = (policy, body.extra.as_object_mut()) {
                extra.insert("settings".into(), serde_json::to_value(policy).unwrap_or_default());
            }
            body
        })
        .collect())
}

/// One credential as [`shown`].
async fn shown_one(gateway: &AdminGateway, credential: Credential) -> Result<CredentialBody, CoreError> {
    let mut bodies = shown(gateway, vec![credential]).await?;
    bodies.pop().ok_or_else(|| CoreError::Internal("credential vanished".into()))
}

/// Takes the account's policy out of a credential's `extra`, where this API spells it
/// `settings`: `None` when not given, `Some(None)` for `null` (no policy),
/// `Some(Some(policy))` checked.
fn take_settings(
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<Option<Option<AccountPolicy>>, CoreError> {
    match extra.remove("settings") {
        None => Ok(None),
        Some(serde_json::Value::Null) => Ok(Some(None)),
        Some(value) => Ok(Some(Some(AccountPolicy::parse(&value, "extra.settings")?))),
    }
}
