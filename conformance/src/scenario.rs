//! Suites and scenarios as data: `suites/<dialect>/_suite.yaml` (defaults for every
//! request) and one YAML file per scenario, an ordered list of steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;

/// A dialect's suite.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The dialect name (`rebornpay`).
    pub dialect: String,
    /// Defaults from `_suite.yaml`.
    pub settings: SuiteSettings,
    /// Scenarios, in file-name order.
    pub scenarios: Vec<Scenario>,
}

/// `_suite.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSettings {
    /// What the suite covers.
    #[serde(default)]
    pub description: String,
    /// Headers sent with every request whose step does not say `auth: false`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// One scenario: steps run in order; the first failing step ends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique within the suite.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Tags for `--filter` / `--skip` (`sandbox`: needs paybridge's sandbox API;
    /// `admin`: needs its admin API).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Variables fixed for the whole run, rendered once at the start (e.g.
    /// `ts: "{{now}}"` to send one timestamp twice).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The steps.
    pub steps: Vec<Step>,
    /// The file it came from.
    #[serde(skip)]
    pub file: PathBuf,
}

/// One step: exactly one action, then what to expect and what to capture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Shown in reports.
    #[serde(default)]
    pub name: String,
    /// An HTTP request to the dialect under test.
    pub request: Option<Request>,
    /// Completes a checkout through paybridge's sandbox control API.
    pub sandbox: Option<SandboxStep>,
    /// A request to paybridge's admin API.
    pub admin: Option<Request>,
    /// Waits for a webhook at the runner's receiver.
    pub webhook: Option<WebhookStep>,
    /// What the response must be.
    #[serde(default)]
    pub expect: Expect,
    /// Values to keep for later steps: `name: "$.json.path"` or
    /// `name: { path, regex }` (the regex's first group).
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
    /// Set when the behaviour is not available yet: the step is reported as pending
    /// (with this reason) instead of run, and so is its scenario.
    pub pending: Option<String>,
    /// Sends the `request` again and again until it answers `until_status` (a rate
    /// limit's 429): `expect` and `capture` apply to that answer; every one before it
    /// must be a 2xx, and there must be from `at_least` to `at_most` of them.
    pub repeat: Option<Repeat>,
}

/// A `request` sent until a status: how a suite shows a limit (`120` answers, then
/// `429`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// The status that ends the run.
    pub until_status: u16,
    /// Fewest answers before it.
    pub at_least: u32,
    /// Most answers before it (a limit that refills while the run goes on lets a few
    /// more through).
    pub at_most: u32,
}

/// An HTTP request. Paths, header values and string leaves of bodies may use
/// `{{variables}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// GET, POST, …
    pub method: String,
    /// Appended to the base URL.
    pub path: String,
    /// Extra headers (over the suite's).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `false` to send none of the suite's default headers.
    #[serde(default = "yes")]
    pub auth: bool,
    /// A JSON body.
    pub json: Option<Value>,
    /// A form body (`application/x-www-form-urlencoded`).
    pub form: Option<BTreeMap<String, String>>,
    /// A raw body, sent as is (with the headers given).
    pub body: Option<String>,
    /// Sign the request the dialect's way.
    pub sign: Option<Signing>,
}

fn yes() -> bool {
    true
}

/// How to sign a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Signing {
    /// `sign: true`: sign now with the credentials' secret.
    Now(bool),
    /// `sign: { timestamp, secret, signature }`: override parts (stale timestamps, wrong
    /// secrets, a given signature).
    With {
        /// Unix seconds to sign with.
        timestamp: Option<String>,
        /// Secret to sign with.
        secret: Option<String>,
        /// Send this signature instead of computing one.
        signature: Option<String>,
    },
}

/// `sandbox: { checkout_url, outcome, card?, wallet? }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxStep {
    /// A checkout URL returned earlier; its last segment is the token.
    pub checkout_url: String,
    /// success, failed, cancelled or expired.
    pub outcome: String,
    /// A test card.
    pub card: Option<Value>,
    /// A test wallet.
    pub wallet: Option<Value>,
}

/// `webhook: { event, within, respond, match }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookStep {
    /// The event name in the body (`event` field); absent for dialects whose
    /// notifications name no event (QR Money's forms): then `match` alone picks the
    /// delivery.
    #[serde(default)]
    pub event: Option<String>,
    /// Seconds to wait.
    #[serde(default = "ten")]
    pub within: u64,
    /// The status the receiver answers this event with.
    #[serde(default = "ok")]
    pub respond: u16,
    /// The delivery must also satisfy these (to pick this scenario's delivery).
    #[serde(default, rename = "match")]
    pub matches: Vec<Assertion>,
    /// Require a signature that verifies under the dialect's scheme.
    #[serde(default = "yes")]
    pub signed: bool,
    /// Credentials to verify with instead of the file's `[credentials]` (e.g. a
    /// merchant the scenario created): `{ api_secret: "{{secret}}" }`.
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
}

fn ten() -> u64 {
    10
}

fn ok() -> u16 {
    200
}

/// What a response must be.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The HTTP status.
    pub status: Option<u16>,
    /// Header checks, by header name (case-insensitive).
    #[serde(default)]
    pub headers: BTreeMap<String, Check>,
    /// Checks on the JSON body.
    #[serde(default)]
    pub body: Vec<Assertion>,
}

/// A check on a value at a JSON path (`$.data.invoice_id`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// RFC 9535 JSONPath.
    pub path: String,
    /// The check.
    #[serde(flatten)]
    pub check: Check,
}

/// Checks on one value; several may be combined.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Equal to this JSON (string leaves may use variables).
    pub equals: Option<Value>,
    /// A string matching this regex (numbers are matched as their text).
    pub matches: Option<String>,
    /// A string starting with this text (variables allowed): a link on the base URL
    /// under test is `starts_with: "{{base_url}}/l/"`.
    pub starts_with: Option<String>,
    /// `true`: present; `false`: absent.
    pub exists: Option<bool>,
    /// `true`: absent.
    pub absent: Option<bool>,
    /// string, number, integer, boolean, object, array or null.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// An array or string of this length.
    pub length: Option<usize>,
}

/// What to capture from a response.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Capture {
    /// The value at a JSON path.
    Path(String),
    /// The first group of `regex` applied to the value at `path`.
    Regex {
        /// JSONPath.
        path: String,
        /// Regex with one group.
        regex: String,
    },
}

impl Step {
    /// What the step does, for reports.
    pub fn label(&self, index: usize) -> String {
        if self.name.is_empty() {
            format!("step {}", index + 1)
        } else {
            format!("step {} \"{}\"", index + 1, self.name)
        }
    }
}

impl Suite {
    /// Loads `dir/<dialect>/`.
    pub fn load(dir: &Path, dialect: &str) -> anyhow::Result<Suite> {
        let folder = dir.join(dialect);
        if !folder.is_dir() {
            bail!("no suite for dialect {dialect:?} in {}", dir.display());
        }
        let settings_file = folder.join("_suite.yaml");
        let settings = if settings_file.exists() {
            let text = std::fs::read_to_string(&settings_file)?;
            serde_yaml::from_str(&text).with_context(|| format!("in {}", settings_file.display()))?
        } else {
            SuiteSettings::default()
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('_')))
            .collect();
        files.sort();
        let mut scenarios = Vec::with_capacity(files.len());
        for file in files {
            let text = std::fs::read_to_string(&file)?;
            let mut scenario: Scenario =
                serde_yaml::from_str(&text).with_context(|| format!("in {}", file.display()))?;
            for (i, step) in scenario.steps.iter().enumerate() {
                let actions =
                    [step.request.is_some(), step.sandbox.is_some(), step.admin.is_some(), step.webhook.is_some()];
                if actions.iter().filter(|a| **a).count() != 1 {
                    bail!(
                        "{}: {} needs exactly one of request, sandbox, admin, webhook",
                        file.display(),
                        step.label(i)
                    );
                }
            }
            scenario.file = file;
            scenarios.push(scenario);
        }
        let mut names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            bail!("two scenarios are named {:?}", w[0]);
        }
        Ok(Suite { dialect: dialect.to_owned(), settings, scenarios })
    }

    /// The dialects that have suites in `dir`.
    pub fn dialects(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Scenario {
    /// Whether `--filter`/`--skip` select it: any filter matches its name or a tag, and
    /// no skip matches a tag.
    pub fn selected(&self, filters: &[String], skips: &[String]) -> bool {
        let hit = |f: &String| self.name.contains(f.as_str()) || self.tags.iter().any(|t| t == f);
        (filters.is_empty() || filters.iter().any(hit)) && !skips.iter().any(|s| self.tags.contains(s))
    }
}
