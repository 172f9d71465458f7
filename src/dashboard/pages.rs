//! The dashboard's pages and forms. Each `GET` renders a page of `view.rs`; each form
//! (`POST`, read through [`Posted`]) acts once through the core and redirects with a
//! message (a rotated key's page is the exception: its new secret is shown once, on
//! the answer itself).

use std::collections::HashMap;

use askama::Template;
use chrono::{Datelike, NaiveDate, TimeDelta};
use poem::http::StatusCode;
use poem::web::{Data, Form, Html, Path, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::view::*;
use super::{DashboardState, FLASH_COOKIE, PATH, Posted, REVEAL_COOKIE, SESSION_COOKIE, SIGNIN_COOKIE, Session};
use super::{chart, cookie, cookie_text, done, from_cookie_text, safe_next, see_other, set_cookie};
use crate::core::{
    AccountPolicy, CoreError, CredentialPatch, DeliveryFilter, DeliveryStatus, Dialect, MerchantPatch, MerchantStatus,
    PaymentInstrument, PaymentSearch, PaymentStatus, PayoutFilter, PayoutStatus, RefundStatus,
};
use crate::sandbox::api::Outcome;

/// Payments per page.
const PAGE_SIZE: u64 = 25;

fn render(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => Html(body).with_status(status).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "dashboard page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A page saying something went wrong, or was refused.
pub(super) fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, MessagePage { title: title.to_owned(), message: message.to_owned() })
}

/// A page for a core error, with its status.
pub(super) fn error_page(err: &CoreError) -> Response {
    let status = StatusCode::from_u16(err.class().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = %err, "dashboard page failed");
    }
    message_page(status, "That did not work", &detail_of(err))
}

/// What a signed-in page shares, with the last form's message (taken from its cookie).
fn chrome(req: &Request, state: &DashboardState, session: &Session, title: String, nav: &'static str) -> Chrome {
    Chrome {
        title,
        nav,
        csrf: session.csrf.clone(),
        flash: cookie(req, FLASH_COOKIE).and_then(|c| Flash::decode(&c)),
        now: state.admin.now().format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// A signed-in page: the message its request carried (shown by [`chrome`]) is cleared.
fn show(req: &Request, state: &DashboardState, page: impl Template) -> Response {
    let mut resp = render(StatusCode::OK, page);
    if cookie(req, FLASH_COOKIE).is_some() {
        set_cookie(&mut resp, &state.cookie(FLASH_COOKIE, "", 0));
    }
    resp
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[handler]
pub async fn home() -> Response {
    see_other(&format!("{PATH}/payments"))
}

#[derive(Deserialize)]
pub struct SigninQuery {
    next: Option<String>,
    expired: Option<String>,
    out: Option<String>,
}

fn signin_page(state: &DashboardState, next: &str, notice: Option<String>, error: Option<String>) -> Response {
    let nonce = random_token();
    let page = SigninPage { csrf: state.mac("signin", &nonce), next: next.to_owned(), notice, error };
    let status = if page.error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let mut resp = render(status, page);
    set_cookie(&mut resp, &state.cookie(SIGNIN_COOKIE, &nonce, 1800));
    resp
}

#[handler]
pub async fn signin_form(state: Data<&DashboardState>, Query(query): Query<SigninQuery>) -> Response {
    let next = query.next.as_deref().and_then(safe_next).unwrap_or_default();
    let notice = if query.expired.is_some() {
        Some("Your session has expired. Sign in again.".to_owned())
    } else if query.out.is_some() {
        Some("You are signed out.".to_owned())
    } else {
        None
    };
    signin_page(&state, next, notice, None)
}

#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

#[handler]
pub async fn signin(req: &Request, state: Data<&DashboardState>, Form(form): Form<SigninForm>) -> Response {
    let nonce = cookie(req, SIGNIN_COOKIE).unwrap_or_default();
    let expected = state.mac("signin", &nonce);
    if nonce.is_empty() || !bool::from(form.csrf.as_bytes().ct_eq(expected.as_bytes())) {
        return message_page(
            StatusCode::FORBIDDEN,
            "This form was refused",
            "The sign-in form's security token does not match. Reload the sign-in page and try again.",
        );
    }
    let next = safe_next(&form.next).unwrap_or_default();
    let token = form.token.trim();
    let admin = state.admin_token.as_bytes();
    if admin.is_empty() || !bool::from(admin.ct_eq(token.as_bytes())) {
        return signin_page(&state, next, None, Some("That is not the admin token.".to_owned()));
    }
    let session = random_token();
    if let Err(err) = state.admin.open_session(&state.mac("session", &session), state.ttl).await {
        return error_page(&err);
    }
    let target = if next.is_empty() { format!("{PATH}/payments") } else { next.to_owned() };
    let mut resp = see_other(&target);
    set_cookie(&mut resp, &state.cookie(SESSION_COOKIE, &session, state.ttl.as_secs()));
    set_cookie(&mut resp, &state.cookie(SIGNIN_COOKIE, "", 0));
    resp
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub struct Empty {}

#[handler]
pub async fn signout(req: &Request, state: Data<&DashboardState>, _form: Posted<Empty>) -> Response {
    if let Some(token) = cookie(req, SESSION_COOKIE)
        && let Err(err) = state.admin.close_session(&state.mac("session", &token)).await
    {
        return error_page(&err);
    }
    let mut resp = see_other(&format!("{PATH}/signin?out=1"));
    set_cookie(&mut resp, &state.cookie(SESSION_COOKIE, "", 0));
    resp
}

#[derive(Deserialize, Default)]
pub struct PaymentsQuery {
    merchant: Option<String>,
    dialect: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    page: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn choices(options: impl IntoIterator<Item = (String, String)>, chosen: Option<&str>) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice { selected: chosen == Some(value.as_str()), value, label })
        .collect()
}

#[handler]
pub async fn list_payments(
    req: &Request,
    state: Data<&DashboardState>,
    session: Data<&Session>,
    Query(query): Query<PaymentsQuery>,
) -> Response {
    let mut problems = Vec::new();
    let mut search = PaymentSearch { limit: PAGE_SIZE, ..Default::default() };
    if let Some(merchant) = given(&query.merchant) {
        match merchant.parse() {
            Ok(id) => search.merchant_id = Some(id),
            Err(_) => problems.push("the merchant is not one of the list"),
        }
    }
    if let Some(dialect) = given(&query.dialect) {
        match Dialect::parse(dialect) {
            Some(d) => search.dialect = Some(d),
            None => problems.push("the dialect is not one of the list"),
        }
    }
    if let Some(status) = given(&query.status) {
        match PaymentStatus::parse(status) {
            Some(s) => search.status = Some(s),
            None => problems.push("the status is not one of the list"),
        }
    }
    // Four-digit years only: chrono reads `+262142-12-31` too, past what a day can be
    // added to, and SQLite compares times as text.
    let date = |text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|d| (1970..=9998).contains(&d.year()))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    };
    if let Some(from) = given(&query.from) {
        match date(from) {
            Some(at) => search.from = Some(at.and_utc()),
            None => problems.push("“from” is not a date (YYYY-MM-DD, 1970 to 9998)"),
        }
    }
    if let Some(to) = given(&query.to) {
        match date(to) {
            // The whole day.
            Some(at) => search.to = Some(at.and_utc() + TimeDelta::days(1)),
            None => problems.push("“to” is not a date (YYYY-MM-DD, 1970 to 9998)"),
        }
    }
    if let (Some(from), Some(to)) = (search.from, search.to)
        && from >= to
    {
        problems.push("“from” is after “to”");
    }
    search.text = given(&query.q).map(|q| q.chars().take(100).collect());
    let page = match given(&query.page).map(str::parse::<u64>) {
        None => 1,
        Some(Ok(n)) if (1..=100_000).contains(&n) => n,
        Some(_) => {
            problems.push("the page is not a page number");
            1
        }
    };
    search.offset = (page - 1) * PAGE_SIZE;
    let merchants = match state.admin.merchants().await {
        Ok(ms) => ms,
        Err(err) => return error_page(&err),
    };
    let names: HashMap<i64, String> = merchants.iter().map(|m| (m.id, m.name.clone())).collect();
    let (found, total) = if problems.is_empty() {
        match state.admin.search_payments(&search).await {
            Ok(found) => found,
            Err(err) => return error_page(&err),
        }
    } else {
        (Vec::new(), 0)
    };
    let now = state.admin.now();
    let rows: Vec<PaymentRow> =
        found.iter().map(|p| PaymentRow::new(p, names.get(&p.merchant_id).cloned().unwrap_or_default(), now)).collect();
    let link = |page: u64| {
        let mut pairs: Vec<(&str, &str)> = [
            ("merchant", &query.merchant),
            ("dialect", &query.dialect),
            ("status", &query.status),
            ("from", &query.from),
            ("to", &query.to),
            ("q", &query.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| given(v).map(|v| (k, v)))
        .collect();
        let page = page.to_string();
        pairs.push(("page", &page));
        format!("{PATH}/payments?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    };
    let first = search.offset + 1;
    let last = search.offset + rows.len() as u64;
    let chrome = chrome(req, &state, &session, "Payments".into(), "payments");
    let page_view = PaymentsPage {
        chrome,
        merchants: choices(merchants.iter().map(|m| (m.id.to_string(), m.name.clone())), given(&query.merchant)),
        dialects: choices(
            Dialect::ALL.iter().map(|d| (d.as_str().to_owned(), d.as_str().to_owned())),
            given(&query.dialect),
        ),
        statuses: choices(
            PaymentStatus::ALL.iter().map(|s| (s.as_str().to_owned(), s.as_str().replace('_', " "))),
            given(&query.status),
        ),
        from: given(&query.from).unwrap_or_default().to_owned(),
        to: given(&query.to).unwrap_or_default().to_owned(),
        q: given(&query.q).unwrap_or_default().to_owned(),
        error: (!problems.is_empty()).then(|| format!("Not searched: {}.", problems.join("; "))),
        shown: if rows.is_empty() { "No payments".to_owned() } else { format!("{first}–{last} of {total}") },
        prev: (page > 1).then(|| link(page - 1)),
        next: (last < total).then(|| link(page + 1)),
        rows,
    };
    show(req, &state, page_view)
}

#[handler]
pub async fn show_payment(
    req: &Request,
    state: Data<&DashboardState>,
    session: Data<&Session>,
    Path(id): Path<i64>,
) -> Response {
    let admin = &state.admin;
    let loaded = async {
        let payment = admin.payment(id).await?;
        let merchant = admin.merchant(payment.merchant_id).await?;
        let refunds = admin.payment_refunds(id).await?;
        let refund_ids: Vec<i64> = refunds.iter().map(|r| r.id).collect();
        let events = admin.payment_events(id, &refund_ids).await?;
        let ledger = admin.payment_ledger(id).await?;
        let filter = DeliveryFilter { subject_key: Some(format!("payment:{id}")), limit: 100, ..Default::default() };
        let deliveries = admin.deliveries(&filter).await?;
        let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
        let attempts = admin.attempts_of(&ids).await?;
        Ok::<_, CoreError>((payment, merchant, refunds, events, ledger, deliveries, attempts))
    };
    let (payment, merchant, refunds, events, ledger, deliveries, attempts) = match loaded.await {
        Ok(loaded) => loaded,
        Err(err) => return error_page(&err),
    };
    let now = admin.now();
    let open = matches!(payment.status, PaymentStatus::Created | PaymentStatus::AwaitingProcessor);
    let declines = crate::sandbox::DECLINES
        .iter()
        .map(|(code, reason)| Choice {
            value: (*code).to_owned(),
            label: format!("{code} · {}", reason.message()),
            selected: *code == "999",
        })
        .collect();
    let chrome = chrome(req, &state, &session, format!("Payment #{id}"), "payments");
    let page = PaymentPage {
        chrome,
        id,
        amount: crate::checkout::view::format_amount(&payment.amount),
        status: payment.status.as_str(),
        tone: tone(payment.status.as_str()),
        lines: payment_lines(&payment, &merchant.name),
        created: When::new(payment.created_at, now),
        expires: When::new(payment.expires_at, now),
        open,
        declines,
        timeline: events.iter().map(|e| EventRow::new(e, now)).collect(),
        ledger: ledger.iter().map(|t| LedgerView::new(t, now)).collect(),
        refunds: refunds.iter().map(|r| RefundRow::new(r, now)).collect(),
        deliveries: deliveries
            .iter()
            .map(|d| DeliveryView::new(d, attempts.get(&d.id).map(Vec::as_slice).unwrap_or_default(), now))
            .collect(),
        back: format!("{PATH}/payments/{id}"),
    };
    show(req, &state, page)
}

#[derive(Deserialize)]
pub struct SandboxForm {
    action: String,
    decline: Option<String>,
}

#[handler]
pub async fn sandbox_action(
    state: Data<&DashboardState>,
    Path(id): Path<i64>,
    Posted(form): Posted<SandboxForm>,
) -> Response {
    let back = format!("{PATH}/payments/{id}");
    let outcome = match form.action.as_str() {
        "complete" => Outcome::Success,
        "fail" => Outcome::Failed,
        "cancel" => Outcome::Cancelled,
        "expire" => Outcome::Expired,
        _ => return done(&state, &back, Flash::bad("No such sandbox action.")),
    };
    let decline = form.decline.as_deref().filter(|d| !d.is_empty() && outcome == Outcome::Failed);
    let result = async {
        let payment = state.admin.payment(id).await?;
        crate::sandbox::drive(&state.processor, &payment, outcome, PaymentInstrument::None, decline).await
    };
    let flash = match result.await {
        Ok(p) => {
            let attempt = p.last_attempt.map(|a| format!(" ({} {})", a.code, a.message)).unwrap_or_default();
            Flash::ok(format!("Payment #{id} is now {}{attempt}.", p.status))
        }
        Err(err) => Flash::bad(format!("Payment #{id}: {}", detail_of(&err))),
    };
    done(&state, &back, flash)
}

#[derive(Deserialize)]
pub struct BackForm {
    #[serde(default)]
    next: String,
}

#[handler]
pub async fn replay(state: Data<&DashboardState>, Path(id): Path<i64>, Posted(form): Posted<BackForm>) -> Response {
    let back = safe_next(&form.next).map(str::to_owned).unwrap_or_else(|| format!("{PATH}/webhooks"));
    let flash = match state.admin.replay_delivery(id).await {
        Ok(replayed) => Flash::ok(format!("Delivery #{id} is sent again as delivery #{}.", replayed.id)),
        Err(err) => Flash::bad(format!("Delivery #{id}: {}", detail_of(&err))),
    };
    done(&state, &back, flash)
}

#[handler]
pub async fn list_queues(req: &Request, state: Data<&DashboardState>, session: Data<&Session>) -> Response {
    let filter = PayoutFilter { statuses: vec![PayoutStatus::Pending], limit: 500, ..Default::default() };
    let loaded = async {
        let refunds = state.admin.refunds(Some(RefundStatus::Pending), None, 500).await?;
        let (payouts, _) = state.admin.payouts(None, &filter).await?;
        Ok::<_, CoreError>((refunds, payouts))
    };
    let (refunds, payouts) = match loaded.await {
        Ok(loaded) => loaded,
        Err(err) => return error_page(&err),
    };
    let now = state.admin.now();
    let chrome = chrome(req, &state, &session, "Queues".into(), "queues");
    let page = QueuesPage {
        chrome,
        refunds: refunds.iter().map(|r| RefundRow::new(r, now)).collect(),
        payouts: payouts.iter().map(|p| PayoutRow::new(p, now)).collect(),
    };
    show(req, &state, page)
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    note: String,
}

/// The note of a decision: a rejection must say why.
fn decision_note(decision: &str, note: &str) -> Result<(bool, Option<String>), &'static str> {
    let note = Some(note.trim()).filter(|n| !n.is_empty()).map(|n| n.chars().take(500).collect::<String>());
    match decision {
        "approve" => Ok((true, note)),
        "reject" if note.is_some() => Ok((false, note)),
        "reject" => Err("A rejection needs a reason."),
        _ => Err("No such decision."),
    }
}

/// The queue a decision is about.
#[derive(Clone, Copy)]
enum Queue {
    Refund,
    Payout,
}

/// Approves or rejects a queued refund or payout through the core (which decides each
/// once), back to the queues with what happened.
async fn decide(state: &DashboardState, queue: Queue, id: i64, decision: &str, note: &str) -> Response {
    let back = format!("{PATH}/queues");
    let what = match queue {
        Queue::Refund => "Refund",
        Queue::Payout => "Payout",
    };
    let (approve, note) = match decision_note(decision, note) {
        Ok(decided) => decided,
        Err(problem) => return done(state, &back, Flash::bad(format!("{what} #{id}: {problem}"))),
    };
    let admin = &state.admin;
    let amount = |money: &crate::core::Money| crate::checkout::view::format_amount(money);
    let result = match (queue, approve) {
        (Queue::Refund, true) => {
            admin.approve_refund(id, note).await.map(|r| (amount(&r.amount), r.status.to_string()))
        }
        (Queue::Refund, false) => {
            admin.reject_refund(id, note).await.map(|r| (amount(&r.amount), r.status.to_string()))
        }
        (Queue::Payout, true) => {
            admin.approve_payout(id, note).await.map(|p| (amount(&p.amount), p.status.to_string()))
        }
        (Queue::Payout, false) => {
            admin.reject_payout(id, note).await.map(|p| (amount(&p.amount), p.status.to_string()))
        }
    };
    let flash = match result {
        Ok((amount, status)) => Flash::ok(format!("{what} #{id} of {amount} is {status}.")),
        Err(err) => Flash::bad(format!("{what} #{id}: {}", detail_of(&err))),
    };
    done(state, &back, flash)
}

#[handler]
pub async fn decide_refund(
    state: Data<&DashboardState>,
    Path((id, decision)): Path<(i64, String)>,
    Posted(form): Posted<DecisionForm>,
) -> Response {
    decide(&state, Queue::Refund, id, &decision, &form.note).await
}

#[handler]
pub async fn decide_payout(
    state: Data<&DashboardState>,
    Path((id, decision)): Path<(i64, String)>,
    Posted(form): Posted<DecisionForm>,
) -> Response {
    decide(&state, Queue::Payout, id, &decision, &form.note).await
}

#[handler]
pub async fn list_merchants(req: &Request, state: Data<&DashboardState>, session: Data<&Session>) -> Response {
    let loaded = async {
        let mut rows = Vec::new();
        for m in state.admin.merchants().await? {
            let balances = state.admin.balances(m.id).await?;
            rows.push(MerchantRow::new(&m, &balances));
        }
        Ok::<_, CoreError>(rows)
    };
    let rows = match loaded.await {
        Ok(rows) => rows,
        Err(err) => return error_page(&err),
    };
    let chrome = chrome(req, &state, &session, "Merchants".into(), "merchants");
    show(req, &state, MerchantsPage { chrome, rows })
}

async fn render_merchant(req: &Request, state: &DashboardState, session: &Session, id: i64) -> Response {
    let admin = &state.admin;
    let loaded = async {
        let merchant = admin.merchant(id).await?;
        let balances = admin.balances(id).await?;
        let credentials = admin.credentials(id).await?;
        let ids: Vec<i64> = credentials.iter().map(|c| c.id).collect();
        let policies = admin.account_policies(&ids).await?;
        Ok::<_, CoreError>((merchant, balances, credentials, policies))
    };
    let (merchant, balances, credentials, mut policies) = match loaded.await {
        Ok(loaded) => loaded,
        Err(err) => return error_page(&err),
    };
    let revealed = revealed(req, &credentials);
    let credentials = credentials
        .iter()
        .map(|c| {
            let policy = (c.dialect == Dialect::Qrmoney).then(|| {
                policies
                    .remove(&c.id)
                    .and_then(|p| serde_json::to_string_pretty(&p).ok())
                    .unwrap_or_else(|| "null".to_owned())
            });
            CredentialRow::new(c, policy)
        })
        .collect();
    let mut lines = vec![
        ("Merchant", format!("#{}", merchant.id)),
        ("Default currency", merchant.default_currency.clone()),
        (
            "Rate limit",
            match merchant.rate_limit_per_minute {
                0 => "none".to_owned(),
                n => format!("{n} requests a minute"),
            },
        ),
        ("Since", When::new(merchant.created_at, admin.now()).utc),
    ];
    if !merchant.ip_allowlist.is_empty() {
        lines.push(("IP allow-list", merchant.ip_allowlist.join(", ")));
    }
    let chrome = chrome(req, state, session, merchant.name.clone(), "merchants");
    let page = MerchantPage {
        chrome,
        id,
        status: merchant.status.as_str(),
        tone: tone(merchant.status.as_str()),
        name: merchant.name,
        lines,
        webhook_url: merchant.webhook_url.unwrap_or_default(),
        balances: balances.iter().map(BalanceRow::from).collect(),
        credentials,
        revealed,
    };
    show(req, state, page)
}

#[handler]
pub async fn show_merchant(
    req: &Request,
    state: Data<&DashboardState>,
    session: Data<&Session>,
    Path(id): Path<i64>,
) -> Response {
    let mut resp = render_merchant(req, &state, &session, id).await;
    if cookie(req, REVEAL_COOKIE).is_some() {
        set_cookie(&mut resp, &state.cookie_at(&format!("{PATH}/merchants/{id}"), REVEAL_COOKIE, "", 0));
    }
    resp
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

#[handler]
pub async fn merchant_status(
    state: Data<&DashboardState>,
    Path(id): Path<i64>,
    Posted(form): Posted<StatusForm>,
) -> Response {
    let back = format!("{PATH}/merchants/{id}");
    let status = match form.status.as_str() {
        "approved" => MerchantStatus::Approved,
        "suspended" => MerchantStatus::Suspended,
        _ => return done(&state, &back, Flash::bad("No such merchant status.")),
    };
    let patch = MerchantPatch { status: Some(status), ..Default::default() };
    let flash = match state.admin.update_merchant(id, patch).await {
        Ok(m) => Flash::ok(format!("{} is {}.", m.name, m.status)),
        Err(err) => Flash::bad(detail_of(&err)),
    };
    done(&state, &back, flash)
}

#[derive(Deserialize)]
pub struct WebhookForm {
    #[serde(default)]
    webhook_url: String,
}

#[handler]
pub async fn merchant_webhook(
    state: Data<&DashboardState>,
    Path(id): Path<i64>,
    Posted(form): Posted<WebhookForm>,
) -> Response {
    let back = format!("{PATH}/merchants/{id}");
    let url = Some(form.webhook_url.trim().to_owned()).filter(|u| !u.is_empty());
    let patch = MerchantPatch { webhook_url: Some(url), ..Default::default() };
    let flash = match state.admin.update_merchant(id, patch).await {
        Ok(m) => match m.webhook_url {
            Some(url) => Flash::ok(format!("Webhooks of {} go to {url}.", m.name)),
            None => Flash::ok(format!("{} has no webhook URL: nothing is sent.", m.name)),
        },
        Err(err) => Flash::bad(detail_of(&err)),
    };
    done(&state, &back, flash)
}

/// Rotates a credential, then shows its merchant's page (Post/Redirect/Get: a reload
/// rotates nothing again). The new material rides to that page in a cookie for its
/// path alone, for a minute, and is shown once: the page clears it.
#[handler]
pub async fn rotate(state: Data<&DashboardState>, Path(id): Path<i64>, _form: Posted<Empty>) -> Response {
    match crate::admin::rotate_credential(&state.admin, id).await {
        Ok(c) => {
            let page = format!("{PATH}/merchants/{}", c.merchant_id);
            let reveal = [c.id.to_string(), c.key_id.clone(), c.secret.expose().to_owned()].join("\n");
            let reveal = cookie_text(&reveal);
            let flash = Flash::ok(format!("The {} key {} is rotated: its old secret is refused.", c.dialect, c.key_id));
            let mut resp = done(&state, &page, flash);
            set_cookie(&mut resp, &state.cookie_at(&page, REVEAL_COOKIE, &reveal, 60));
            resp
        }
        Err(err) => error_page(&err),
    }
}

/// The key material `rotate` left for this merchant's page, if any.
fn revealed(req: &Request, credentials: &[crate::core::Credential]) -> Option<Revealed> {
    let text = cookie(req, REVEAL_COOKIE)?;
    let text = from_cookie_text(&text)?;
    let mut parts = text.splitn(3, '\n');
    let id: i64 = parts.next()?.parse().ok()?;
    let (key_id, secret) = (parts.next()?, parts.next()?);
    let credential = credentials.iter().find(|c| c.id == id && c.key_id == key_id)?;
    // Only while it is still the credential's secret.
    bool::from(credential.secret.expose().as_bytes().ct_eq(secret.as_bytes())).then(|| Revealed {
        credential_id: id,
        dialect: credential.dialect.as_str(),
        key_id: key_id.to_owned(),
        secret: secret.to_owned(),
    })
}

#[derive(Deserialize)]
pub struct SuspensionForm {
    suspended: String,
}

#[handler]
pub async fn credential_suspension(
    state: Data<&DashboardState>,
    Path(id): Path<i64>,
    Posted(form): Posted<SuspensionForm>,
) -> Response {
    let suspended = match form.suspended.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return message_page(
                StatusCode::BAD_REQUEST,
                "This form was refused",
                "Suspend or reinstate: nothing else.",
            );
        }
    };
    let change = CredentialPatch { suspended: Some(suspended), ..Default::default() };
    match state.admin.update_credential(id, change).await {
        Ok(c) => {
            let what = if suspended { "suspended: its key is refused" } else { "reinstated" };
            done(
                &state,
                &format!("{PATH}/merchants/{}", c.merchant_id),
                Flash::ok(format!("Credential {} is {what}.", c.key_id)),
            )
        }
        Err(err) => error_page(&err),
    }
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    policy: String,
}

#[handler]
pub async fn credential_policy(
    state: Data<&DashboardState>,
    Path(id): Path<i64>,
    Posted(form): Posted<PolicyForm>,
) -> Response {
    let current = match state.admin.credential(id).await {
        Ok(c) => c,
        Err(err) => return error_page(&err),
    };
    let back = format!("{PATH}/merchants/{}", current.merchant_id);
    if current.dialect != Dialect::Qrmoney {
        return done(&state, &back, Flash::bad("Only QR Money accounts have a policy."));
    }
    let text = form.policy.trim();
    let policy = if text.is_empty() || text == "null" {
        None
    } else {
        let parsed = serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| CoreError::invalid("policy", format!("is not JSON: {e}")))
            .and_then(|value| AccountPolicy::parse(&value, "policy"));
        match parsed {
            Ok(policy) => Some(policy),
            Err(err) => return done(&state, &back, Flash::bad(format!("Policy not changed: {}", detail_of(&err)))),
        }
    };
    let change = CredentialPatch { policy: Some(policy), ..Default::default() };
    let flash = match state.admin.update_credential(id, change).await {
        Ok(c) => Flash::ok(format!("The policy of account {} is saved.", c.key_id)),
        Err(err) => Flash::bad(format!("Policy not changed: {}", detail_of(&err))),
    };
    done(&state, &back, flash)
}

/// An error with its fields' problems spelled out.
fn detail_of(err: &CoreError) -> String {
    let fields: Vec<String> = err.details().iter().map(|d| format!("{} {}", d.field, d.message)).collect();
    if fields.is_empty() { err.public_message() } else { format!("{}.", fields.join("; ")) }
}

#[derive(Deserialize, Default)]
pub struct WebhooksQuery {
    status: Option<String>,
    event: Option<String>,
}

#[handler]
pub async fn list_webhooks(
    req: &Request,
    state: Data<&DashboardState>,
    session: Data<&Session>,
    Query(query): Query<WebhooksQuery>,
) -> Response {
    let status = given(&query.status);
    let event = given(&query.event).map(|e| e.chars().take(64).collect::<String>());
    let mut filter = DeliveryFilter { event_type: event.clone(), limit: 100, ..Default::default() };
    match status {
        None => {}
        Some("failing") => filter.failing = true,
        Some(other) => match DeliveryStatus::parse(other) {
            Some(s) => filter.status = Some(s),
            None => return message_page(StatusCode::BAD_REQUEST, "No such filter", "Pick a status from the list."),
        },
    }
    let loaded = async {
        let deliveries = state.admin.deliveries(&filter).await?;
        let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
        let attempts = state.admin.attempts_of(&ids).await?;
        let activity = state.admin.delivery_activity(60).await?;
        Ok::<_, CoreError>((deliveries, attempts, activity))
    };
    let (deliveries, attempts, activity) = match loaded.await {
        Ok(loaded) => loaded,
        Err(err) => return error_page(&err),
    };
    let now = state.admin.now();
    let statuses = [
        ("pending", "pending (waiting or retrying)"),
        ("failing", "failed, retrying"),
        ("dead", "dead"),
        ("delivered", "delivered"),
        ("delivering", "in flight"),
    ];
    let back = req.original_uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let chrome = chrome(req, &state, &session, "Webhooks".into(), "webhooks");
    let page = WebhooksPage {
        chrome,
        statuses: choices(statuses.iter().map(|(v, l)| ((*v).to_owned(), (*l).to_owned())), status),
        event: event.unwrap_or_default(),
        chart: chart::svg(&activity),
        delivered: activity.iter().map(|m| m.delivered).sum(),
        failed: activity.iter().map(|m| m.failed).sum(),
        rows: deliveries
            .iter()
            .map(|d| DeliveryView::new(d, attempts.get(&d.id).map(Vec::as_slice).unwrap_or_default(), now))
            .collect(),
        back: safe_next(&back).map(str::to_owned).unwrap_or_else(|| format!("{PATH}/webhooks")),
    };
    show(req, &state, page)
}
