//! Admission: before a pass reads or writes anything of an integration in AWS, what it may
//! ask for (the tenancy decision), within which limits (the operator's guardrails and the
//! permitting policy's boundary), how it reaches another account, and what it may adopt.
//! Decided once per pass and handed down; an integration no policy permits stops here.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;

use crate::api::{EventBridgeIntegration, OwnedKind, OwnedResource};
use crate::aws::{ExternalId, RemoteAccess};
use crate::controller::Context;
use crate::plan::diff::Adoption;
use crate::plan::{Desired, DesiredRole, Guardrails, PlanError, SpecError};
use crate::tenancy::{self, Candidate, Decision, Grant, PolicyMode, Subject};
use crate::Error;

/// What one pass of one integration may do.
#[derive(Clone, Debug)]
pub(in crate::controller) struct Admission {
    /// The operator's guardrails, with the permitting policy's boundary.
    pub guardrails: Guardrails,
    /// The way into the target account of a cross-account integration.
    pub remote: Option<RemoteAccess>,
    /// The permitting policy; None with `--policy-mode off`.
    grant: Option<Grant>,
    /// `spec.adoptExisting`, which alone decides with `--policy-mode off`.
    adopt_existing: bool,
}

impl Admission {
    pub(in crate::controller) fn via_role(&self) -> Option<&str> {
        self.remote.as_ref().map(|r| r.role_arn.as_str())
    }

    /// The permitting policy's name, for logs.
    pub(in crate::controller) fn policy(&self) -> Option<&str> {
        self.grant.as_ref().map(|g| g.policy.as_str())
    }

    /// What a part may adopt: under a policy, only the names it grants.
    pub(in crate::controller) fn adoption(
        &self,
        desired: &Desired,
        recorded: &[OwnedResource],
    ) -> Adoption {
        let rule_name = desired.rule.as_ref().map(|r| r.name.as_str());
        let role_arn = match &desired.role {
            DesiredRole::Managed(m) => Some(m.arn.as_str()),
            _ => None,
        };
        let (rule, role) = match &self.grant {
            None => (self.adopt_existing, self.adopt_existing),
            Some(g) => (
                rule_name.is_some_and(|n| g.may_adopt_rule(n)),
                role_arn.is_some_and(|a| g.may_adopt_role(a)),
            ),
        };
        let rule_adopted = desired.rule.as_ref().is_some_and(|want| {
            recorded
                .iter()
                .any(|e| e.kind == OwnedKind::Rule && e.arn == want.arn && e.restore.is_some())
        });
        let schedule_recorded = desired.schedule.as_ref().is_some_and(|want| {
            recorded
                .iter()
                .any(|e| e.kind == OwnedKind::Schedule && e.arn == want.arn)
        });
        Adoption {
            rule,
            role,
            rule_adopted,
            schedule_recorded,
            statement_proofs: crate::plan::record::statement_proofs(recorded),
        }
    }
}

/// Admits `obj` for a pass in `region`. `task_roles`: the roles each of its task
/// definitions hands to ECS, once read (they must be passable too).
pub(in crate::controller) async fn admit(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    region: &str,
    task_roles: &BTreeMap<String, Vec<String>>,
) -> Result<Admission, Error> {
    let spec = &obj.spec;
    let global = &ctx.settings.guardrails;
    let Some(tenancy) = ctx
        .tenancy
        .as_ref()
        .filter(|_| ctx.settings.policy_mode == PolicyMode::Enforce)
    else {
        let remote = match &spec.cross_account {
            None => None,
            Some(x) => Some(RemoteAccess {
                role_arn: x.provisioning_role_arn.clone().ok_or_else(|| {
                    invalid(
                        "spec.crossAccount.provisioningRoleArn",
                        "required: name the role the controller assumes in the target account (with --policy-mode enforce, the policy's account entry supplies it)",
                    )
                })?,
                external_id: x.external_id.clone().map(ExternalId::new),
            }),
        };
        return Ok(Admission {
            guardrails: global.clone(),
            remote,
            grant: None,
            adopt_existing: spec.adopt_existing,
        });
    };
    let account = ctx.aws.account_id(&ctx.aws.clients(region)).await?;
    let namespace = obj.namespace().unwrap_or_default();
    let role_path = spec
        .role
        .as_ref()
        .and_then(|r| r.path.as_deref())
        .or(global.role_path.as_deref())
        .unwrap_or("/");
    let subject = Subject {
        namespace: &namespace,
        spec,
        controller_account: &account,
        region,
        role_path,
        task_roles,
    };
    let policies: Vec<Arc<crate::api::EventBridgeIntegrationPolicy>> =
        tenancy.candidates(&namespace);
    let names: Vec<String> = policies.iter().map(|p| p.name_any()).collect();
    let candidates: Vec<Candidate<'_>> = policies
        .iter()
        .zip(&names)
        .map(|(p, name)| Candidate {
            name,
            spec: &p.spec,
        })
        .collect();
    let grant = match tenancy::decide(&subject, &candidates) {
        Decision::Permitted(g) => g,
        Decision::NotPermitted(refusal) => return Err(Error::NotPermitted(refusal)),
    };
    let remote = match &grant.provisioning {
        None => None,
        Some(p) => Some(RemoteAccess {
            role_arn: p.role_arn.clone(),
            external_id: match &p.external_id {
                None => None,
                Some(secret) => Some(tenancy.external_id(secret).await.map_err(|e| {
                    Error::Dependency(format!(
                        "the external ID of policy {}'s entry for account {}: {e}",
                        grant.policy,
                        spec.cross_account
                            .as_ref()
                            .map_or("", |x| x.target_account_id.as_str())
                    ))
                })?),
            },
        }),
    };
    let guardrails = with_policy_boundary(global, &grant, spec)?;
    Ok(Admission {
        guardrails,
        remote,
        grant: Some(grant),
        adopt_existing: spec.adopt_existing,
    })
}

/// The operator's guardrails with the policy's boundary. A role carries one boundary: when
/// the operator's and the policy's differ, no role can be created for this namespace.
fn with_policy_boundary(
    global: &Guardrails,
    grant: &Grant,
    spec: &crate::api::EventBridgeIntegrationSpec,
) -> Result<Guardrails, Error> {
    let mut guardrails = global.clone();
    let Some(policy_boundary) = &grant.permissions_boundary_arn else {
        return Ok(guardrails);
    };
    let creates_role = spec.role.as_ref().is_none_or(|r| r.arn.is_none())
        && (spec
            .target_entries()
            .iter()
            .any(|(_, t)| t.lambda.is_none())
            || spec.cross_account.is_some());
    match &global.permissions_boundary_arn {
        Some(operator) if operator != policy_boundary && creates_role => {
            Err(Error::Plan(PlanError::Guardrail(format!(
                "policy {} requires the permissions boundary {policy_boundary} on every role it grants, but the operator's --permissions-boundary-arn is {operator}: a role carries one boundary, so the platform team must make them agree",
                grant.policy
            ))))
        }
        Some(_) => Ok(guardrails),
        None => {
            guardrails.permissions_boundary_arn = Some(policy_boundary.clone());
            Ok(guardrails)
        }
    }
}

fn invalid(field: &str, message: &str) -> Error {
    Error::Plan(PlanError::InvalidSpec(SpecError {
        field: field.into(),
        message: message.into(),
    }))
}

/// How to reach a recorded resource's account through `via_role` (clean-up, superseded
/// resources, which may belong to an object no longer permitted): the pass's own way in
/// when it is the same role; otherwise the external ID a policy names for that role, or
/// (policies off) the spec's.
pub(in crate::controller) async fn way_in(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    via_role: &str,
    admitted: Option<&Admission>,
) -> Result<RemoteAccess, Error> {
    if let Some(remote) = admitted
        .and_then(|a| a.remote.as_ref())
        .filter(|r| r.role_arn == via_role)
    {
        return Ok(remote.clone());
    }
    let from_spec = || {
        obj.spec
            .cross_account
            .as_ref()
            .filter(|x| x.provisioning_role_arn.as_deref() == Some(via_role))
            .and_then(|x| x.external_id.clone())
            .map(ExternalId::new)
    };
    let external_id = match ctx
        .tenancy
        .as_ref()
        .filter(|_| ctx.settings.policy_mode == PolicyMode::Enforce)
    {
        None => from_spec(),
        Some(tenancy) => {
            let namespace = obj.namespace().unwrap_or_default();
            let secret = tenancy
                .candidates(&namespace)
                .iter()
                .find_map(|p| tenancy::external_id_ref_for(&p.spec, via_role).cloned());
            match secret {
                None => None,
                Some(r) => Some(tenancy.external_id(&r).await.map_err(Error::Dependency)?),
            }
        }
    };
    Ok(RemoteAccess {
        role_arn: via_role.to_string(),
        external_id,
    })
}
