//! paybridge: a payment gateway that speaks the HTTP dialects of five payment
//! providers (REBORNPAY, ShadhinPay, StarPay, PayRequest V1, QR Money H2H) over one
//! canonical payment core.
//!
//! # Layout
//!
//! - [`core`] — the canonical payment core behind one door per kind of caller, all
//!   made by [`core::Core::connect`] (`scopes`): [`core::Gateway`] for the dialects
//!   (merchants' requests), [`core::AdminGateway`] for the admin API and the sweeps,
//!   [`core::ProcessorGateway`] for the checkout and the sandbox API,
//!   [`core::DeliveryGateway`] for the webhook engine; `startup` hands each its own,
//!   so a dialect cannot decide a refund or pay a checkout. Inside:
//!   `Money`, merchants and credentials (each with its dialect's typed settings,
//!   [`core::DialectSettings`]), the payment state machine, charging
//!   (`charge`: a host-to-host payment created and decided in one batched transaction;
//!   `payments`: the checkout's pay and 3-D Secure answer), the processor seam every
//!   charge goes through ([`core::processor`]: `Arc<dyn Processor>` given at build
//!   time), an account's fees and limits ([`core::policy`]), instruments and payer rules
//!   (`instrument`, `payer`), typed decline reasons (`Decline`), refunds, settlements,
//!   payouts, the double-entry ledger (fees included), the transactional outbox of typed
//!   events ([`core::Event`]: an `EventType` and a `Payload` of the matching shape),
//!   idempotency records, the `CoreError` table and the [`core::clock`] every decision
//!   by time reads (a test clock the sandbox advances, where the configuration allows).
//!   Its `store` (sea-orm entities, connections, and `store/direct.rs`: the payment
//!   creator's batches on SQLite's write connection itself, through rusqlite, the
//!   crate's one `unsafe`) is private: nothing outside `core` can reach the database.
//!   Payment creation is batched (`create`: one writer task, one transaction for every
//!   create waiting).
//! - `adapters/` (module [`adapters`]) — one module per dialect, each `mod.rs` (mount and
//!   spec), `api.rs` (operations), `types.rs` (wire types), `errors.rs` (CoreError →
//!   dialect body), `auth.rs` and `webhook.rs` (notifications, formatted and signed).
//!   They see only `core`'s public API, [`http`] and [`crypto`]. Built:
//!   `rebornpay`, `shadhinpay`, `starpay` (plus `roles.rs`: its role × endpoint
//!   table), `payrequest` (two operations, no auth middleware: the token is in the
//!   body), `qrmoney` (plus `codes.rs`: the seed's result codes, each decline mapped
//!   from a core `Decline`). `adapters/mod.rs` holds the registry, `DIALECTS` (one entry per
//!   dialect: its routes relative to its root, its spec, its demo port, its webhook
//!   formatter, its checkout return, its key maker), from which the `/<name>` mounts,
//!   the root mounts and the docs derive, and through which webhooks, checkout returns
//!   and new credentials reach the dialects.
//!   Who may call the core: a dialect's `auth.rs` turns its headers into a
//!   [`core::Caller`] (`Gateway::authenticate`), and only admission
//!   (`Gateway::admit`/`admit_class`: approval, IP allow-list, rate limit; in
//!   `core/access.rs`, with the buckets several instances share in Redis in
//!   `core/shared_limits.rs`) makes the [`core::Principal`] every merchant-facing
//!   `Gateway` method takes. A dialect's
//!   `errors.rs` implements [`http::reply::DialectErrors`] once (its error body, each
//!   `CoreError`'s status); its replies (`dialect_reply!`), middleware and body limits
//!   follow from it.
//!
//!   Adding a dialect today touches: `core::Dialect` (src/core/types.rs) and its
//!   credential settings in `core::DialectSettings` (src/core/dialect_settings.rs); a
//!   module `adapters/<name>/` as above; its entry in `adapters/mod.rs`'s `DIALECTS`
//!   (routes, spec, demo port, webhooks, checkout return, key material, how clients
//!   present a key: one entry per `Dialect`, in its order, or the crate does not
//!   compile), from which mounts, docs, config sections, webhook dispatch, checkout
//!   returns, credential issuance, the admin API's dialect names, `paybridge
//!   credentials` and with it `.ci/schemathesis`'s auth headers and the conformance
//!   tests' credentials follow; a fixture section in `config::MerchantFixture` and its
//!   `to_seed` (and in `.ci/schemathesis`'s config); a conformance suite
//!   `conformance/suites/<name>/`, its keys in `conformance/demo.toml`, and its name in
//!   `tests/api/conformance.rs`'s `suites!` (checked against the suites directory).
//!   Each formatter in `webhook.rs` matches every `EventType`.
//! - [`http`] — what every API shares: the server every listener runs, with its header
//!   cap, timeouts and connection cap (`server`); bodies read within their cap and
//!   refused when a JSON key repeats or a form is not UTF-8 (`body`); `AppState`,
//!   client IPs, the `Wire<T>` body with field-level errors, the spec's length bounds
//!   applied, and provider time formats (`wire`), the shared request fields as types
//!   whose schema is their parser's rules (`fields`: `Reference`, `Email`, `Phone`,
//!   `HttpUrl`, `CurrencyCode`, `Amount`, `PaymentMethod`), the admission
//!   frame every dialect's auth plugs into (`auth`), the dialect response macro and
//!   `201` wrapper (`reply`), the `Idempotency-Key` middleware, where a request reached
//!   its dialect and the links that follow from it (`mount`: `/<name>`, a dialect's own
//!   port or a `Host`), OpenAPI/Swagger UI helpers and the error shape of paybridge's
//!   own APIs.
//! - [`admin`] — the admin API (`/admin/v1`, Bearer token).
//! - [`dashboard`] — the operators' dashboard (`/dashboard`): sign-in with the admin
//!   token and its sessions (kept hashed by `core/sessions.rs`), CSRF on every form
//!   (`Posted`), the pages and forms (`pages.rs`: payments, queues, merchants,
//!   webhooks), what they show (`view.rs`), the deliveries chart as SVG (`chart.rs`);
//!   askama templates in `templates/dashboard/`. It reaches the core through the
//!   admin's and the processor's doors, like the admin and sandbox APIs.
//! - [`sandbox`] — the deterministic sandbox processor, the `Processor` the binary runs
//!   with (magic test cards and wallets, its response codes), and the control API
//!   (`/sandbox/v1`: drive a checkout to an outcome; `clock`, `clock/advance`).
//! - [`checkout`] — the hosted checkout page (`/checkout/{token}`) and the sandbox's
//!   3-D Secure challenge (`/checkout/{token}/challenge`): askama templates in
//!   `templates/checkout/`, the form and its QR Money validation codes, redirects.
//! - [`webhooks`] — the webhook engine: dispatch of outbox events to dialect formatters
//!   (each matches every `EventType`, so a new one makes each dialect decide),
//!   leasing, signed delivery with retries, the SSRF guard.
//! - [`config`] — figment configuration and the fixture-merchant format.
//! - [`startup`] — `Application::build` / `run_until_stopped`: the main listener's
//!   route table, each dialect's own listener, the `Host` mounts, the index page.
//! - [`metrics`], [`telemetry`], [`crypto`] — Prometheus metrics, logging, HMAC.
//! - `src/main.rs` — the CLI: `serve`, `migrate`, `openapi`, `credentials`.
//! - `migrations/` — crate `migration`, one dated file per migration.
//! - `tests/api/` — integration tests against a server spawned on port 0, on SQLite
//!   and (when `PAYBRIDGE_TEST_POSTGRES_URL` is set) Postgres; `conformance.rs` there
//!   runs every conformance suite in-process, `browser.rs` drives the checkout, the
//!   docs and the dashboard in headless Chromium, `dashboard.rs` tests the dashboard's
//!   sessions and forms over HTTP.
//! - `conformance/` — crate `paybridge-conformance`: black-box suites as YAML and their
//!   runner (it knows only HTTP, never this crate).
//! - `openapi/` — the committed specs, and in `openapi/examples/` the answers a server
//!   gave that they carry as response examples (recorded and checked by
//!   `tests/api/examples.rs`); `bench/` — the load benchmarks (payment creation beside
//!   `bench/ceiling`, the bare framework's speed for the same request; webhook delivery;
//!   `bench/cluster.py`: three instances behind HAProxy, `bench/cluster/haproxy.cfg`).
//!   `tests/api/instances.rs` holds the several-instance tests.

#[path = "../adapters/mod.rs"]
pub mod adapters;
pub mod admin;
pub mod checkout;
pub mod config;
pub mod core;
pub mod crypto;
pub mod dashboard;
pub mod http;
pub mod metrics;
pub mod sandbox;
pub mod startup;
pub mod telemetry;
pub mod webhooks;
