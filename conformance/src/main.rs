//! `paybridge-conformance run --dialect D --base-url URL --credentials FILE
//! [--filter TAG|NAME] [--skip TAG] [--junit OUT.xml]` and `paybridge-conformance list`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use paybridge_conformance::{Credentials, Options, Receiver, Resolve, Suite, default_suites_dir, run};

#[derive(Parser)]
#[command(name = "paybridge-conformance", version, about = "Run a dialect's conformance suite against any base URL")]
struct Cli {
    /// Where the suites are (default: the ones shipped with this tool).
    #[arg(long, global = true)]
    suites: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a suite; exits 1 when any scenario fails.
    Run {
        /// The dialect: rebornpay, shadhinpay, starpay, …
        #[arg(long)]
        dialect: String,
        /// The dialect's base URL, standing for the provider's host: under its name
        /// (http://127.0.0.1:8080/rebornpay) or at a root (http://127.0.0.1:8081,
        /// http://rebornpay.pay.example:8080).
        #[arg(long)]
        base_url: String,
        /// Connect to ADDR for HOST on PORT instead of asking DNS, as curl's
        /// `--resolve HOST:PORT:ADDR` (repeatable): for a base URL whose host paybridge
        /// serves the dialect at before DNS points there.
        #[arg(long)]
        resolve: Vec<Resolve>,
        /// The credentials file (TOML; see conformance/demo.toml): its `[credentials]`,
        /// with the dialect's own section (`[starpay]`) replacing keys of the same name.
        #[arg(long)]
        credentials: PathBuf,
        /// Only scenarios whose name contains this or that have this tag (repeatable).
        #[arg(long)]
        filter: Vec<String>,
        /// Skip scenarios with this tag, e.g. `sandbox` and `admin` against a real
        /// provider (repeatable).
        #[arg(long)]
        skip: Vec<String>,
        /// Also write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// List the dialects, or a dialect's scenarios with their tags.
    List {
        /// The dialect.
        #[arg(long)]
        dialect: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let suites = cli.suites.unwrap_or_else(default_suites_dir);
    match run_cli(cli.command, suites).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("paybridge-conformance: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run_cli(command: Command, suites: PathBuf) -> anyhow::Result<ExitCode> {
    match command {
        Command::List { dialect: None } => {
            for dialect in Suite::dialects(&suites) {
                println!("{dialect}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::List { dialect: Some(dialect) } => {
            let suite = Suite::load(&suites, &dialect)?;
            for s in &suite.scenarios {
                println!("{:<40} [{}]  {}", s.name, s.tags.join(", "), s.description.trim());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { dialect, base_url, credentials, filter, skip, junit, resolve } => {
            let suite = Suite::load(&suites, &dialect)?;
            let credentials = Credentials::load(&credentials)?.for_dialect(&dialect);
            let receiver = match credentials.get("webhooks.listen") {
                Ok(listen) => Some(Receiver::start(&listen).await?),
                Err(_) => None,
            };
            let options = Options { base_url, credentials, filters: filter, skips: skip, resolve };
            let report = run(&suite, &options, receiver.as_ref()).await;
            print!("{}", report.summary());
            if let Some(path) = junit {
                std::fs::write(&path, report.junit())?;
                println!("JUnit report: {}", path.display());
            }
            Ok(if report.failed() > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}
