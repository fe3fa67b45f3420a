//! What the organisation's service and resource control policies deny, and what the
//! snapshot did not let the engine evaluate.

use super::*;

impl TargetCheck<'_> {
    /// Attaches "not evaluated" notes to the finding of this code and resource, if any.
    pub(super) fn note_not_evaluated(
        &mut self,
        code: Code,
        resource: &str,
        notes: &[NotEvaluated],
    ) {
        if notes.is_empty() {
            return;
        }
        let target = Some(self.target.id.clone());
        if let Some(f) = self.out.0.iter_mut().find(|f| {
            f.code == code && f.resource.as_deref() == Some(resource) && f.target_id == target
        }) {
            f.not_evaluated.extend(notes.iter().map(|n| n.to_string()));
        }
    }

    /// The request context organisation policies see: what this engine knows, and the keys
    /// whose value it cannot know offline marked unknown (so a condition on them is reported
    /// as not evaluated instead of being judged as if the key were absent).
    pub(super) fn org_context(&self, base: &Context, service_principal: bool) -> Context {
        let mut ctx = base.clone();
        let org_id = self
            .snapshot
            .organization
            .as_ref()
            .and_then(|o| o.id.clone());
        let region = Arn::parse(&self.rule.arn)
            .map(|a| a.region)
            .unwrap_or_default();
        ctx = ctx
            .with("aws:ResourceAccount", self.account)
            .with("aws:PrincipalIsAWSService", service_principal.to_string());
        if !region.is_empty() {
            ctx = ctx.with("aws:RequestedRegion", region);
        }
        if service_principal {
            ctx = ctx.with("aws:PrincipalServiceName", EVENTS);
        }
        let org_keys: &[&str] = if service_principal {
            &["aws:SourceOrgID", "aws:ResourceOrgID"]
        } else {
            &["aws:PrincipalOrgID", "aws:ResourceOrgID"]
        };
        for key in org_keys {
            ctx = match &org_id {
                Some(id) => ctx.with(key, id.clone()),
                None => ctx.with_unknown(key),
            };
        }
        for key in [
            "aws:PrincipalOrgPaths",
            "aws:ResourceOrgPaths",
            "aws:SourceOrgPaths",
            "aws:PrincipalTag/",
            "aws:ResourceTag/",
            "aws:RequestTag/",
            "aws:TagKeys",
            "aws:SourceIp",
            "aws:SourceVpc",
            "aws:SourceVpce",
            "aws:VpcSourceIp",
            "aws:ViaAWSService",
            "aws:CalledVia",
            "aws:CalledViaFirst",
            "aws:CalledViaLast",
            "aws:CurrentTime",
            "aws:EpochTime",
            "aws:userid",
        ] {
            ctx = ctx.with_unknown(key);
        }
        ctx
    }

    /// SCPs limit what the target's role may do (EventBridge itself, a service principal,
    /// is not subject to them).
    pub(super) fn check_service_control(&mut self, role: &Role, request: &Request, what: &str) {
        let snapshot = self.snapshot;
        let Some(org) = &snapshot.organization else {
            return;
        };
        if org.service_control.is_empty() || role.arn.contains(":role/aws-service-role/") {
            return;
        }
        let request = Request {
            context: self.org_context(&request.context, false),
            ..request.clone()
        };
        let (blocks, unknown) = org_blocks(&org.service_control, &request, Layer::Scp);
        let Some(block) = blocks.first() else {
            return;
        };
        let (message, fix) = org_block_text(
            "service control policy",
            "p-FullAWSAccess",
            block,
            &org.service_control,
            &format!("role {} {what}", role.name),
            &format!(
                "an exception for this role in its Condition (ArnNotLike aws:PrincipalArn {})",
                role.arn
            ),
        );
        self.finding(Code::ServiceControlPolicyBlocks, &block.level, message, fix);
        self.note_not_evaluated(
            Code::ServiceControlPolicyBlocks,
            &block.level.clone(),
            &unknown,
        );
    }

    /// RCPs limit what anyone, AWS services included, may do to the account's resources.
    /// True when they block.
    pub(super) fn check_resource_control(&mut self, request: &Request, what: &str) -> bool {
        let snapshot = self.snapshot;
        let Some(org) = &snapshot.organization else {
            return false;
        };
        if org.resource_control.is_empty() {
            return false;
        }
        let request = Request {
            context: self.org_context(
                &request.context,
                matches!(request.caller, Caller::Service(_)),
            ),
            ..request.clone()
        };
        let (blocks, unknown) = org_blocks(&org.resource_control, &request, Layer::Rcp);
        let Some(block) = blocks.first() else {
            return false;
        };
        let exception = format!(
            "an exception for EventBridge acting for this account in its Condition (StringEquals aws:SourceAccount {})",
            self.account
        );
        let (message, fix) = org_block_text(
            "resource control policy",
            "p-RCPFullAWSAccess",
            block,
            &org.resource_control,
            what,
            &exception,
        );
        self.finding(
            Code::ResourceControlPolicyBlocks,
            &block.level,
            message,
            fix,
        );
        self.note_not_evaluated(
            Code::ResourceControlPolicyBlocks,
            &block.level.clone(),
            &unknown,
        );
        true
    }
}
