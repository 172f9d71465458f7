//! Results: a terminal summary a person can act on, and JUnit XML for CI servers.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use quick_xml::escape::escape;

use crate::scenario::Scenario;

/// A suite run.
#[derive(Debug)]
pub struct Report {
    /// The dialect.
    pub dialect: String,
    /// What it ran against.
    pub base_url: String,
    /// When it started.
    pub started: chrono::DateTime<chrono::Utc>,
    /// How long it took.
    pub duration: Duration,
    /// One per scenario, in suite order.
    pub results: Vec<ScenarioResult>,
}

/// One scenario's result.
#[derive(Debug)]
pub struct ScenarioResult {
    /// Its name.
    pub name: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its file.
    pub file: PathBuf,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
}

/// What happened to a scenario.
#[derive(Debug)]
pub enum Outcome {
    /// Every step passed.
    Passed,
    /// A step failed; later steps did not run.
    Failed(Box<Failure>),
    /// Every step that ran passed; some are pending (not available yet).
    Pending(String),
    /// Not selected by `--filter`/`--skip`.
    Skipped,
}

/// A failed step, with what is needed to reproduce it.
#[derive(Debug)]
pub struct Failure {
    /// Which step.
    pub step: String,
    /// What was expected and what was found.
    pub reason: String,
    /// The request sent, as text.
    pub request: Option<String>,
    /// What came back, as text.
    pub received: Option<String>,
    /// A curl command that sends the same request.
    pub curl: Option<String>,
}

impl ScenarioResult {
    pub(crate) fn new(scenario: &Scenario, outcome: Outcome, duration: Duration) -> ScenarioResult {
        ScenarioResult {
            name: scenario.name.clone(),
            tags: scenario.tags.clone(),
            file: scenario.file.clone(),
            outcome,
            duration,
        }
    }
}

impl Report {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.outcome)).count()
    }

    /// Scenarios that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// Scenarios that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    /// Scenarios with pending steps.
    pub fn pending(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Pending(_)))
    }

    /// Scenarios not selected.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped))
    }

    /// The terminal summary: a line per scenario, and for each failure the request,
    /// the expected and the received, and a curl command.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let ran = self.results.len() - self.skipped();
        let _ = writeln!(out, "{} against {} — {ran} scenarios", self.dialect, self.base_url);
        let width = self.results.iter().map(|r| r.name.len()).max().unwrap_or(10).max(10);
        for result in &self.results {
            let ms = result.duration.as_millis();
            match &result.outcome {
                Outcome::Passed => {
                    let _ = writeln!(out, "  PASS  {:<width$}  {ms} ms", result.name);
                }
                Outcome::Skipped => {}
                Outcome::Pending(why) => {
                    let _ = writeln!(out, "  PEND  {:<width$}  {ms} ms  ({why})", result.name);
                }
                Outcome::Failed(failure) => {
                    let _ = writeln!(out, "  FAIL  {:<width$}  {ms} ms", result.name);
                    let _ = writeln!(out, "        {}: {}", failure.step, failure.reason);
                    if let Some(request) = &failure.request {
                        let _ = writeln!(out, "        request:\n{}", indent(request, 12));
                    }
                    if let Some(received) = &failure.received {
                        let _ = writeln!(out, "        received:\n{}", indent(received, 12));
                    }
                    if let Some(curl) = &failure.curl {
                        let _ = writeln!(out, "        reproduce:\n{}", indent(curl, 12));
                    }
                    let _ = writeln!(out, "        scenario: {}", result.file.display());
                }
            }
        }
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} pending, {} skipped in {:.1} s",
            self.passed(),
            self.failed(),
            self.pending(),
            self.skipped(),
            self.duration.as_secs_f64()
        );
        out
    }

    /// JUnit XML as Jenkins, GitLab and GitHub read it (see `junit.xsd`): a test case
    /// per scenario, `<failure>` for failures, `<skipped>` for pending and unselected.
    pub fn junit(&self) -> String {
        let tests = self.results.len();
        let (failures, skipped) = (self.failed(), self.pending() + self.skipped());
        let secs = |d: Duration| format!("{:.3}", d.as_secs_f64());
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"paybridge-conformance\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
            secs(self.duration)
        );
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\" timestamp=\"{}\" hostname=\"{}\">",
            escape(&self.dialect),
            secs(self.duration),
            self.started.format("%Y-%m-%dT%H:%M:%S"),
            escape(host(&self.base_url))
        );
        let _ = writeln!(
            xml,
            "    <properties>\n      <property name=\"base_url\" value=\"{}\"/>\n    </properties>",
            escape(&self.base_url)
        );
        for result in &self.results {
            let classname = format!("{}.{}", self.dialect, result.tags.first().map_or("scenarios", String::as_str));
            let _ = write!(
                xml,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
                escape(&result.name),
                escape(&classname),
                secs(result.duration)
            );
            match &result.outcome {
                Outcome::Passed => xml.push_str("/>\n"),
                Outcome::Skipped => xml.push_str(">\n      <skipped message=\"not selected\"/>\n    </testcase>\n"),
                Outcome::Pending(why) => {
                    let _ = write!(xml, ">\n      <skipped message=\"pending: {}\"/>\n    </testcase>\n", escape(why));
                }
                Outcome::Failed(f) => {
                    let mut detail = format!("{}: {}", f.step, f.reason);
                    for (label, part) in [("request", &f.request), ("received", &f.received), ("reproduce", &f.curl)] {
                        if let Some(part) = part {
                            let _ = write!(detail, "\n\n{label}:\n{part}");
                        }
                    }
                    let _ = write!(
                        xml,
                        ">\n      <failure message=\"{}\" type=\"AssertionError\">{}</failure>\n    </testcase>\n",
                        escape(&format!("{}: {}", f.step, f.reason)),
                        escape(&detail)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n</testsuites>\n");
        xml
    }
}

/// The host (and port) of a URL.
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}
