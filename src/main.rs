//! The command line: `run` the controller, print the `crd`, `diagnose` a rule (or every rule
//! of a region), `collect` a rule's bundle, `simulate` one IAM request, list `orphans`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ebi::diagnose::{self, Expectations, Finding};
use ebi::plan::Guardrails;

/// jemalloc rather than glibc's malloc. glibc gives threads arenas of their own (up to 8
/// per core of the node, not of the pod's CPU limit) and keeps what is freed in each:
/// memory freed after converging 10,000 objects stayed resident in sync (106 MiB with
/// glibc, 75 with jemalloc's defaults, `make bench-memory`). jemalloc returns freed pages
/// after `dirty_decay_ms`, from a background thread; one arena (the controller waits on
/// the network, not on the allocator) keeps a single free list rather than one per core
/// (68 MiB). Overridable at run time with `_RJEM_MALLOC_CONF`.
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc reads its options from this symbol (a C `const char *`).
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[used]
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: MallocConf =
    MallocConf(c"background_thread:true,narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr());

#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);
// Safety: points at a static, immutable C string.
unsafe impl Sync for MallocConf {}

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
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML (the integration's, then the policy's).
    Crd(CrdArgs),
    /// Explain why EventBridge could not invoke a rule's targets.
    Diagnose(DiagnoseArgs),
    /// List (or with --delete, remove) AWS resources tagged by this cluster's controller
    /// whose object no longer exists.
    Orphans(OrphansArgs),
    /// Write the bundle `diagnose --bundle` reads, for one rule, from the account (read-only).
    Collect(CollectArgs),
    /// Evaluate one IAM request (or a list) against identity, resource, boundary, session,
    /// SCP and RCP policies; exit 0 allowed, 1 denied, 2 bad input.
    Simulate(SimulateArgs),
    /// Why an integration does (not) work: its conditions, findings and exact fixes, read
    /// from the cluster (also `kubectl ebi why`); exit 0 works, 1 does not, 2 not found.
    Why(WhyArgs),
}

/// `kubectl ebi …`: the same binary, installed (or linked) as `kubectl-ebi` on the PATH.
#[derive(Parser)]
#[command(
    name = "kubectl-ebi",
    bin_name = "kubectl ebi",
    version,
    about = "EventBridge integrations from kubectl: why one does not work, the account's audit, orphaned AWS resources"
)]
struct PluginCli {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// An integration's conditions, findings and exact fixes (exit 0 works, 1 does not).
    Why(WhyArgs),
    /// Every rule of the region and each of its targets, diagnosed read-only (as
    /// `diagnose --all`; exit 1 when any has an error).
    Audit(PluginAuditArgs),
    /// AWS resources tagged by this cluster whose object no longer exists (as `orphans`).
    Orphans(OrphansArgs),
}

#[derive(clap::Args)]
struct WhyArgs {
    /// The EventBridgeIntegration.
    name: String,
    /// Its namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Colour: `auto` on a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value = "auto")]
    color: Colour,
}

#[derive(Clone, Copy, ValueEnum)]
enum Colour {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
struct PluginAuditArgs {
    /// The only event bus walked (default: all, and every schedule group).
    #[arg(long)]
    event_bus: Option<String>,
    /// The only schedule group walked (default: all, and every event bus).
    #[arg(long)]
    schedule_group: Option<String>,
    #[command(flatten)]
    online: OnlineArgs,
    /// `text` (a table) or `json`.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(clap::Args)]
struct CrdArgs {
    /// Print only this one.
    #[arg(long, value_enum, conflicts_with = "without_cel")]
    only: Option<CrdKind>,
    /// Without the CEL rules (x-kubernetes-validations): for API servers before 1.25, which
    /// do not know them (server-side apply refuses the CRD there).
    #[arg(long)]
    without_cel: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum CrdKind {
    /// EventBridgeIntegration
    Integration,
    /// EventBridgeIntegrationPolicy
    Policy,
}

#[derive(Clone, Copy, ValueEnum)]
enum PolicyModeArg {
    /// An integration is acted on only when one EventBridgeIntegrationPolicy selecting its
    /// namespace grants every reference in it.
    Enforce,
    /// No policies: any namespace may ask for anything within the other flags (for a
    /// single-tenant cluster).
    Off,
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// JSON request file (see docs/iam-evaluator.md, "simulate"); `-` reads standard input.
    #[arg(long)]
    request: PathBuf,
    #[arg(long, value_enum, default_value = "json")]
    output: Output,
}

#[derive(clap::Args)]
struct OrphansArgs {
    /// Remove what is listed (each resource proves it is this cluster's first).
    #[arg(long)]
    delete: bool,
    /// Look in these regions too (comma-separated), beyond the controller's default region
    /// and every region the live objects recorded.
    #[arg(long, value_delimiter = ',')]
    region: Vec<ebi::iam::Region>,
    /// This cluster's identity in owner tags (default: the UID of the kube-system namespace).
    #[arg(long, env = "EBI_CLUSTER_ID")]
    cluster_id: Option<String>,
    /// Namespace of the controller's ConfigMap of every place it wrote to, all searched
    /// (default: POD_NAMESPACE, else `default`; with the Helm chart: the release namespace).
    #[arg(long, env = "EBI_LOCATIONS_NAMESPACE")]
    locations_namespace: Option<String>,
    /// Only what objects of these namespaces owned (comma-separated; by the owner tag), e.g.
    /// to clean up after one team without touching another's. Default: every namespace.
    #[arg(long, value_delimiter = ',')]
    namespace: Vec<String>,
    /// Resources younger than this are never orphans, only reported (and warned about): an
    /// object deleted a moment ago or restored from a backup (it takes over what its name
    /// owned on its next pass, within a resync interval, 10m by default), or another
    /// controller that shares --cluster-id and created them just now. Rules carry their
    /// creation time from this version on; an older rule counts as old.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, env = "EBI_ORPHAN_GRACE_PERIOD")]
    grace_period: Duration,
    /// Client-side AWS call rates, as for `run` (the same defaults: the sweep reads every
    /// rule and role of each place, and shares the account's API quotas with the controller).
    #[arg(long, default_value = "", env = "EBI_AWS_RATE_LIMITS")]
    aws_rate_limits: String,
    #[arg(long, value_enum, default_value = "text")]
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
    /// Log level (RUST_LOG overrides it): error, warn, info, debug, trace or off, or
    /// directives such as `info,ebi=debug`.
    #[arg(long, default_value = "info", env = "EBI_LOG_LEVEL", value_parser = log_filter)]
    log_level: String,
    /// This cluster's identity in the owner tags of AWS resources, so controllers of two
    /// clusters never claim each other's resources (default: the UID of the kube-system
    /// namespace, which needs `get` on that namespace).
    #[arg(long, env = "EBI_CLUSTER_ID")]
    cluster_id: Option<String>,
    /// At most this many objects reconcile at once (bounds AWS calls in flight). Resyncs
    /// take at most this less one: the last is kept for new and changed objects.
    #[arg(long, default_value_t = 8, env = "EBI_MAX_CONCURRENT_RECONCILES")]
    max_concurrent_reconciles: u16,
    /// Namespace of the ConfigMap in which every place written to (account, region, role)
    /// is kept for the orphan report (default: POD_NAMESPACE, else `default`).
    #[arg(long, env = "EBI_LOCATIONS_NAMESPACE")]
    locations_namespace: Option<String>,
    /// Client-side AWS call rates per account, region and service, over the defaults
    /// (events=20,iam=10,lambda=10,ecs=10,sts=10,sqs=20,sns=20,kinesis=5,apigateway=5,
    /// scheduler=10,organizations=2,kms=10,cloudwatch=5,logs=2,cloudtrail=1 calls per second),
    /// e.g. `iam=5`.
    #[arg(long, default_value = "", env = "EBI_AWS_RATE_LIMITS")]
    aws_rate_limits: String,
    /// How long one AWS call may take as a whole: every attempt, the backoff between them
    /// and the waits for the client-side rate limit. A call that runs out fails the pass as
    /// transient (retried with backoff), naming the service, the operation and the timeout.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, env = "EBI_AWS_OPERATION_TIMEOUT")]
    aws_operation_timeout: Duration,
    /// How long one attempt of an AWS call may wait for AWS's answer, counted from when it
    /// leaves the client-side rate limiter (a wait for a token is not a hang); then it is
    /// retried within the operation timeout.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, env = "EBI_AWS_ATTEMPT_TIMEOUT")]
    aws_attempt_timeout: Duration,
    /// Read service and resource control policies through this role (in the management
    /// account, or a delegated administrator for AWS Organizations) instead of the
    /// controller's own credentials, which a member account's cannot read them with.
    #[arg(long, env = "EBI_ORGANIZATION_ROLE_ARN")]
    organization_role_arn: Option<String>,
    /// `enforce`: every integration must be granted by an EventBridgeIntegrationPolicy that
    /// selects its namespace; `off`: no policies (a single-tenant cluster).
    #[arg(long, value_enum, default_value = "enforce", env = "EBI_POLICY_MODE")]
    policy_mode: PolicyModeArg,
    /// Namespace of the Secrets the policies' externalIdSecretRef name (default:
    /// POD_NAMESPACE, else `default`; with the Helm chart: the release namespace).
    #[arg(long, env = "EBI_SECRETS_NAMESPACE")]
    secrets_namespace: Option<String>,
    /// Observe delivery: read each rule's CloudWatch metrics (`AWS/Events`, one bulk
    /// GetMetricData per account, region and window, billed per metric) into the
    /// `Delivering` condition; for a rule whose metrics report failures, its bus's failure
    /// records where the bus logs to CloudWatch Logs (one FilterLogEvents per rule and
    /// window).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "EBI_OBSERVE_DELIVERY")]
    observe_delivery: bool,
    /// Read each rule's dead-letter queue for AWS's own words on why delivery failed
    /// (`ERROR_CODE`, `ERROR_MESSAGE`) into `Delivering` and the `DeliveryFailing` finding:
    /// one ReceiveMessage of up to 10 messages per queue per delivery window, visibility
    /// timeout 0 (the messages stay visible, but each read counts as a receive). Needs
    /// `sqs:ReceiveMessage` on the queues, and --observe-delivery.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", env = "EBI_READ_DEAD_LETTERS")]
    read_dead_letters: bool,
    /// The window the delivery metrics are summed over, and how often they are read
    /// (default: the resync interval, at least 5m; at least 1m, in whole minutes).
    #[arg(long, value_parser = humantime::parse_duration, env = "EBI_DELIVERY_WINDOW")]
    delivery_window: Option<Duration>,
    /// Hear of hand edits within seconds: in each account and region written to, a rule on
    /// the default bus sends CloudTrail's events of the calls that change what the
    /// controller owns to a queue it long-polls, and each event re-queues the objects whose
    /// record names the resource. The resync interval can then be long (hours). Off: the
    /// rules and queues an earlier run made are removed.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", env = "EBI_DRIFT_EVENTS")]
    drift_events: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct DiagnoseArgs {
    /// A JSON bundle of AWS CLI output (see README); `-` reads standard input.
    #[arg(long, conflicts_with_all = ["rule", "all", "schedule"], required_unless_present_any = ["rule", "all", "schedule"])]
    bundle: Option<PathBuf>,
    /// Diagnose this rule, read-only, in the account and region of the environment.
    #[arg(long, conflicts_with_all = ["all", "schedule"])]
    rule: Option<String>,
    /// Diagnose this EventBridge Scheduler schedule (`GROUP/NAME`, or `NAME` in the default
    /// group), read-only.
    #[arg(long, conflicts_with = "all")]
    schedule: Option<String>,
    /// Diagnose every rule and schedule of the region and each of their targets, read-only
    /// (one line per target; exit 1 when any has an error).
    #[arg(long)]
    all: bool,
    /// Event bus of --rule (default: `default`); with --all, the only bus walked (and no
    /// schedules, unless --schedule-group is given too).
    #[arg(long, conflicts_with_all = ["bundle", "schedule"])]
    event_bus: Option<String>,
    /// With --all, the only schedule group walked (and no rules, unless --event-bus is given
    /// too).
    #[arg(long, requires = "all")]
    schedule_group: Option<String>,
    #[command(flatten)]
    online: OnlineArgs,
    /// `text` (alias `table`: a table with --all) or `json`.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(clap::Args)]
struct CollectArgs {
    /// The rule to collect.
    #[arg(
        long,
        required_unless_present = "schedule",
        conflicts_with = "schedule"
    )]
    rule: Option<String>,
    /// The EventBridge Scheduler schedule to collect instead (`GROUP/NAME`, or `NAME` in the
    /// default group).
    #[arg(long)]
    schedule: Option<String>,
    /// Its event bus.
    #[arg(long, default_value = "default")]
    event_bus: String,
    #[command(flatten)]
    online: OnlineArgs,
}

/// How online, read-only commands reach AWS.
#[derive(clap::Args)]
struct OnlineArgs {
    /// AWS region to read (default: the SDK's, e.g. AWS_REGION).
    #[arg(long)]
    region: Option<ebi::iam::Region>,
    /// Calls per second allowed to each AWS service (default: per service, a third or less of
    /// AWS's quotas: events, sqs and sns 20, iam, lambda, ecs, sts and kms 10, organizations 2,
    /// cloudwatch 5, logs 2, cloudtrail 1).
    #[arg(long, value_parser = positive_rate)]
    max_calls_per_second: Option<f64>,
    /// Read service and resource control policies through this role (in the management
    /// account, or a delegated administrator for AWS Organizations); default: the
    /// environment's credentials.
    #[arg(long)]
    organization_role_arn: Option<ebi::iam::RoleArn>,
    /// What AWS recorded of each rule's deliveries over this window joins the diagnosis (a
    /// `DeliveryFailing` warning linked to the predicted causes) and `collect`'s bundle:
    /// CloudWatch's per-rule metrics (one GetMetricData per 100 rules) and, for a rule with
    /// failures, its event bus's log and CloudTrail. `0s` reads none of it.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    delivery_window: Duration,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!(
            "{s:?} is not a positive number of calls per second"
        )),
    }
}

/// `--log-level`: a level, or comma-separated `target=level` directives. A bare word that is
/// no level (`verbose`) would be taken for a target name and silence every line, errors
/// included: it is refused, naming the levels.
fn log_filter(s: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !directive.contains('=') && !LEVELS.contains(&directive.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{directive:?} is not a level ({}) nor a directive such as ebi=debug",
                LEVELS.join(", ")
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_string())
        .map_err(|e| format!("{s:?} is not a log filter: {e}"))
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    #[value(alias = "table")]
    Text,
    Json,
}

fn main() -> ExitCode {
    // Linked or installed as `kubectl-ebi` (krew links it so), the binary is a kubectl plugin.
    let invoked_as = std::env::args_os().next().and_then(|a| {
        PathBuf::from(a)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    });
    if invoked_as.as_deref() == Some("kubectl-ebi") {
        return plugin(PluginCli::parse());
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Crd(args) => emit(
            &match args.only {
                None if args.without_cel => ebi::api::all_crds_yaml_without_cel(),
                None => ebi::api::all_crds_yaml(),
                Some(CrdKind::Integration) => ebi::api::crd_yaml(),
                Some(CrdKind::Policy) => ebi::api::policy_crd_yaml(),
            },
            ExitCode::SUCCESS,
        ),
        Command::Diagnose(args) if args.all => runtime().block_on(audit_command(args)),
        Command::Diagnose(args) => runtime().block_on(diagnose_command(args)),
        Command::Collect(args) => runtime().block_on(collect_command(args)),
        Command::Run(args) => runtime().block_on(run(*args)),
        Command::Orphans(args) => runtime().block_on(orphans_command(args)),
        Command::Simulate(args) => simulate_command(args),
        Command::Why(args) => runtime().block_on(why_command(args)),
    }
}

fn plugin(cli: PluginCli) -> ExitCode {
    match cli.command {
        PluginCommand::Why(args) => runtime().block_on(why_command(args)),
        PluginCommand::Audit(args) => runtime().block_on(audit_command(DiagnoseArgs {
            bundle: None,
            rule: None,
            schedule: None,
            all: true,
            event_bus: args.event_bus,
            schedule_group: args.schedule_group,
            online: args.online,
            output: args.output,
        })),
        PluginCommand::Orphans(args) => runtime().block_on(orphans_command(args)),
    }
}

/// `why NAME`: the object as the API server holds it, explained.
async fn why_command(args: WhyArgs) -> ExitCode {
    use std::io::IsTerminal;
    let client = match kube::Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot reach Kubernetes: {e}");
            return ExitCode::from(2);
        }
    };
    let namespace = args
        .namespace
        .unwrap_or_else(|| client.default_namespace().to_string());
    let api: kube::Api<ebi::api::EventBridgeIntegration> =
        kube::Api::namespaced(client, &namespace);
    let obj = match api.get_opt(&args.name).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            eprintln!(
                "error: no EventBridgeIntegration {} in namespace {namespace} (kubectl get ebi -n {namespace} lists them)",
                args.name
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!(
                "error: cannot read EventBridgeIntegration {namespace}/{}: {e}",
                args.name
            );
            return ExitCode::from(2);
        }
    };
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let text = ebi::why::explain(&obj, ebi::why::Style::new(colour));
    let code = if ebi::why::works(&obj) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    emit(&text, code)
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
    eprint!("{err}");
    emit(&out, ExitCode::from(code))
}

/// Writes a command's output to standard output. A reader that has gone (`| head`) ends the
/// command quietly, with the exit status it would have had, as Unix tools do; any other
/// failure (a full disk) is an error naming it, exit 2, so cut-short output never passes
/// for whole. (`print!` panics on both, exit 101.)
fn emit(text: &str, code: ExitCode) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            eprintln!("error: cannot write the output to standard output: {e}");
            ExitCode::from(2)
        }
    }
}

/// Our reports as indented JSON: plain data (strings, numbers, maps with string keys), which
/// serde_json always serialises.
#[allow(clippy::expect_used, reason = "plain data always serialises")]
fn pretty_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("plain data serialises")
}

#[allow(
    clippy::expect_used,
    reason = "no runtime, no program: failing at start is the only way"
)]
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The region of the SDK's configuration chain, parsed: none, or one that is not a region's
/// name, said with where it may have come from.
fn sdk_region(aws: &ebi::aws::AwsContext) -> Result<Option<ebi::iam::Region>, String> {
    aws.default_region()
        .map(|text| {
            ebi::iam::Region::parse(&text).map_err(|e| {
                format!("the SDK's region (AWS_REGION, AWS_DEFAULT_REGION or the profile's region): {e}")
            })
        })
        .transpose()
}

/// What `run`'s flags say once checked, before anything is reached; a refusal names its
/// flag (exit code 2).
struct CheckedFlags {
    limits: ebi::aws::rate_limit::RateLimits,
    timeouts: ebi::aws::Timeouts,
    organization_role_arn: Option<ebi::iam::RoleArn>,
    allowed_account_ids: Vec<ebi::iam::AccountId>,
    delivery_window: Option<Duration>,
    role_path: Option<String>,
}

fn check_flags(args: &RunArgs) -> Result<CheckedFlags, String> {
    let limits = ebi::aws::rate_limit::RateLimits::default()
        .overridden(&args.aws_rate_limits)
        .map_err(|e| format!("--aws-rate-limits: {e}"))?;
    // Empty: an environment variable a chart leaves blank, for none.
    let organization_role_arn = match args.organization_role_arn.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            ebi::iam::RoleArn::parse(text)
                .map_err(|e| format!("--organization-role-arn (EBI_ORGANIZATION_ROLE_ARN): {e}"))?,
        ),
    };
    // Empty entries: a blank environment variable, for none.
    let allowed_account_ids = args
        .allowed_account_ids
        .iter()
        .filter(|a| !a.is_empty())
        .map(|a| ebi::iam::AccountId::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--allowed-account-ids (EBI_ALLOWED_ACCOUNT_IDS): {e}"))?;
    let timeouts = ebi::aws::Timeouts {
        operation: args.aws_operation_timeout,
        attempt: args.aws_attempt_timeout,
    };
    timeouts.validate().map_err(|e| e.to_string())?;
    if args.max_concurrent_reconciles == 0 {
        return Err("--max-concurrent-reconciles must be at least 1".into());
    }
    let delivery_window = match (args.observe_delivery, args.delivery_window) {
        (false, _) => None,
        (true, Some(w)) if w < Duration::from_secs(60) => {
            return Err("--delivery-window must be at least 1m (CloudWatch's per-rule metrics are per minute)".into());
        }
        (true, Some(w)) => Some(w),
        (true, None) => Some(args.resync_interval.max(Duration::from_secs(300))),
    };
    if args.read_dead_letters && delivery_window.is_none() {
        return Err("--read-dead-letters needs --observe-delivery (the dead-letter queues are read once per delivery window)".into());
    }
    if args.leader_election && args.lease_renew_grace_seconds >= args.lease_duration_seconds {
        return Err("--lease-renew-grace-seconds must be below --lease-duration-seconds".into());
    }
    // Every created role's ARN is made from it: IAM's form, as the chart's schema has it.
    let role_path = args.role_path.clone().filter(|p| !p.is_empty());
    if let Some(path) = &role_path {
        let inner_ok = path.len() <= 512 && path.chars().all(|c| ('!'..='~').contains(&c));
        if !(path.starts_with('/') && path.ends_with('/') && inner_ok) {
            return Err(format!("--role-path (EBI_ROLE_PATH) `{path}` is not an IAM path: it starts and ends with `/`, e.g. /eventbridge/, in at most 512 printable ASCII characters"));
        }
    }
    Ok(CheckedFlags {
        limits,
        timeouts,
        organization_role_arn,
        allowed_account_ids,
        delivery_window,
        role_path,
    })
}

/// The controller's settings: the checked flags, this cluster's identity and the SDK's
/// region; blank strings (a chart's unset environment variables) stand for none.
fn settings(
    args: RunArgs,
    flags: CheckedFlags,
    cluster_id: String,
    default_region: ebi::iam::Region,
) -> ebi::controller::Settings {
    ebi::controller::Settings {
        read_dead_letters: args.read_dead_letters,
        delivery_window: flags.delivery_window,
        drift_events: args.drift_events,
        cluster_id,
        organization_role_arn: flags.organization_role_arn,
        policy_mode: match args.policy_mode {
            PolicyModeArg::Enforce => ebi::tenancy::PolicyMode::Enforce,
            PolicyModeArg::Off => ebi::tenancy::PolicyMode::Off,
        },
        secrets_namespace: args
            .secrets_namespace
            .filter(|n| !n.is_empty())
            .unwrap_or_else(ebi::locations::default_namespace),
        max_concurrent_reconciles: args.max_concurrent_reconciles,
        locations_namespace: args
            .locations_namespace
            .filter(|n| !n.is_empty())
            .unwrap_or_else(ebi::locations::default_namespace),
        resync_interval: args.resync_interval,
        aws_operation_timeout: args.aws_operation_timeout,
        guardrails: Guardrails {
            allowed_account_ids: flags.allowed_account_ids,
            role_name_prefix: args.role_name_prefix,
            role_path: flags.role_path,
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
    }
}

async fn run(args: RunArgs) -> ExitCode {
    ebi::telemetry::init_logging(matches!(args.log_format, LogFormat::Json), &args.log_level);
    let metrics = Arc::new(ebi::telemetry::Metrics::default());
    // Every flag is checked before anything is reached.
    let flags = match check_flags(&args) {
        Ok(flags) => flags,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(warning) = flags
        .timeouts
        .queue_warning(&flags.limits, args.max_concurrent_reconciles)
    {
        tracing::warn!("{warning}");
    }
    let aws = ebi::aws::AwsContext::from_env(metrics.clone())
        .await
        .with_timeouts(flags.timeouts)
        .with_rate_limits(flags.limits.clone());
    let default_region = match sdk_region(&aws) {
        Ok(Some(region)) => region,
        Ok(None) => {
            tracing::error!("no AWS region: set AWS_REGION");
            return ExitCode::from(2);
        }
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let client = match kube::Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("cannot reach Kubernetes: {e}");
            return ExitCode::from(2);
        }
    };
    let cluster_id = match cluster_id(&client, args.cluster_id.clone()).await {
        Ok(id) => id,
        Err(code) => return code,
    };
    let metrics_addr = args.metrics_addr;
    let settings = settings(args, flags, cluster_id, default_region);
    tracing::info!(resync = ?settings.resync_interval, guardrails = ?settings.guardrails, policy_mode = ?settings.policy_mode, "starting controller");
    if settings.policy_mode == ebi::tenancy::PolicyMode::Off {
        tracing::warn!("--policy-mode off: no EventBridgeIntegrationPolicy is consulted, so anyone who may create an EventBridgeIntegration in a watched namespace may have the controller pass any role, invoke any function and write any queue policy within the other flags; use it only on a single-tenant cluster");
    }
    let server = tokio::spawn(ebi::telemetry::serve(metrics_addr, metrics.clone()));
    let ctx = Arc::new(ebi::controller::Context::new(
        client, aws, metrics, settings,
    ));
    let result = ebi::controller::run(ctx).await;
    server.abort();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `--cluster-id`, or the UID of the kube-system namespace.
async fn cluster_id(client: &kube::Client, flag: Option<String>) -> Result<String, ExitCode> {
    if let Some(id) = flag.filter(|f| !f.is_empty()) {
        return Ok(id);
    }
    ebi::controller::default_cluster_id(client).await.map_err(|e| {
        tracing::error!("cannot read the kube-system namespace to derive this cluster's identity ({e}); grant `get` on namespaces/kube-system or set --cluster-id");
        ExitCode::from(2)
    })
}

async fn orphans_command(args: OrphansArgs) -> ExitCode {
    ebi::telemetry::init_logging(false, "warn");
    let metrics = Arc::new(ebi::telemetry::Metrics::default());
    let limits = match ebi::aws::rate_limit::RateLimits::default().overridden(&args.aws_rate_limits)
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("--aws-rate-limits: {e}");
            return ExitCode::from(2);
        }
    };
    let aws = ebi::aws::AwsContext::from_env(metrics)
        .await
        .with_rate_limits(limits);
    let client = match kube::Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot reach Kubernetes: {e}");
            return ExitCode::from(2);
        }
    };
    let cluster = match cluster_id(&client, args.cluster_id).await {
        Ok(id) => id,
        Err(code) => return code,
    };
    let default_region = match sdk_region(&aws) {
        Ok(Some(region)) => region,
        Ok(None) => {
            eprintln!("no AWS region: set AWS_REGION");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut regions: Vec<String> = args.region.into_iter().map(String::from).collect();
    regions.push(default_region.into());
    let namespace = args
        .locations_namespace
        .filter(|n| !n.is_empty())
        .unwrap_or_else(ebi::locations::default_namespace);
    let persisted = match ebi::locations::read(&client, &namespace).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let external_ids = match orphan_external_ids(&client, &namespace, &persisted).await {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match ebi::orphans::report(
        &client,
        &aws,
        &cluster,
        &regions,
        &persisted,
        &external_ids,
        args.grace_period,
        &args.namespace,
        args.delete,
    )
    .await
    {
        Ok(report) => {
            let text = match args.output {
                Output::Json => format!("{}\n", pretty_json(&report)),
                Output::Text => report.to_text(),
            };
            emit(&text, ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// The external IDs of every provisioning role the orphan report may need (the places kept
/// in the ConfigMap and the live objects' records): from the policies that name the role
/// (their Secrets, in the controller's namespace), or from a live object's own spec
/// (`--policy-mode off`).
async fn orphan_external_ids(
    client: &kube::Client,
    namespace: &str,
    persisted: &[ebi::locations::Location],
) -> Result<std::collections::BTreeMap<String, ebi::aws::ExternalId>, String> {
    use kube::core::DeserializeGuard;
    let mut roles: std::collections::BTreeSet<String> = persisted
        .iter()
        .filter_map(|l| l.via_role_arn.clone())
        .collect();
    let api: kube::Api<DeserializeGuard<ebi::api::EventBridgeIntegration>> =
        kube::Api::all(client.clone());
    let objects = api
        .list(&Default::default())
        .await
        .map_err(|e| format!("cannot list EventBridgeIntegrations: {e}"))?;
    let mut ids = std::collections::BTreeMap::new();
    for obj in objects.items.iter().filter_map(|o| o.0.as_ref().ok()) {
        for r in obj.status.iter().flat_map(|s| s.resources.iter().flatten()) {
            roles.extend(r.via_role_arn.clone());
        }
        if let Some(x) = &obj.spec.cross_account {
            if let (Some(role), Some(id)) = (&x.provisioning_role_arn, &x.external_id) {
                ids.insert(role.clone(), ebi::aws::ExternalId::new(id.clone()));
            }
        }
    }
    ids.extend(ebi::controller::tenancy::external_ids_for(client, namespace, &roles).await?);
    Ok(ids)
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
    } else if let Some(schedule) = &args.schedule {
        let (group, name) = schedule_name(schedule);
        let Some((reader, _)) = online_reader(&args.online).await else {
            return ExitCode::from(2);
        };
        match ebi::audit::snapshot_of_schedule(&reader, group, name).await {
            Ok(s) => (
                s,
                Expectations {
                    schedule_name: Some(format!("{group}/{name}")),
                    ..Default::default()
                },
            ),
            Err(e) => {
                eprintln!("error: could not read the schedule's configuration: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        let Some(rule) = args.rule.clone() else {
            eprintln!("diagnose: give --rule NAME, --schedule [GROUP/]NAME, or --bundle FILE");
            return ExitCode::from(2);
        };
        let bus = args.event_bus.clone().unwrap_or_else(|| "default".into());
        let Some((reader, _)) = online_reader(&args.online).await else {
            return ExitCode::from(2);
        };
        match ebi::audit::snapshot_of_rule(&reader, &rule, &bus).await {
            Ok(s) => (
                s,
                Expectations {
                    rule_name: Some(rule),
                    event_bus_name: Some(bus),
                    ..Default::default()
                },
            ),
            Err(e) => {
                eprintln!("error: could not read the rule's configuration: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let diagnose::Diagnosis {
        findings,
        not_evaluated,
    } = diagnose::examine(&snapshot, &expect);
    let text = match args.output {
        Output::Json => {
            let mut out = serde_json::json!({"findings": findings});
            if !not_evaluated.is_empty() {
                out["notEvaluated"] = serde_json::json!(not_evaluated);
            }
            format!("{}\n", pretty_json(&out))
        }
        Output::Text => text_report(&findings) + &not_evaluated_lines(not_evaluated.iter()),
    };
    let code = if findings.iter().any(Finding::is_error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    emit(&text, code)
}

/// A reader over rate-limited clients for the region of `--region` or the environment
/// (organisation policies through `--organization-role-arn` when given), and the counters
/// they report to. None (after saying why) when there is no region or the role cannot be
/// assumed.
async fn online_reader(
    args: &OnlineArgs,
) -> Option<(ebi::audit::CachedReader, Arc<ebi::telemetry::Metrics>)> {
    use ebi::aws::rate_limit::{Limiter, RateLimits};
    let metrics = Arc::new(ebi::telemetry::Metrics::default());
    let aws = ebi::aws::AwsContext::from_env(metrics.clone()).await;
    let region = match (&args.region, sdk_region(&aws)) {
        (Some(flag), _) => flag.to_string(),
        (None, Ok(Some(region))) => region.to_string(),
        (None, Ok(None)) => {
            eprintln!("error: no AWS region: set AWS_REGION or pass --region");
            return None;
        }
        (None, Err(e)) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    let limits = args
        .max_calls_per_second
        .map(RateLimits::uniform)
        .unwrap_or_default();
    // One limiter: the role's Organizations calls share the bucket with the others'.
    let limiter = Limiter::new(&limits);
    let mut reader = ebi::audit::CachedReader::new(limiter.limit(&aws.clients(&region)));
    if !args.delivery_window.is_zero() {
        reader = reader.with_delivery_window(args.delivery_window);
    }
    if let Some(role) = &args.organization_role_arn {
        match aws
            .remote_clients(
                &region,
                &ebi::aws::RemoteAccess::role(role.as_str()),
                role.account(),
            )
            .await
        {
            Ok(c) => reader = reader.with_organizations_client(limiter.limit(&c).organizations),
            Err(e) => {
                eprintln!("error: --organization-role-arn: {e}");
                return None;
            }
        }
    }
    Some((reader, metrics))
}

/// What the diagnosis could not evaluate, once each, after the findings.
fn not_evaluated_lines<'a>(notes: impl Iterator<Item = &'a String>) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = String::new();
    for note in notes {
        if seen.insert(note) {
            out += &format!("Not evaluated: {note}\n");
        }
    }
    out
}

fn print_call_counts(metrics: &ebi::telemetry::Metrics) {
    let counts = ebi::audit::call_counts(metrics);
    let detail: Vec<String> = counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    eprintln!(
        "AWS calls: {} ({})",
        counts.values().sum::<u64>(),
        detail.join(" ")
    );
}

/// `diagnose --all`: exit 1 when any target has an error; otherwise 2 when some rule could
/// not be read (the audit is incomplete); 0 when everything is ok or only warned about.
async fn audit_command(args: DiagnoseArgs) -> ExitCode {
    let Some((reader, metrics)) = online_reader(&args.online).await else {
        return ExitCode::from(2);
    };
    let region = reader.clients().region.clone();
    let scope = ebi::audit::AuditScope {
        event_bus: args.event_bus.clone(),
        schedule_group: args.schedule_group.clone(),
    };
    let walk = match ebi::audit::audit(&reader, &scope).await {
        Ok(a) => a,
        Err(e) if e.is_not_found() && e.operation == "scheduler:ListSchedules" => {
            eprintln!(
                "error: no schedule group {} in {region}: {e}",
                args.schedule_group.as_deref().unwrap_or("")
            );
            return ExitCode::from(2);
        }
        Err(e) if e.is_not_found() => {
            eprintln!(
                "error: no event bus {} in {region}: {e}",
                args.event_bus.as_deref().unwrap_or("")
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: could not list the rules or schedules of {region}: {e}");
            return ExitCode::from(2);
        }
    };
    let rows = ebi::audit::rows(&walk.audits);
    let text = match args.output {
        Output::Json => format!("{}\n", pretty_json(&rows)),
        Output::Text => {
            ebi::audit::table(&rows)
                + &not_evaluated_lines(rows.iter().flat_map(|r| r.not_evaluated.iter()))
        }
    };
    // What was not walked at all: said on stderr, beside the output (JSON stays an array).
    for note in &walk.not_walked {
        eprintln!("note: {note}");
    }
    let written = emit(&text, ExitCode::SUCCESS);
    print_call_counts(&metrics);
    if written != ExitCode::SUCCESS {
        return written;
    }
    use ebi::audit::Verdict;
    if rows.iter().any(|r| r.verdict == Verdict::Error) {
        ExitCode::from(1)
    } else if let Some(r) = rows.iter().find(|r| r.verdict == Verdict::Unreadable) {
        eprintln!(
            "error: the audit is incomplete: {}/{} could not be read: {}",
            r.event_bus,
            r.rule,
            r.read_error.as_deref().unwrap_or("")
        );
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// `collect`: the bundle on stdout; exit 2 when the rule does not exist or cannot be read.
async fn collect_command(args: CollectArgs) -> ExitCode {
    let Some((reader, metrics)) = online_reader(&args.online).await else {
        return ExitCode::from(2);
    };
    let region = reader.clients().region.clone();
    let (collected, what) = match (&args.rule, &args.schedule) {
        (Some(rule), _) => (
            ebi::audit::collect(&reader, rule, &args.event_bus).await,
            format!("rule {rule} on event bus {}", args.event_bus),
        ),
        (None, Some(schedule)) => {
            let (group, name) = schedule_name(schedule);
            (
                ebi::audit::collect_schedule(&reader, group, name).await,
                format!("schedule {name} in group {group}"),
            )
        }
        (None, None) => {
            eprintln!("collect: give --rule NAME or --schedule [GROUP/]NAME");
            return ExitCode::from(2);
        }
    };
    let code = match collected {
        Ok(Some(bundle)) => emit(&format!("{}\n", pretty_json(&bundle)), ExitCode::SUCCESS),
        Ok(None) => {
            eprintln!("error: no {what} in {region}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: could not read the configuration of the {what}: {e}");
            ExitCode::from(2)
        }
    };
    print_call_counts(&metrics);
    code
}

/// `GROUP/NAME`, or `NAME` in Scheduler's `default` group.
fn schedule_name(text: &str) -> (&str, &str) {
    text.split_once('/').unwrap_or(("default", text))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "controller".into())
}

fn text_report(findings: &[Finding]) -> String {
    let mut out = String::new();
    if findings.is_empty() {
        out.push_str("No problems found: EventBridge is allowed to invoke every target.\n");
        return out;
    }
    for f in findings {
        let severity = if f.is_error() { "ERROR" } else { "WARNING" };
        let target = f
            .target_id
            .as_deref()
            .map(|t| format!(" target {t}"))
            .unwrap_or_default();
        out += &format!(
            "{severity} {}{target}: {}\n",
            f.code,
            f.resource.as_deref().unwrap_or("")
        );
        out += &format!("  {}\n", f.message);
        for (i, line) in f.remediation.lines().enumerate() {
            out += &format!("  {}{line}\n", if i == 0 { "Fix: " } else { "     " });
        }
        for note in &f.not_evaluated {
            out += &format!("  Note: {note}\n");
        }
        out.push('\n');
    }
    let errors = findings.iter().filter(|f| f.is_error()).count();
    out += &format!(
        "{errors} error(s), {} warning(s)\n",
        findings.len() - errors
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn checked(flags: &[&str]) -> Result<CheckedFlags, String> {
        let mut argv = vec!["eventbridge-integration-controller", "run"];
        argv.extend_from_slice(flags);
        let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("not the run command");
        };
        check_flags(&args)
    }

    /// Each refusal names its flag, before Kubernetes or AWS is reached.
    #[test]
    fn a_bad_run_flag_is_refused_naming_it() {
        assert!(checked(&[]).is_ok());
        for (flags, named) in [
            (
                &["--max-concurrent-reconciles", "0"][..],
                "--max-concurrent-reconciles",
            ),
            (&["--allowed-account-ids", "12345"], "--allowed-account-ids"),
            (
                &["--organization-role-arn", "not-an-arn"],
                "--organization-role-arn",
            ),
            (
                &["--read-dead-letters", "--observe-delivery", "false"],
                "--read-dead-letters",
            ),
            (&["--delivery-window", "30s"], "--delivery-window"),
            (&["--role-path", "eventbridge"], "--role-path"),
            (&["--role-path", "/a b/"], "--role-path"),
        ] {
            let refused = checked(flags).err().unwrap_or_default();
            assert!(refused.contains(named), "{flags:?}: {refused:?}");
        }
        // Delivery is observed by default, over at least five minutes.
        let window = checked(&[]).unwrap().delivery_window;
        assert!(window.is_some_and(|w| w >= Duration::from_secs(300)));
        assert!(checked(&["--read-dead-letters"]).is_ok());
        // A blank path (a chart's empty value) is none.
        for (path, kept) in [("", None), ("/", Some("/")), ("/team/a/", Some("/team/a/"))] {
            let flags = checked(&["--role-path", path]).unwrap();
            assert_eq!(flags.role_path.as_deref(), kept, "{path:?}");
        }
    }
}
