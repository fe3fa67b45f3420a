//! The command line: `run` the controller, print the `crd`, `diagnose` a rule, or
//! `simulate` one IAM request.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ebi::diagnose::{self, Expectations, Finding};
use ebi::plan::Guardrails;

#[derive(Parser)]
#[command(
    name = "eventbridge-integration-controller",
    version,
    about = "AWS EventBridge integrations as Kubernetes objects, with a diagnosis of every AccessDenied"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller (Kubernetes from KUBECONFIG or in-cluster; AWS from the SDK chain).
    Run(RunArgs),
    /// Print the CustomResourceDefinition as YAML.
    Crd,
    /// Explain why EventBridge could not invoke a rule's targets.
    Diagnose(DiagnoseArgs),
    /// Evaluate one IAM request (or a list) against identity, resource, boundary, session,
    /// SCP and RCP policies; exit 0 allowed, 1 denied, 2 bad input.
    Simulate(SimulateArgs),
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// JSON request file (see README, "simulate"); `-` reads standard input.
    #[arg(long)]
    request: PathBuf,
    #[arg(long, value_enum, default_value = "json")]
    output: Output,
}

#[derive(clap::Args)]
struct RunArgs {
    /// How often every object is re-checked against AWS to correct drift.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, env = "EBI_RESYNC_INTERVAL")]
    resync_interval: Duration,
    /// Watch only these namespaces (comma-separated; default: all namespaces).
    #[arg(long, value_delimiter = ',', env = "EBI_WATCH_NAMESPACES")]
    watch_namespace: Vec<String>,
    /// Accounts the controller may act in (comma-separated); empty: any.
    #[arg(long, value_delimiter = ',', env = "EBI_ALLOWED_ACCOUNT_IDS")]
    allowed_account_ids: Vec<String>,
    /// Prefix required on every IAM role name the controller creates.
    #[arg(long, env = "EBI_ROLE_NAME_PREFIX")]
    role_name_prefix: Option<String>,
    /// IAM path every created role must have, e.g. /eventbridge/.
    #[arg(long, env = "EBI_ROLE_PATH")]
    role_path: Option<String>,
    /// Permissions boundary every created role must carry.
    #[arg(long, env = "EBI_PERMISSIONS_BOUNDARY_ARN")]
    permissions_boundary_arn: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:8080", env = "EBI_METRICS_ADDR")]
    metrics_addr: std::net::SocketAddr,
    /// Elect a leader among replicas with a coordination.k8s.io Lease; only the leader reconciles.
    #[arg(long, env = "EBI_LEADER_ELECTION")]
    leader_election: bool,
    /// Namespace of the Lease (default: POD_NAMESPACE, else `default`).
    #[arg(long, env = "EBI_LEADER_ELECTION_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Name of the Lease.
    #[arg(
        long,
        default_value = "eventbridge-integration-controller",
        env = "EBI_LEADER_ELECTION_LEASE"
    )]
    leader_election_lease: String,
    /// Seconds a leader's claim lasts without renewal; a standby takes over after it.
    #[arg(long, default_value_t = 15, env = "EBI_LEASE_DURATION_SECONDS")]
    lease_duration_seconds: u64,
    /// Seconds before expiry at which the leader renews (must be below the duration).
    #[arg(long, default_value_t = 5, env = "EBI_LEASE_RENEW_GRACE_SECONDS")]
    lease_renew_grace_seconds: u64,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "EBI_LOG_FORMAT")]
    log_format: LogFormat,
    /// Log level (RUST_LOG overrides it).
    #[arg(long, default_value = "info", env = "EBI_LOG_LEVEL")]
    log_level: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct DiagnoseArgs {
    /// A JSON bundle of AWS CLI output (see README); `-` reads standard input.
    #[arg(long, conflicts_with = "rule", required_unless_present = "rule")]
    bundle: Option<PathBuf>,
    /// Diagnose this rule, read-only, in the account and region of the environment.
    #[arg(long)]
    rule: Option<String>,
    /// Event bus of --rule.
    #[arg(long, default_value = "default", requires = "rule")]
    event_bus: String,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", ebi::api::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Diagnose(args) => runtime().block_on(diagnose_command(args)),
        Command::Run(args) => runtime().block_on(run(args)),
        Command::Simulate(args) => simulate_command(args),
    }
}

fn simulate_command(args: SimulateArgs) -> ExitCode {
    let text = if args.request.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&args.request)
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.request.display());
            return ExitCode::from(2);
        }
    };
    let (code, out, err) = ebi::simulate::run(&text, matches!(args.output, Output::Json));
    print!("{out}");
    eprint!("{err}");
    ExitCode::from(code)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn run(args: RunArgs) -> ExitCode {
    ebi::telemetry::init_logging(matches!(args.log_format, LogFormat::Json), &args.log_level);
    let metrics = Arc::new(ebi::telemetry::Metrics::default());
    let aws = ebi::aws::AwsContext::from_env(metrics.clone()).await;
    let Some(default_region) = aws.default_region() else {
        tracing::error!("no AWS region: set AWS_REGION (or spec.region on every object)");
        return ExitCode::from(2);
    };
    let client = match kube::Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("cannot reach Kubernetes: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = ebi::controller::Settings {
        resync_interval: args.resync_interval,
        guardrails: Guardrails {
            allowed_account_ids: args
                .allowed_account_ids
                .into_iter()
                .filter(|a| !a.is_empty())
                .collect(),
            role_name_prefix: args.role_name_prefix,
            role_path: args.role_path,
            permissions_boundary_arn: args.permissions_boundary_arn,
        },
        default_region,
        namespaces: args
            .watch_namespace
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect(),
        leader: args
            .leader_election
            .then(|| ebi::controller::leader::LeaderSettings {
                namespace: args
                    .leader_election_namespace
                    .or_else(|| std::env::var("POD_NAMESPACE").ok())
                    .unwrap_or_else(|| "default".into()),
                lease_name: args.leader_election_lease.clone(),
                identity: std::env::var("POD_NAME")
                    .unwrap_or_else(|_| format!("{}-{}", hostname(), std::process::id())),
                lease_duration: args.lease_duration_seconds,
                renew_grace: args.lease_renew_grace_seconds,
            }),
    };
    if args.leader_election && args.lease_renew_grace_seconds >= args.lease_duration_seconds {
        tracing::error!("--lease-renew-grace-seconds must be below --lease-duration-seconds");
        return ExitCode::from(2);
    }
    tracing::info!(resync = ?settings.resync_interval, guardrails = ?settings.guardrails, "starting controller");
    let server = tokio::spawn(ebi::telemetry::serve(args.metrics_addr, metrics.clone()));
    let ctx = Arc::new(ebi::controller::Context::new(
        client, aws, metrics, settings,
    ));
    ebi::controller::run(ctx).await;
    server.abort();
    ExitCode::SUCCESS
}

async fn diagnose_command(args: DiagnoseArgs) -> ExitCode {
    let (snapshot, expect) = if let Some(path) = &args.bundle {
        let text = if path.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(path)
        };
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read bundle {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        match diagnose::bundle::parse_bundle(&text) {
            Ok(parsed) => parsed,
            Err(e) => {
                eprintln!("error: unusable bundle: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        let rule = args
            .rule
            .clone()
            .expect("clap requires --rule without --bundle");
        let aws =
            ebi::aws::AwsContext::from_env(Arc::new(ebi::telemetry::Metrics::default())).await;
        let Some(region) = aws.default_region() else {
            eprintln!("error: no AWS region: set AWS_REGION");
            return ExitCode::from(2);
        };
        let clients = aws.clients(&region);
        match ebi::aws::observe::snapshot_for_rule(&clients, &rule, &args.event_bus).await {
            Ok(s) => (
                s,
                Expectations {
                    rule_name: Some(rule),
                    event_bus_name: Some(args.event_bus.clone()),
                    ..Default::default()
                },
            ),
            Err(e) => {
                eprintln!("error: could not read the rule's configuration: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let findings = diagnose::diagnose(&snapshot, &expect);
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"findings": findings}))
                .expect("findings serialise")
        ),
        Output::Text => print_text(&findings),
    }
    if findings.iter().any(Finding::is_error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "controller".into())
}

fn print_text(findings: &[Finding]) {
    if findings.is_empty() {
        println!("No problems found: EventBridge is allowed to invoke every target.");
        return;
    }
    for f in findings {
        let severity = if f.is_error() { "ERROR" } else { "WARNING" };
        let target = f
            .target_id
            .as_deref()
            .map(|t| format!(" target {t}"))
            .unwrap_or_default();
        println!(
            "{severity} {}{target}: {}",
            f.code,
            f.resource.as_deref().unwrap_or("")
        );
        println!("  {}", f.message);
        for (i, line) in f.remediation.lines().enumerate() {
            println!("  {}{line}", if i == 0 { "Fix: " } else { "     " });
        }
        for note in &f.not_evaluated {
            println!("  Note: {note}");
        }
        println!();
    }
    let errors = findings.iter().filter(|f| f.is_error()).count();
    println!("{errors} error(s), {} warning(s)", findings.len() - errors);
}
