//! Integration tests: every test talks HTTP to a paybridge spawned on port 0, and runs
//! on SQLite and (when `PAYBRIDGE_TEST_POSTGRES_URL` is set) on Postgres.

mod helpers;
mod hooks;

mod admin;
mod browser;
mod charging;
mod checkout;
mod concurrency;
mod config;
mod conformance;
mod dashboard;
mod edge;
mod examples;

mod extras;
mod idempotency;
mod instances;
mod mounts;
mod openapi;
mod payrequest;
mod qrmoney;
mod rebornpay_account;
mod rebornpay_auth;
mod rebornpay_payments;
mod rebornpay_refunds;
mod sandbox;
mod server;
mod shadhinpay_payments;
mod shadhinpay_refunds;
mod starpay;
mod strict;
mod webhooks;
