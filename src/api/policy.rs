//! `EventBridgeIntegrationPolicy`: what the integrations of the namespaces it selects may
//! ask the controller for. The controller holds IAM power the people who write
//! `EventBridgeIntegration`s do not; under `--policy-mode enforce` an integration is acted
//! on only when one policy that selects its namespace grants every reference in it.
//!
//! Patterns are IAM-style (`*` any run of characters, `?` one); an omitted or empty list
//! grants nothing of that kind, `["*"]` anything.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Grants the integrations of the namespaces it selects the accounts, regions, buses, rule
/// names, targets, roles and queues they may use. Cluster-scoped: only the platform team
/// writes these.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "eventbridge.dev",
    version = "v1alpha1",
    kind = "EventBridgeIntegrationPolicy",
    shortname = "ebipolicy",
    status = "EventBridgeIntegrationPolicyStatus",
    doc = "What the EventBridgeIntegrations of the namespaces it selects may ask the controller for: accounts and regions, event buses, rule names, targets, roles to pass, roles, dead-letter queues, adoption, and the permissions boundary of every role created for them. Under --policy-mode enforce an integration is acted on only when one policy selecting its namespace grants every reference in it.",
    printcolumn = r#"{"name":"Selector","type":"string","description":"Which namespaces it selects","jsonPath":".spec.namespaceSelector"}"#,
    printcolumn = r#"{"name":"Namespaces","type":"string","description":"The namespaces it selects now","jsonPath":".status.namespaces"}"#,
    printcolumn = r#"{"name":"Grants","type":"string","description":"What it grants, in short","jsonPath":".status.grants"}"#,
    printcolumn = r#"{"name":"Targets","type":"string","priority":1,"jsonPath":".spec.targets"}"#,
    printcolumn = r#"{"name":"PassRoles","type":"string","priority":1,"jsonPath":".spec.passRoles"}"#,
    printcolumn = r#"{"name":"Roles","type":"string","priority":1,"jsonPath":".spec.roles"}"#,
    printcolumn = r#"{"name":"Buses","type":"string","priority":1,"jsonPath":".spec.eventBuses"}"#,
    printcolumn = r#"{"name":"Boundary","type":"string","priority":1,"jsonPath":".spec.permissionsBoundaryArn"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct EventBridgeIntegrationPolicySpec {
    /// The namespaces whose integrations this policy governs: a standard label selector
    /// (`matchLabels`, `matchExpressions`). `{}` selects every namespace.
    pub namespace_selector: LabelSelector,

    /// Where integrations may act: accounts, their regions, and how the controller reaches
    /// an account other than its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountGrant>,

    /// Event buses of the rules (and, for EventBusForwarding, of the target account), as
    /// names or ARNs, e.g. `default`, `orders-*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_buses: Vec<String>,

    /// Scheduler schedule groups `spec.schedule.group` may name (default `default`), as names
    /// or ARNs, e.g. `default`, `team-a-*`. Empty: no schedule at all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule_groups: Vec<String>,

    /// Explicit `spec.rule.name` values. Derived names (`ebi-<namespace>-<name>-<hash>`) are
    /// always allowed: they cannot name another namespace's rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_names: Vec<String>,

    /// Every target ARN: the Lambda function (as the target uses it, qualifier included),
    /// the state machine, the SQS queue (the controller writes a statement into its policy),
    /// and for ECS both the cluster and the task definition; for an API destination, the
    /// endpoint's URL (`https://api.example.com/*`: events leave AWS for it). A queue granted
    /// only in `deadLetterQueues` is not a target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,

    /// Every role a created role may pass (`iam:PassRole`): `spec.target.ecs.passRoleArns`,
    /// or the task definition's own execution and task roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_roles: Vec<String>,

    /// Roles named by the spec, as ARNs: a bring-your-own `spec.role.arn`, an explicit
    /// `spec.role.name`, `spec.crossAccount.targetRoleName`. Derived role names are always
    /// allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,

    /// Dead-letter queue ARNs (`spec.target.deadLetterQueueArn`): the controller writes a
    /// statement into the queue's policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dead_letter_queues: Vec<String>,

    /// KMS key ARNs `spec.schedule.kmsKeyArns` may name: a schedule's created role may use
    /// them through SQS or SNS (a queue's or topic's customer managed key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kms_keys: Vec<String>,

    /// Whether `spec.adoptExisting` may take over untagged rules and roles; only those whose
    /// names `ruleNames` and `roles` grant, and what is changed on them is restored when
    /// they are released. Default false.
    #[serde(default)]
    pub adopt_existing: bool,

    /// The permissions boundary every role created for these namespaces carries. A spec
    /// may omit it (it is applied) or repeat it; any other boundary is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$"))]
    pub permissions_boundary_arn: Option<String>,
}

/// One account integrations may act in.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountGrant {
    /// 12 digits, or `*` for any account.
    #[schemars(regex(pattern = r"^(\d{12}|\*)$"))]
    pub account_id: String,

    /// Regions allowed in this account; omitted or empty: any region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,

    /// How the controller reaches this account when it is not its own: the role it
    /// assumes (an ARN, or a pattern a spec's `crossAccount.provisioningRoleArn` must
    /// match). A spec may omit its own, and this role is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:iam::(\d{12}|\*):role/[\w+=,.@/*?-]{1,512}$"))]
    pub provisioning_role_arn: Option<String>,

    /// The external ID the provisioning role's trust policy requires, read from a Secret in
    /// the controller's namespace. Never written to status, Events, logs or metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id_secret_ref: Option<SecretKeyRef>,
}

/// A key of a Secret in the controller's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key whose value is the external ID.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// What the controller sees of the policy: which namespaces it selects now.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventBridgeIntegrationPolicyStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The namespaces the selector matches, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// What it grants, in short (`kubectl get ebipolicy`): the accounts with their regions,
    /// and how many of each other kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<String>,
}
