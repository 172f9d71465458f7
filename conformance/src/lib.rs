//! paybridge-conformance: black-box conformance suites for payment-provider HTTP
//! dialects. It knows nothing of paybridge's code, only HTTP: point it at paybridge or at
//! the provider itself.
//!
//! # Layout
//!
//! - `suites/<dialect>/` — the suites, as data: `_suite.yaml` (default headers) and one
//!   YAML scenario per file ([`scenario`] describes the format).
//! - [`scenario`] — the scenario format and loading.
//! - [`template`] — `{{variables}}`.
//! - [`credentials`] — the credentials file.
//! - [`runner`] — runs scenarios: requests, sandbox completions, admin calls, webhooks.
//! - [`assert`] — JSONPath checks.
//! - [`signing`] — each dialect's request and webhook signatures, from DIALECTS.md.
//! - [`receiver`] — the webhook receiver.
//! - [`report`] — terminal summary and JUnit XML (`junit.xsd`).
//! - `src/main.rs` — the `paybridge-conformance` command.

pub mod assert;
pub mod credentials;
pub mod receiver;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod signing;
pub mod template;

use std::path::PathBuf;

pub use credentials::Credentials;
pub use receiver::Receiver;
pub use report::Report;
pub use runner::{Options, Resolve, run};
pub use scenario::Suite;

/// Where the suites shipped with this crate are.
pub fn default_suites_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("suites")
}
