//! One request against every policy type AWS weighs ("Policy evaluation logic", IAM User
//! Guide): resource control policies, service control policies, the resource-based policy,
//! identity-based policies, the permissions boundary and the session policy.
//!
//! The order and the rules, as documented:
//! - An explicit Deny in any applicable policy wins.
//! - SCPs (of the principal's organisation) and RCPs (of the resource's) must allow at every
//!   level of the organisation: root, each OU, the account. SCPs do not apply to AWS service
//!   principals nor to service-linked roles; RCPs do not apply to service-linked roles and
//!   only to the services that support them.
//! - Same account: a resource-based policy that names the principal grants on its own. If it
//!   names the user or the role *session*, a permissions boundary or session policy does not
//!   limit it; if it names the *role* ARN, they do. A grant to the account only delegates to
//!   identity policies.
//! - Cross account: the resource-based policy (in the resource's account) and the identity
//!   policies (in the principal's) must both allow.
//! - Otherwise identity policies must allow, and so must the permissions boundary and the
//!   session policy when there is one.
//!
//! Statements whose conditions the engine cannot judge are reported as "not evaluated"
//! instead of silently counting as no-grant.

use super::eval::{
    assumed_role_of, judge_statement, match_principal, Caller, Context, Decision, NotEvaluated,
    PrincipalMatch, Request, StatementRef, StatementVerdict,
};
use super::policy::{Effect, PolicyDocument};

/// The kind of policy a statement belongs to; the names are `simulate`'s `blockedBy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Rcp,
    Scp,
    Resource,
    Identity,
    Boundary,
    Session,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Rcp => "rcp",
            Layer::Scp => "scp",
            Layer::Resource => "resource",
            Layer::Identity => "identity",
            Layer::Boundary => "pb",
            Layer::Session => "session",
        }
    }
}

/// A policy with the name it is reported by (`identityPolicies[0]`, a policy ARN, …).
#[derive(Clone, Debug, PartialEq)]
pub struct Named {
    pub name: String,
    /// The policy's own ID when it has one (`p-…` for organisation policies).
    pub id: Option<String>,
    pub document: PolicyDocument,
}

/// The SCPs or RCPs attached at one level of the organisation (root, OU or account).
#[derive(Clone, Debug, PartialEq)]
pub struct OrgLevel {
    /// `r-…`, `ou-…` or the account ID.
    pub id: String,
    pub policies: Vec<Named>,
}

/// Every policy that may apply to one request.
#[derive(Clone, Debug, Default)]
pub struct Policies {
    pub identity: Vec<Named>,
    pub resource: Option<Named>,
    /// The permissions boundary (one boundary; several documents are read as one policy).
    pub boundary: Vec<Named>,
    pub session: Option<Named>,
    /// Ordered from the root down to the account.
    pub service_control: Vec<OrgLevel>,
    pub resource_control: Vec<OrgLevel>,
}

/// The caller as the request names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Service(String),
    User { arn: String, account: String },
    Role { arn: String, account: String },
    Session { arn: String, account: String },
    Account { account: String },
    Other { arn: String, account: String },
}

impl Principal {
    /// `events.amazonaws.com`, `123456789012`, `arn:aws:iam::…:root|user/…|role/…`,
    /// `arn:aws:sts::…:assumed-role/…/…`, or another ARN (federated user, …).
    pub fn parse(text: &str) -> Option<Principal> {
        if !text.starts_with("arn:") {
            if super::AccountId::parse(text).is_ok() {
                return Some(Principal::Account {
                    account: text.to_string(),
                });
            }
            return (text.contains('.') && !text.contains(':'))
                .then(|| Principal::Service(text.to_string()));
        }
        let arn = super::Arn::parse(text).ok()?;
        let account = arn.account.clone();
        if account.is_empty() {
            return None;
        }
        let owned = text.to_string();
        Some(match (arn.service.as_str(), arn.resource.as_str()) {
            ("iam", "root") => Principal::Account { account },
            ("iam", r) if r.starts_with("user/") => Principal::User {
                arn: owned,
                account,
            },
            ("iam", r) if r.starts_with("role/") => Principal::Role {
                arn: owned,
                account,
            },
            ("sts", r) if r.starts_with("assumed-role/") && r.matches('/').count() >= 2 => {
                Principal::Session {
                    arn: owned,
                    account,
                }
            }
            _ => Principal::Other {
                arn: owned,
                account,
            },
        })
    }

    pub fn account(&self) -> Option<&str> {
        match self {
            Principal::Service(_) => None,
            Principal::User { account, .. }
            | Principal::Role { account, .. }
            | Principal::Session { account, .. }
            | Principal::Account { account }
            | Principal::Other { account, .. } => Some(account),
        }
    }

    /// The ARN policies see as `aws:PrincipalArn`: the role, for a session.
    pub fn principal_arn(&self) -> Option<String> {
        match self {
            Principal::Service(_) => None,
            Principal::Session { arn, .. } => assumed_role_of(arn),
            Principal::Account { account } => Some(format!("arn:aws:iam::{account}:root")),
            Principal::User { arn, .. }
            | Principal::Role { arn, .. }
            | Principal::Other { arn, .. } => Some(arn.clone()),
        }
    }

    /// Service-linked roles live under `role/aws-service-role/` and are named
    /// `AWSServiceRoleFor…` (all a session ARN shows); SCPs and RCPs skip them.
    pub fn is_service_linked(&self) -> bool {
        self.principal_arn().is_some_and(|a| {
            a.contains(":role/aws-service-role/")
                || (matches!(self, Principal::Session { .. })
                    && a.rsplit('/')
                        .next()
                        .is_some_and(|n| n.starts_with("AWSServiceRoleFor")))
        })
    }

    fn caller(&self) -> Caller {
        match self {
            Principal::Service(name) => Caller::Service(name.clone()),
            Principal::Account { account } => Caller::Aws {
                arn: format!("arn:aws:iam::{account}:root"),
                account: account.clone(),
            },
            Principal::User { arn, account }
            | Principal::Role { arn, account }
            | Principal::Session { arn, account }
            | Principal::Other { arn, account } => Caller::Aws {
                arn: arn.clone(),
                account: account.clone(),
            },
        }
    }
}

/// The question: may `principal` perform `action` on `resource` (owned by `resource_account`)?
#[derive(Clone, Debug)]
pub struct Question {
    pub principal: Principal,
    pub action: String,
    pub resource: String,
    /// The account that owns the resource; defaults to the ARN's account, else the principal's.
    pub resource_account: Option<String>,
    pub context: Context,
}

/// A statement that decided, with its policy type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub layer: Layer,
    pub effect: Effect,
    pub statement: StatementRef,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    /// The policy types that denied (explicitly) or did not allow (implicitly).
    pub blocked_by: Vec<Layer>,
    /// The statements that decided: the Denies, or the Allows that granted.
    pub explain: Vec<Decided>,
    /// Statements that matched but whose conditions could not be judged.
    pub not_evaluated: Vec<(Layer, NotEvaluated)>,
    /// SCP/RCP levels that allowed nothing for this request: (layer, level ID).
    pub org_levels_blocking: Vec<(Layer, String)>,
}

/// Services whose actions RCPs apply to ("List of AWS services that support RCPs").
const RCP_SERVICES: &[&str] = &[
    "s3",
    "sts",
    "sqs",
    "kms",
    "secretsmanager",
    "ecr",
    "aoss",
    "cognito-identity",
    "logs",
    "dynamodb",
    "s3express",
];

/// Whether RCPs weigh on `action` (`service:Operation`) at all: SNS, Lambda, EventBridge and
/// most services are outside them, so an RCP naming `*` still never blocks those calls.
pub fn rcp_applies_to(action: &str) -> bool {
    let service = action.split(':').next().unwrap_or_default();
    RCP_SERVICES.contains(&service.to_ascii_lowercase().as_str())
}

/// What one policy (or set of policies of one type) says about the request.
#[derive(Default)]
struct Verdict {
    allows: Vec<(StatementRef, Option<PrincipalMatch>)>,
    denies: Vec<StatementRef>,
    not_evaluated: Vec<NotEvaluated>,
}

fn scan(policies: &[&Named], request: &Request, check_principal: bool) -> Verdict {
    scan_for(policies, request, check_principal, false)
}

/// [`scan`], for a caller that has a permissions boundary when `bounded`: "The NotPrincipal
/// element with a Deny effect will always deny any IAM principal that has a permissions
/// boundary policy attached, regardless of the values specified in the NotPrincipal element"
/// (IAM User Guide, "Permissions boundaries for IAM entities"). Such a statement then
/// applies whoever its NotPrincipal names.
fn scan_for(
    policies: &[&Named],
    request: &Request,
    check_principal: bool,
    bounded: bool,
) -> Verdict {
    let mut v = Verdict::default();
    for p in policies {
        for (index, s) in p.document.statements.iter().enumerate() {
            let at = || StatementRef {
                policy: p.name.clone(),
                index,
                sid: s.sid.clone(),
            };
            let not_principal_deny =
                s.effect == Effect::Deny && s.principal.as_ref().is_some_and(|pm| pm.negated);
            let check = check_principal && !(bounded && not_principal_deny);
            let StatementVerdict::Applies {
                failed,
                not_evaluated,
            } = judge_statement(s, request, check)
            else {
                continue;
            };
            if !failed.is_empty() {
                continue;
            }
            if !not_evaluated.is_empty() {
                for (condition, reason) in not_evaluated {
                    v.not_evaluated.push(NotEvaluated {
                        statement: at(),
                        effect: s.effect,
                        condition,
                        reason,
                    });
                }
                continue;
            }
            match s.effect {
                Effect::Deny => v.denies.push(at()),
                Effect::Allow => {
                    let how = if check_principal {
                        s.principal
                            .as_ref()
                            .and_then(|pm| match_principal(pm, &request.caller))
                    } else {
                        None
                    };
                    v.allows.push((at(), how));
                }
            }
        }
    }
    v
}

/// The request AWS evaluates for `question`: its context with the keys AWS puts in every
/// request (unless the question sets them itself), and the principal's and the resource's
/// accounts.
fn request_of(question: &Question) -> (Request, Option<String>, Option<String>) {
    let principal = &question.principal;
    let principal_account = principal.account().map(str::to_string);
    let resource_account = question
        .resource_account
        .clone()
        .filter(|a| !a.is_empty())
        .or_else(|| super::arn::account_of(&question.resource))
        .or_else(|| principal_account.clone());
    let mut context = question.context.clone();
    // Keys AWS puts in every request context, unless the question sets them itself.
    let mut default_key = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            if context.get(key).is_none() {
                context = std::mem::take(&mut context).with(key, value);
            }
        }
    };
    default_key("aws:PrincipalArn", principal.principal_arn());
    default_key("aws:PrincipalAccount", principal_account.clone());
    default_key("aws:ResourceAccount", resource_account.clone());
    default_key(
        "aws:PrincipalIsAWSService",
        Some(matches!(principal, Principal::Service(_)).to_string()),
    );
    // aws:PrincipalType and aws:username as the global condition keys page defines them.
    let principal_type = match principal {
        Principal::Service(_) => None,
        Principal::Account { .. } => Some("Account"),
        Principal::User { .. } => Some("User"),
        Principal::Role { .. } | Principal::Session { .. } => Some("AssumedRole"),
        Principal::Other { arn, .. } if arn.contains(":federated-user/") => Some("FederatedUser"),
        Principal::Other { .. } => None,
    };
    default_key("aws:PrincipalType", principal_type.map(str::to_string));
    if let Principal::User { arn, .. } = principal {
        default_key("aws:username", arn.rsplit('/').next().map(str::to_string));
    }
    if let Principal::Service(name) = principal {
        default_key("aws:PrincipalServiceName", Some(name.clone()));
    }
    let request = Request {
        caller: principal.caller(),
        action: question.action.clone(),
        resource: Some(question.resource.clone()),
        context,
    };
    (request, principal_account, resource_account)
}

/// Evaluates one request against every policy type.
pub fn evaluate(question: &Question, policies: &Policies) -> Outcome {
    let mut out = Outcome {
        decision: Decision::ImplicitDeny,
        blocked_by: vec![],
        explain: vec![],
        not_evaluated: vec![],
        org_levels_blocking: vec![],
    };
    // "No permissions are required to perform this operation. If an administrator attaches a
    // policy to your identity that explicitly denies access to the sts:GetCallerIdentity
    // action, you can still perform this operation" (AWS STS API Reference,
    // GetCallerIdentity): no policy of any type is consulted.
    if question
        .action
        .eq_ignore_ascii_case("sts:GetCallerIdentity")
    {
        out.decision = Decision::Allow;
        return out;
    }
    let (request, principal_account, resource_account) = request_of(question);
    let scanned = scan_layers(question, policies, &request, &mut out);

    // 1. An explicit Deny anywhere wins.
    if !scanned.denies.is_empty() {
        out.decision = Decision::ExplicitDeny;
        for (layer, _) in &scanned.denies {
            if !out.blocked_by.contains(layer) {
                out.blocked_by.push(*layer);
            }
        }
        out.explain = scanned
            .denies
            .into_iter()
            .map(|(layer, statement)| Decided {
                layer,
                effect: Effect::Deny,
                statement,
            })
            .collect();
        return out;
    }
    // 2. RCPs and SCPs: a level that allows nothing is an implicit deny.
    for (layer, _) in &out.org_levels_blocking {
        if !out.blocked_by.contains(layer) {
            out.blocked_by.push(*layer);
        }
    }
    if !out.blocked_by.is_empty() {
        return out;
    }
    // 3 and 4.
    let same_account = matches!(question.principal, Principal::Service(_))
        || principal_account == resource_account;
    match weigh_allows(question, &scanned, same_account) {
        Ok(explain) => {
            out.decision = Decision::Allow;
            out.explain = explain;
        }
        Err(blocked) => out.blocked_by = blocked,
    }
    out
}

/// Every layer's verdict on one request, read before any is weighed.
struct Scanned {
    /// The Deny statements that match, by layer.
    denies: Vec<(Layer, StatementRef)>,
    rcp_allows: Vec<StatementRef>,
    scp_allows: Vec<StatementRef>,
    resource: Verdict,
    identity: Verdict,
    /// None: the layer does not apply (no boundary or session policy, or a service
    /// principal, which has none).
    boundary: Option<Verdict>,
    session: Option<Verdict>,
}

/// Reads every layer that applies to the caller: the organisation's (into `out`, the
/// levels that allow nothing), then the resource's, the identity's, the boundary and the
/// session policy; what could not be judged goes to `out.not_evaluated`.
fn scan_layers(
    question: &Question,
    policies: &Policies,
    request: &Request,
    out: &mut Outcome,
) -> Scanned {
    let principal = &question.principal;
    let is_service = matches!(principal, Principal::Service(_));
    let rcp_applies = !principal.is_service_linked() && rcp_applies_to(&question.action);
    let scp_applies = !is_service && !principal.is_service_linked();
    let mut denies: Vec<(Layer, StatementRef)> = vec![];
    let mut keep = |layer: Layer, v: &Verdict, out: &mut Outcome| {
        denies.extend(v.denies.iter().map(|d| (layer, d.clone())));
        out.not_evaluated
            .extend(v.not_evaluated.iter().map(|n| (layer, n.clone())));
    };

    // Organisation policies: every level must allow. For RCPs every level does: AWS attaches
    // RCPFullAWSAccess to the root, every OU and every account when RCPs are enabled, and it
    // cannot be detached ("RCP evaluation", AWS Organizations User Guide), so an RCP can
    // only deny.
    let mut org = |layer: Layer, levels: &[OrgLevel], check_principal: bool, out: &mut Outcome| {
        let mut allows = vec![];
        for level in levels {
            let named: Vec<&Named> = level.policies.iter().collect();
            let v = scan(&named, request, check_principal);
            keep(layer, &v, out);
            if v.allows.is_empty() && layer == Layer::Scp {
                out.org_levels_blocking.push((layer, level.id.clone()));
            }
            allows.extend(v.allows.into_iter().map(|(s, _)| s));
        }
        allows
    };
    let rcp_allows = if rcp_applies {
        org(Layer::Rcp, &policies.resource_control, true, out)
    } else {
        vec![]
    };
    let scp_allows = if scp_applies {
        org(Layer::Scp, &policies.service_control, false, out)
    } else {
        vec![]
    };

    let bounded = !policies.boundary.is_empty() && !is_service;
    let resource = policies
        .resource
        .as_ref()
        .map(|r| scan_for(&[r], request, true, bounded))
        .unwrap_or_default();
    keep(Layer::Resource, &resource, out);
    let identity = if is_service {
        Verdict::default() // a service principal has no identity policies
    } else {
        scan(
            &policies.identity.iter().collect::<Vec<_>>(),
            request,
            false,
        )
    };
    keep(Layer::Identity, &identity, out);
    let boundary = (!policies.boundary.is_empty() && !is_service).then(|| {
        scan(
            &policies.boundary.iter().collect::<Vec<_>>(),
            request,
            false,
        )
    });
    if let Some(b) = &boundary {
        keep(Layer::Boundary, b, out);
    }
    let session = policies
        .session
        .as_ref()
        .filter(|_| !is_service)
        .map(|s| scan(&[s], request, false));
    if let Some(s) = &session {
        keep(Layer::Session, s, out);
    }
    Scanned {
        denies,
        rcp_allows,
        scp_allows,
        resource,
        identity,
        boundary,
        session,
    }
}

/// Steps 3 and 4, once nothing denies: the Allows that grant the request (Ok), or the
/// layers that fail to allow it (Err).
fn weigh_allows(
    question: &Question,
    scanned: &Scanned,
    same_account: bool,
) -> Result<Vec<Decided>, Vec<Layer>> {
    let principal = &question.principal;
    let is_service = matches!(principal, Principal::Service(_));
    let Scanned {
        resource,
        identity,
        boundary,
        session,
        ..
    } = scanned;
    let mut explain = vec![];
    let mut grant = |layer: Layer, refs: &[StatementRef]| {
        explain.extend(refs.iter().map(|s| Decided {
            layer,
            effect: Effect::Allow,
            statement: s.clone(),
        }));
    };
    grant(Layer::Rcp, &scanned.rcp_allows);
    grant(Layer::Scp, &scanned.scp_allows);

    let refs = |v: &Verdict| v.allows.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
    let boundary_ok = boundary.as_ref().is_none_or(|b| !b.allows.is_empty());
    let session_ok = session.as_ref().is_none_or(|s| !s.allows.is_empty());
    let service = question
        .action
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    // A KMS key is usable only as far as its key policy allows (IAM policies count only when
    // the key policy grants the account), and a role only by principals its trust policy
    // allows: there the resource-based policy is required even within one account.
    let resource_policy_required = service == "kms"
        || question
            .action
            .to_ascii_lowercase()
            .starts_with("sts:assumerole");
    // "All requests are implicitly denied with the exception of the AWS account root user,
    // which has full access": its identity side always allows (SCPs, resource-based
    // policies across accounts, and any Deny still apply).
    let root_user = matches!(principal, Principal::Account { .. });
    let identity_ok = !identity.allows.is_empty() || root_user;

    // The closest way the resource policy names the caller.
    let resource_match = resource
        .allows
        .iter()
        .filter_map(|(_, m)| *m)
        .map(|m| match (m, principal) {
            // A role calling as itself: the grant names the role ARN, which the documentation
            // says the boundary and session policy limit.
            (PrincipalMatch::Exact, Principal::Role { .. }) => PrincipalMatch::Role,
            (m, _) => m,
        })
        .min();
    let (blocked, granting) = deciding_layers(
        same_account,
        resource_match,
        is_service,
        resource_policy_required,
        identity_ok,
        boundary_ok,
        session_ok,
    );
    if !blocked.is_empty() {
        return Err(blocked);
    }
    for layer in granting {
        match layer {
            Layer::Identity => grant(Layer::Identity, &refs(identity)),
            _ => grant(Layer::Resource, &refs(resource)),
        }
    }
    // The boundary and session policy limit what they do not name exactly.
    let limited = !(same_account
        && matches!(
            resource_match,
            Some(PrincipalMatch::Exact | PrincipalMatch::Anyone)
        ));
    if let (true, Some(b)) = (limited, boundary) {
        grant(Layer::Boundary, &refs(b));
    }
    if let (true, Some(s)) = (limited, session) {
        grant(Layer::Session, &refs(s));
    }
    Ok(explain)
}

/// Steps 3 and 4 of AWS's evaluation logic, once no Deny and no organisation level blocks:
/// the layers that fail to allow (empty: allowed), and the layers whose allows grant it
/// (Resource, Identity), by how the resource policy names the caller (`resource_match`).
fn deciding_layers(
    same_account: bool,
    resource_match: Option<PrincipalMatch>,
    is_service: bool,
    resource_policy_required: bool,
    identity_ok: bool,
    boundary_ok: bool,
    session_ok: bool,
) -> (Vec<Layer>, Vec<Layer>) {
    let mut blocked = vec![];
    let mut granting = vec![];
    let limits = |blocked: &mut Vec<Layer>| {
        if !boundary_ok {
            blocked.push(Layer::Boundary);
        }
        if !session_ok {
            blocked.push(Layer::Session);
        }
    };
    if same_account {
        match resource_match {
            // 3a. Names the caller itself (or everyone): grants on its own.
            Some(PrincipalMatch::Exact | PrincipalMatch::Anyone) => granting.push(Layer::Resource),
            // 3b. Names the session's role: limited by boundary and session policy.
            Some(PrincipalMatch::Role) => {
                limits(&mut blocked);
                granting.push(Layer::Resource);
            }
            // 3c. Names the account, or nothing: identity policies decide — except where the
            // resource-based policy is required (KMS key policies, role trust policies).
            Some(PrincipalMatch::Account) | None => {
                if is_service || (resource_match.is_none() && resource_policy_required) {
                    blocked.push(Layer::Resource);
                }
                if !is_service {
                    if !identity_ok {
                        blocked.push(Layer::Identity);
                    }
                    limits(&mut blocked);
                    granting.push(Layer::Identity);
                }
            }
        }
    } else {
        // 4. Cross account: both sides must allow.
        if resource_match.is_none() {
            blocked.push(Layer::Resource);
        }
        if !identity_ok {
            blocked.push(Layer::Identity);
        }
        limits(&mut blocked);
        granting.extend([Layer::Resource, Layer::Identity]);
    }
    (blocked, granting)
}

/// Why one level of the organisation blocks a request: its Deny statement, or (None) that
/// nothing at that level allows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgBlock {
    pub level: String,
    pub deny: Option<StatementRef>,
}

/// SCPs (`Layer::Scp`) or RCPs (`Layer::Rcp`, whose statements name principals) on their
/// own: the levels that block the request, and the statements that could not be judged. A
/// level whose only Allow could not be judged is not counted as blocking: it is reported as
/// not evaluated instead. An RCP level blocks only by a Deny: RCPFullAWSAccess, attached to
/// every level and impossible to detach, allows the rest.
pub fn org_blocks(
    levels: &[OrgLevel],
    request: &Request,
    layer: Layer,
) -> (Vec<OrgBlock>, Vec<NotEvaluated>) {
    let check_principal = layer == Layer::Rcp;
    let mut blocks = vec![];
    let mut unknown = vec![];
    for level in levels {
        let named: Vec<&Named> = level.policies.iter().collect();
        let v = scan(&named, request, check_principal);
        let undecided_allow = v.not_evaluated.iter().any(|n| n.effect == Effect::Allow);
        if let Some(d) = v.denies.first() {
            blocks.push(OrgBlock {
                level: level.id.clone(),
                deny: Some(d.clone()),
            });
        } else if v.allows.is_empty() && !undecided_allow && layer == Layer::Scp {
            blocks.push(OrgBlock {
                level: level.id.clone(),
                deny: None,
            });
        }
        // What could not be judged and weighs: a Deny; an Allow only at an SCP level where
        // nothing else allows (an RCP level always allows).
        let allowed = !v.allows.is_empty();
        unknown.extend(
            v.not_evaluated
                .into_iter()
                .filter(|n| n.effect == Effect::Deny || (layer == Layer::Scp && !allowed)),
        );
    }
    (blocks, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn principals_are_typed_by_their_shape() {
        assert_eq!(
            Principal::parse("events.amazonaws.com"),
            Some(Principal::Service("events.amazonaws.com".into()))
        );
        assert!(matches!(
            Principal::parse("arn:aws:sts::1:assumed-role/r/s"),
            Some(Principal::Session { .. })
        ));
        assert!(matches!(
            Principal::parse("arn:aws:iam::111122223333:root"),
            Some(Principal::Account { .. })
        ));
        assert!(matches!(
            Principal::parse("111122223333"),
            Some(Principal::Account { .. })
        ));
        assert_eq!(Principal::parse("role/r"), None);
        assert_eq!(Principal::parse("arn:aws:iam:::role/r"), None);
        let s = Principal::parse("arn:aws:sts::1:assumed-role/r/s").unwrap();
        assert_eq!(s.principal_arn().as_deref(), Some("arn:aws:iam::1:role/r"));
        assert!(
            Principal::parse("arn:aws:iam::1:role/aws-service-role/ecs.amazonaws.com/X")
                .unwrap()
                .is_service_linked()
        );
    }

    #[test]
    fn rcps_weigh_only_on_the_services_they_cover() {
        assert!(rcp_applies_to("sqs:SendMessage"));
        assert!(rcp_applies_to("KMS:GenerateDataKey"));
        assert!(rcp_applies_to("sts:AssumeRole"));
        assert!(!rcp_applies_to("sns:Publish"));
        assert!(!rcp_applies_to("lambda:InvokeFunction"));
        assert!(!rcp_applies_to("events:PutEvents"));
    }

    #[test]
    fn org_blocks_names_the_level_and_the_statement() {
        let named = |name: &str, v: serde_json::Value| Named {
            name: name.into(),
            id: None,
            document: PolicyDocument::parse(&v).unwrap(),
        };
        let full = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
        let levels = vec![
            OrgLevel {
                id: "r-1".into(),
                policies: vec![named("FullAWSAccess", full.clone())],
            },
            OrgLevel {
                id: "ou-1".into(),
                policies: vec![
                    named("FullAWSAccess", full.clone()),
                    named(
                        "NoEcs",
                        json!({"Statement": {"Sid": "NoRun", "Effect": "Deny", "Action": "ecs:*", "Resource": "*"}}),
                    ),
                ],
            },
            OrgLevel {
                id: "111".into(),
                policies: vec![named(
                    "S3",
                    json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}),
                )],
            },
        ];
        let request = Request {
            caller: Caller::Aws {
                arn: "arn:aws:iam::111:role/r".into(),
                account: "111".into(),
            },
            action: "ecs:RunTask".into(),
            resource: Some("*".into()),
            context: Context::new(),
        };
        let (blocks, unknown) = org_blocks(&levels, &request, Layer::Scp);
        assert!(unknown.is_empty());
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].level, "ou-1");
        assert_eq!(
            blocks[0].deny.as_ref().unwrap().sid.as_deref(),
            Some("NoRun")
        );
        assert_eq!(
            blocks[1],
            OrgBlock {
                level: "111".into(),
                deny: None
            }
        );
    }
}
