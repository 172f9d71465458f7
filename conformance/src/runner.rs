//! Runs scenarios against a base URL, step by step, and records what happened.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::assert::{check, lookup};
use crate::credentials::Credentials;
use crate::receiver::{Delivery, Receiver};
use crate::report::{Failure, Outcome, Report, ScenarioResult};
use crate::scenario::{Capture, Expect, Repeat, Request, SandboxStep, Scenario, Signing, Step, Suite, WebhookStep};
use crate::signing;
use crate::template::{Vars, as_text};

/// What to run against.
pub struct Options {
    /// The dialect's base URL, e.g. `http://127.0.0.1:8080/rebornpay`.
    pub base_url: String,
    /// The credentials file's values.
    pub credentials: Credentials,
    /// Run only scenarios whose name contains, or whose tags include, one of these.
    pub filters: Vec<String>,
    /// Skip scenarios with any of these tags.
    pub skips: Vec<String>,
    /// Host names sent to a fixed address instead of their DNS answer, as curl's
    /// `--resolve HOST:PORT:ADDR`: a base URL with a host name that paybridge serves a
    /// dialect at (`[dialects.<name>] hosts`), before DNS points there.
    pub resolve: Vec<Resolve>,
}

/// `HOST:PORT:ADDR`: connect to `ADDR` for `HOST` on `PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// The host name.
    pub host: String,
    /// Where to connect instead (the port is the URL's).
    pub addr: std::net::SocketAddr,
}

impl std::str::FromStr for Resolve {
    type Err = String;

    fn from_str(text: &str) -> Result<Resolve, String> {
        let bad = || format!("{text:?} is not HOST:PORT:ADDR (e.g. qrmoney.pay.example:8080:127.0.0.1)");
        let (host, rest) = text.split_once(':').ok_or_else(bad)?;
        let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let ip: std::net::IpAddr = addr.trim_matches(['[', ']']).parse().map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Resolve { host: host.to_ascii_lowercase(), addr: std::net::SocketAddr::new(ip, port) })
    }
}

impl std::fmt::Display for Resolve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr.ip() {
            std::net::IpAddr::V6(ip) => write!(f, "{}:{}:[{ip}]", self.host, self.addr.port()),
            std::net::IpAddr::V4(ip) => write!(f, "{}:{}:{ip}", self.host, self.addr.port()),
        }
    }
}

/// The HTTP client of a run, and the curl flags that reproduce its name resolution.
struct Http {
    client: reqwest::Client,
    curl_flags: String,
}

/// Longest a step waits out a `429` it did not expect, per attempt.
const MAX_RATE_WAIT: Duration = Duration::from_secs(65);

/// A response, or a webhook delivery, as a step sees it.
struct Seen {
    status: u16,
    headers: BTreeMap<String, String>,
    text: String,
    json: Value,
}

/// A failed step, before it is placed in its scenario's result.
struct StepError {
    reason: String,
    request: Option<String>,
    received: Option<String>,
    curl: Option<String>,
}

impl StepError {
    /// The failure of the step labelled `step`.
    fn at(self, step: String) -> Outcome {
        let StepError { reason, request, received, curl } = self;
        Outcome::Failed(Box::new(Failure { step, reason, request, received, curl }))
    }
}

impl From<String> for StepError {
    fn from(reason: String) -> Self {
        StepError { reason, request: None, received: None, curl: None }
    }
}

/// Runs the selected scenarios of `suite` in order. Webhook steps need `receiver`.
pub async fn run(suite: &Suite, options: &Options, receiver: Option<&Receiver>) -> Report {
    let mut builder =
        reqwest::Client::builder().timeout(Duration::from_secs(30)).redirect(reqwest::redirect::Policy::none());
    let mut curl_flags = String::new();
    for resolve in &options.resolve {
        builder = builder.resolve(&resolve.host, resolve.addr);
        curl_flags.push_str(&format!(" --resolve {}", shell_quote(&resolve.to_string())));
    }
    let client = builder.build().expect("an HTTP client with default TLS builds");
    let client = Http { client, curl_flags };
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let mut results = Vec::with_capacity(suite.scenarios.len());
    for scenario in &suite.scenarios {
        if !scenario.selected(&options.filters, &options.skips) {
            results.push(ScenarioResult::new(scenario, Outcome::Skipped, Duration::ZERO));
            continue;
        }
        let start = Instant::now();
        let outcome = run_scenario(suite, scenario, options, &client, receiver).await;
        results.push(ScenarioResult::new(scenario, outcome, start.elapsed()));
    }
    Report {
        dialect: suite.dialect.clone(),
        base_url: options.base_url.clone(),
        started,
        duration: clock.elapsed(),
        results,
    }
}

async fn run_scenario(
    suite: &Suite,
    scenario: &Scenario,
    options: &Options,
    client: &Http,
    receiver: Option<&Receiver>,
) -> Outcome {
    let mut vars = Vars::default();
    for (key, value) in options.credentials.iter() {
        vars.set(key.clone(), Value::String(value.clone()));
    }
    vars.set("base_url", Value::String(options.base_url.clone()));
    vars.set("run_id", Value::String(uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()));
    for (name, template) in &scenario.vars {
        match vars.render(template) {
            Ok(value) => vars.set(name.clone(), Value::String(value)),
            Err(reason) => return StepError::from(reason).at("vars".to_owned()),
        }
    }
    let mut pending = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        if let Some(reason) = &step.pending {
            pending.push(format!("{}: {reason}", step.label(i)));
            continue;
        }
        if let Err(err) = run_step(suite, step, options, client, receiver, &mut vars).await {
            return err.at(step.label(i));
        }
    }
    if pending.is_empty() { Outcome::Passed } else { Outcome::Pending(pending.join("; ")) }
}

async fn run_step(
    suite: &Suite,
    step: &Step,
    options: &Options,
    client: &Http,
    receiver: Option<&Receiver>,
    vars: &mut Vars,
) -> Result<(), StepError> {
    let (seen, request, curl) = if let (Some(request), Some(repeat)) = (&step.request, &step.repeat) {
        let (seen, text, curl) = send_until(suite, request, repeat, options, client, vars).await?;
        (seen, Some(text), Some(curl))
    } else if let Some(request) = &step.request {
        let (seen, text, curl) = send(suite, request, &options.base_url, true, client, vars, &step.expect).await?;
        (seen, Some(text), Some(curl))
    } else if let Some(admin) = &step.admin {
        let base = options.credentials.get("admin.base_url")?;
        let mut request = admin.clone();
        request.auth = false;
        request.headers.insert("Authorization".into(), "Bearer {{admin.token}}".into());
        let (seen, text, curl) = send(suite, &request, &base, false, client, vars, &step.expect).await?;
        (seen, Some(text), Some(curl))
    } else if let Some(sandbox) = &step.sandbox {
        let request = sandbox_request(sandbox, vars)?;
        let base = options.credentials.get("sandbox.base_url")?;
        let (seen, text, curl) = send(suite, &request, &base, false, client, vars, &step.expect).await?;
        (seen, Some(text), Some(curl))
    } else if let Some(webhook) = &step.webhook {
        let receiver = receiver.ok_or("a webhook step needs the receiver ([webhooks] listen = …)".to_owned())?;
        (await_webhook(&suite.dialect, webhook, receiver, options, vars).await?, None, None)
    } else {
        return Err("a step needs one of request, sandbox, admin, webhook".to_owned().into());
    };
    let failed = |reason: String| StepError {
        reason,
        request: request.clone(),
        received: Some(describe_seen(&seen)),
        curl: curl.clone(),
    };
    let default_status = if step.sandbox.is_some() { Some(200) } else { None };
    verify(&step.expect, &seen, vars, default_status).map_err(failed)?;
    for (name, capture) in &step.capture {
        let (path, regex) = match capture {
            Capture::Path(path) => (path, None),
            Capture::Regex { path, regex } => (path, Some(regex)),
        };
        let value = lookup(&seen.json, path)
            .map_err(failed)?
            .ok_or_else(|| failed(format!("nothing at {path} to capture as {name}")))?;
        let value = match regex {
            None => value,
            Some(pattern) => {
                let re = regex::Regex::new(pattern).map_err(|e| failed(format!("bad regex {pattern:?}: {e}")))?;
                let text = as_text(&value);
                let group = re.captures(&text).and_then(|c| c.get(1)).map(|m| m.as_str().to_owned());
                Value::String(group.ok_or_else(|| failed(format!("{path} = {text:?} does not match /{pattern}/")))?)
            }
        };
        vars.set(name.clone(), value);
    }
    Ok(())
}

fn verify(expect: &Expect, seen: &Seen, vars: &Vars, default_status: Option<u16>) -> Result<(), String> {
    if let Some(status) = expect.status.or(default_status)
        && seen.status != status
    {
        return Err(format!("status is {}, expected {status}", seen.status));
    }
    for (name, header_check) in &expect.headers {
        let value = seen.headers.get(&name.to_ascii_lowercase()).map(|v| Value::String(v.clone()));
        check(value.as_ref(), header_check, vars).map_err(|e| format!("header {name} {e}"))?;
    }
    for assertion in &expect.body {
        let path = vars.render(&assertion.path)?;
        let value = lookup(&seen.json, &path)?;
        check(value.as_ref(), &assertion.check, vars).map_err(|e| format!("{path} {e}"))?;
    }
    Ok(())
}

fn sandbox_request(step: &SandboxStep, vars: &Vars) -> Result<Request, String> {
    let url = vars.render(&step.checkout_url)?;
    let token = url.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned();
    let mut body = serde_json::json!({ "outcome": step.outcome });
    if let Some(card) = &step.card {
        body["card"] = card.clone();
    }
    if let Some(wallet) = &step.wallet {
        body["wallet"] = wallet.clone();
    }
    Ok(Request {
        method: "POST".into(),
        path: format!("/checkout/{token}/complete"),
        headers: BTreeMap::new(),
        auth: false,
        json: Some(body),
        form: None,
        body: None,
        sign: None,
    })
}

/// Sends `request` until it answers `repeat.until_status`, counting the 2xx answers
/// before it; fails when one is anything else or the count is out of range.
async fn send_until(
    suite: &Suite,
    request: &Request,
    repeat: &Repeat,
    options: &Options,
    client: &Http,
    vars: &Vars,
) -> Result<(Seen, String, String), StepError> {
    let until = Expect { status: Some(repeat.until_status), ..Expect::default() };
    let mut answered = 0;
    loop {
        let (seen, text, curl) = send(suite, request, &options.base_url, true, client, vars, &until).await?;
        let failed = |reason: String| StepError {
            reason,
            request: Some(text.clone()),
            received: Some(describe_seen(&seen)),
            curl: Some(curl.clone()),
        };
        if seen.status == repeat.until_status {
            if answered < repeat.at_least {
                return Err(failed(format!(
                    "{} after {answered} answers, expected at least {}",
                    seen.status, repeat.at_least
                )));
            }
            return Ok((seen, text, curl));
        }
        if !(200..300).contains(&seen.status) {
            return Err(failed(format!(
                "status is {} after {answered} answers, expected 2xx until {}",
                seen.status, repeat.until_status
            )));
        }
        answered += 1;
        if answered > repeat.at_most {
            return Err(failed(format!(
                "no {} after {answered} answers (at most {})",
                repeat.until_status, repeat.at_most
            )));
        }
    }
}

/// Sends a request (re-signed and resent after an unexpected 429), returning what came
/// back, the request as text and a curl command that reproduces it.
async fn send(
    suite: &Suite,
    request: &Request,
    base: &str,
    dialect_request: bool,
    client: &Http,
    vars: &Vars,
    expect: &Expect,
) -> Result<(Seen, String, String), StepError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (built, text, curl) = build(suite, request, base, dialect_request, client, vars)?;
        let response = built.send().await.map_err(|e| StepError {
            reason: format!("request failed: {e}"),
            request: Some(text.clone()),
            received: None,
            curl: Some(curl.clone()),
        })?;
        let seen = read(response).await;
        if seen.status == 429 && expect.status != Some(429) && attempt < 3 {
            let wait = seen
                .headers
                .get("retry-after")
                .and_then(|s| s.parse().ok())
                .map_or(Duration::from_secs(5), Duration::from_secs);
            tokio::time::sleep(wait.min(MAX_RATE_WAIT)).await;
            continue;
        }
        return Ok((seen, text, curl));
    }
}

fn build(
    suite: &Suite,
    request: &Request,
    base: &str,
    dialect_request: bool,
    client: &Http,
    vars: &Vars,
) -> Result<(reqwest::RequestBuilder, String, String), StepError> {
    let url = format!("{}{}", base.trim_end_matches('/'), vars.render(&request.path)?);
    let method = Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("bad method {}", request.method))?;
    let mut headers: Vec<(String, String)> = Vec::new();
    if request.auth && dialect_request {
        for (name, value) in &suite.settings.headers {
            headers.push((name.clone(), vars.render(value)?));
        }
    }
    let mut body: Option<String> = None;
    if let Some(json) = &request.json {
        body = Some(serde_json::to_string(&vars.render_json(json)?).map_err(|e| e.to_string())?);
        headers.push(("Content-Type".into(), "application/json".into()));
    } else if let Some(form) = &request.form {
        let rendered: Vec<(String, String)> =
            form.iter().map(|(k, v)| Ok((k.clone(), vars.render(v)?))).collect::<Result<_, String>>()?;
        body = Some(serde_urlencoded::to_string(rendered).map_err(|e| e.to_string())?);
        headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
    } else if let Some(raw) = &request.body {
        body = Some(vars.render(raw)?);
    }
    for (name, value) in &request.headers {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.clone(), vars.render(value)?));
    }
    if let Some(sign) = &request.sign {
        let (timestamp, secret, given) = match sign {
            Signing::Now(false) => (None, None, None),
            Signing::Now(true) => (Some("{{now}}".to_owned()), None, None),
            Signing::With { timestamp, secret, signature } => {
                (Some(timestamp.clone().unwrap_or_else(|| "{{now}}".into())), secret.clone(), signature.clone())
            }
        };
        if let Some(timestamp) = timestamp {
            let timestamp = vars.render(&timestamp)?;
            let secret = match secret {
                Some(s) => vars.render(&s)?,
                None => vars.render(&format!("{{{{{}}}}}", signing::request_secret_var(&suite.dialect)?))?,
            };
            let mut signed = signing::request_headers(
                &suite.dialect,
                &secret,
                &timestamp,
                body.as_deref().unwrap_or("").as_bytes(),
            )?;
            if let Some(given) = given {
                signed.retain(|(n, _)| n == "X-Timestamp");
                signed.push(("X-Signature".into(), vars.render(&given)?));
            }
            headers.extend(signed);
        }
    }
    let mut builder = client.client.request(method.clone(), &url);
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &body {
        builder = builder.body(body.clone());
    }
    let mut text = format!("{method} {url}");
    let mut curl = format!("curl -i{} -X {method} {}", client.curl_flags, shell_quote(&url));
    for (name, value) in &headers {
        text.push_str(&format!("\n{name}: {value}"));
        curl.push_str(&format!(" -H {}", shell_quote(&format!("{name}: {value}"))));
    }
    if let Some(body) = &body {
        text.push_str(&format!("\n\n{body}"));
        curl.push_str(&format!(" --data-raw {}", shell_quote(body)));
    }
    Ok((builder, text, curl))
}

async fn read(response: reqwest::Response) -> Seen {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Seen { status, headers, text, json }
}

async fn await_webhook(
    dialect: &str,
    step: &WebhookStep,
    receiver: &Receiver,
    options: &Options,
    vars: &Vars,
) -> Result<Seen, StepError> {
    if let Some(event) = &step.event {
        receiver.respond_to(event, step.respond);
    }
    let matches = |d: &Delivery| {
        step.event.as_ref().is_none_or(|event| d.event.as_deref() == Some(event.as_str()))
            && step.matches.iter().all(|a| {
                let path = vars.render(&a.path).unwrap_or_default();
                lookup(&d.json, &path).ok().is_some_and(|v| check(v.as_ref(), &a.check, vars).is_ok())
            })
    };
    let delivery = receiver.take(Duration::from_secs(step.within), matches).await.ok_or_else(|| {
        let seen: Vec<String> =
            receiver.received().iter().map(|d| d.event.clone().unwrap_or_else(|| "(no event)".into())).collect();
        StepError::from(format!(
            "no {} webhook within {} s at http://{} (received: {})",
            step.event.as_deref().unwrap_or("matching"),
            step.within,
            receiver.addr(),
            if seen.is_empty() { "nothing".to_owned() } else { seen.join(", ") }
        ))
    })?;
    let text = String::from_utf8_lossy(&delivery.body).into_owned();
    let seen = Seen { status: delivery.answered, headers: delivery.headers.clone(), text, json: delivery.json.clone() };
    if step.signed {
        let mut credentials = options.credentials.clone();
        for (key, value) in &step.credentials {
            credentials.set(&format!("credentials.{key}"), &vars.render(value)?);
        }
        signing::verify_webhook(dialect, &credentials, &delivery.headers, &delivery.body).map_err(|e| StepError {
            reason: format!("webhook signature does not verify: {e}"),
            request: None,
            received: Some(describe_seen(&seen)),
            curl: None,
        })?;
    }
    Ok(seen)
}

fn describe_seen(seen: &Seen) -> String {
    let mut out = format!("HTTP {}", seen.status);
    for name in ["content-type", "retry-after", "idempotent-replayed"] {
        if let Some(v) = seen.headers.get(name) {
            out.push_str(&format!("\n{name}: {v}"));
        }
    }
    let body = if seen.text.len() > 2000 {
        format!("{}…", &seen.text[..seen.text.floor_char_boundary(2000)])
    } else {
        seen.text.clone()
    };
    out.push_str(&format!("\n\n{body}"));
    out
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
