//! A cross-account chain of roles (the source role assumes a role of the target account):
//! trust, permission and the organisations' policies on both sides.

use super::*;

pub(super) fn check_chain(snapshot: &Snapshot, chain: &Chain, out: &mut Findings) {
    let (Some(from), Some(to)) = (Arn::parse(&chain.from).ok(), Arn::parse(&chain.to).ok()) else {
        check_arn(&chain.from, None, "The chain's source role", out);
        check_arn(&chain.to, None, "The chain's target role", out);
        return;
    };
    if from.missing_account() || to.missing_account() {
        check_arn(&chain.from, None, "The chain's source role", out);
        check_arn(&chain.to, None, "The chain's target role", out);
        return;
    }
    // The source role asking for sts:AssumeRole (on the target role, when its own policy is
    // asked; the trust policy is asked without a resource).
    let request = |resource: Option<String>| Request {
        caller: Caller::Aws {
            arn: chain.from.clone(),
            account: from.account.clone(),
        },
        action: "sts:AssumeRole".into(),
        resource,
        context: Context::new()
            .with("aws:PrincipalArn", chain.from.clone())
            .with("aws:PrincipalAccount", from.account.clone()),
    };
    check_target_trusts_source(snapshot, chain, &to, request(None), out);
    check_source_may_assume(snapshot, chain, request(Some(chain.to.clone())), out);
}

/// The target role exists and its trust policy lets the source role assume it.
fn check_target_trusts_source(
    snapshot: &Snapshot,
    chain: &Chain,
    to: &Arn,
    request: Request,
    out: &mut Findings,
) {
    let trust_fix = format!(
        "aws iam update-assume-role-policy --role-name {} --policy-document '{}' (run with credentials of account {})",
        to.resource_name(),
        json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS": chain.from},"Action":"sts:AssumeRole"}]}),
        to.account
    );
    match snapshot.roles.get(&chain.to) {
        None => out.push(Finding::new(
            Code::CrossAccountTrustMissing,
            None,
            Some(&chain.to),
            format!(
                "Role {} does not exist in account {}, so {} cannot assume it.",
                chain.to, to.account, chain.from
            ),
            trust_fix
                .replace("update-assume-role-policy", "create-role")
                .replace("--policy-document", "--assume-role-policy-document"),
        )),
        Some(role) => {
            let allowed = PolicyDocument::parse(&role.trust_policy)
                .ok()
                .is_some_and(|doc| {
                    evaluate_resource_policy(
                        &NamedPolicy {
                            name: "trust policy",
                            document: &doc,
                        },
                        &request,
                    )
                    .decision
                        == Decision::Allow
                });
            if !allowed {
                out.push(Finding::new(
                    Code::CrossAccountTrustMissing,
                    None,
                    Some(&chain.to),
                    format!("Role {} in account {} does not trust {} (nor its account) for sts:AssumeRole.", chain.to, to.account, chain.from),
                    trust_fix,
                ));
            }
        }
    }
}

/// The source role exists and its own policies (within its boundary) let it assume the
/// target role.
fn check_source_may_assume(
    snapshot: &Snapshot,
    chain: &Chain,
    request: Request,
    out: &mut Findings,
) {
    let assume_fix = remedy::put_statement(
        &chain.from,
        "assume-cross-account",
        json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": chain.to}),
    );
    match snapshot.roles.get(&chain.from) {
        None => out.push(Finding::new(
            Code::CrossAccountAssumeRoleNotAllowed,
            None,
            Some(&chain.from),
            format!(
                "The source role {} does not exist, so nothing can assume {} through it.",
                chain.from, chain.to
            ),
            assume_fix,
        )),
        Some(role) => {
            let docs = identity_documents(role);
            let named: Vec<NamedPolicy<'_>> = docs
                .iter()
                .map(|(n, d)| NamedPolicy {
                    name: n,
                    document: d,
                })
                .collect();
            let boundary = role
                .permissions_boundary
                .as_ref()
                .and_then(|(arn, d)| PolicyDocument::parse(d).ok().map(|d| (arn.clone(), d)));
            let boundary_named = boundary.as_ref().map(|(n, d)| NamedPolicy {
                name: n,
                document: d,
            });
            let eval = evaluate_identity(&named, boundary_named.as_ref(), &request);
            if eval.decision != Decision::Allow {
                let why = match eval.decision {
                    Decision::ExplicitDeny => "an explicit Deny blocks it",
                    _ if eval.boundary_blocks => "its permissions boundary does not allow it",
                    _ => "no statement allows it",
                };
                out.push(Finding::new(
                    Code::CrossAccountAssumeRoleNotAllowed,
                    None,
                    Some(&chain.from),
                    format!(
                        "Role {} may not sts:AssumeRole on {}: {why}.",
                        chain.from, chain.to
                    ),
                    assume_fix,
                ));
            }
        }
    }
}

/// The message and fix for an organisation policy that blocks at one level.
pub(super) fn org_block_text(
    kind: &str,
    full_access: &str,
    block: &OrgBlock,
    levels: &[OrgLevel],
    what: &str,
    exception: &str,
) -> (String, String) {
    match &block.deny {
        Some(s) => {
            let sid = s.sid.clone().unwrap_or_else(|| format!("#{}", s.index + 1));
            let policy = levels
                .iter()
                .find(|l| l.id == block.level)
                .and_then(|l| l.policies.iter().find(|p| p.name == s.policy));
            let policy_id = policy
                .and_then(|p| p.id.clone())
                .unwrap_or_else(|| "POLICY_ID".into());
            let text = policy
                .and_then(|p| p.document.statements.get(s.index))
                .map(|st| {
                    format!(
                        " ({} {})",
                        if st.effect == Effect::Deny { "Deny" } else { "Allow" },
                        st.action.patterns.join(", ")
                    )
                })
                .unwrap_or_default();
            (
                format!(
                    "Statement {sid}{text} of the {kind} {} attached to {} denies {what}. A Deny in an organisation policy overrides every Allow in the account.",
                    s.policy, block.level
                ),
                format!(
                    "Narrow statement {sid} of {kind} {} (attached to {}) so it no longer matches this request, e.g. {exception}, then: aws organizations update-policy --policy-id {policy_id} --content file://policy.json (from the management account)",
                    s.policy, block.level
                ),
            )
        }
        None => (
            format!(
                "No {kind} attached to {} allows {what}: every level of the organisation (root, OU, account) must allow an action, so it is implicitly denied.",
                block.level
            ),
            format!(
                "Attach a {kind} that allows it to {}: aws organizations attach-policy --policy-id {full_access} --target-id {} (or add the action to a policy already attached there), from the management account",
                block.level, block.level
            ),
        ),
    }
}
