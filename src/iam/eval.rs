//! Policy evaluation as AWS documents it ("Policy evaluation logic"): an explicit Deny in any
//! applicable policy wins; otherwise identity policies must allow, and so must the
//! permissions boundary when the role has one; anything else is an implicit deny.
//! Resource-based policies (trust policies, Lambda function policies) are evaluated with
//! their `Principal` element against the caller.
//!
//! Besides the decision, evaluation reports *why*: which statements allowed or denied, and
//! which Allow statements matched principal, action and resource but failed a condition —
//! the difference between "missing trust" and "trust that does not fit this rule".

use std::collections::BTreeMap;

use super::arn::arn_like;
use super::glob;
use super::policy::{
    Condition, Effect, PolicyDocument, PrincipalKind, PrincipalMatcher, Statement,
};

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// An AWS service principal such as `events.amazonaws.com`.
    Service(String),
    /// An IAM principal (role, user, assumed-role session) of an account.
    Aws { arn: String, account: String },
}

/// The request context: condition keys (case-insensitive) to one or more values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    keys: BTreeMap<String, Vec<String>>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Context {
        self.keys
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.into());
        self
    }
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.keys.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub caller: Caller,
    pub action: String,
    /// None for requests that name no resource (assuming a role through its trust policy).
    pub resource: Option<String>,
    pub context: Context,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// Points at one statement of one named policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementRef {
    pub policy: String,
    pub index: usize,
    pub sid: Option<String>,
}

/// An Allow statement that fits the request except for these conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearMiss {
    pub statement: StatementRef,
    pub failed: Vec<Condition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    pub allowed_by: Vec<StatementRef>,
    pub denied_by: Vec<StatementRef>,
    pub near_misses: Vec<NearMiss>,
    /// Identity policies allowed the request but the permissions boundary did not.
    pub boundary_blocks: bool,
}

/// A policy with a name to report it by.
pub struct NamedPolicy<'a> {
    pub name: &'a str,
    pub document: &'a PolicyDocument,
}

/// One policy on its own (a trust policy or a Lambda resource policy).
pub fn evaluate_resource_policy(policy: &NamedPolicy<'_>, request: &Request) -> Evaluation {
    let mut tally = Tally::default();
    tally.scan(policy, request, true);
    tally.finish(None)
}

/// Identity policies of a principal, optionally bounded by a permissions boundary.
pub fn evaluate_identity(
    identity: &[NamedPolicy<'_>],
    boundary: Option<&NamedPolicy<'_>>,
    request: &Request,
) -> Evaluation {
    let mut tally = Tally::default();
    for p in identity {
        tally.scan(p, request, false);
    }
    let boundary_allows = boundary.map(|b| {
        let mut bt = Tally::default();
        bt.scan(b, request, false);
        tally.denied_by.extend(bt.denied_by.iter().cloned());
        !bt.allowed_by.is_empty()
    });
    tally.finish(boundary_allows)
}

#[derive(Default)]
struct Tally {
    allowed_by: Vec<StatementRef>,
    denied_by: Vec<StatementRef>,
    near_misses: Vec<NearMiss>,
}

impl Tally {
    fn scan(&mut self, policy: &NamedPolicy<'_>, request: &Request, check_principal: bool) {
        for (index, s) in policy.document.statements.iter().enumerate() {
            let at = || StatementRef {
                policy: policy.name.to_string(),
                index,
                sid: s.sid.clone(),
            };
            if !statement_applies(s, request, check_principal) {
                continue;
            }
            let failed: Vec<Condition> = s
                .conditions
                .iter()
                .filter(|c| !condition_holds(c, &request.context))
                .cloned()
                .collect();
            match (s.effect, failed.is_empty()) {
                (Effect::Deny, true) => self.denied_by.push(at()),
                (Effect::Allow, true) => self.allowed_by.push(at()),
                (Effect::Allow, false) => self.near_misses.push(NearMiss {
                    statement: at(),
                    failed,
                }),
                (Effect::Deny, false) => {}
            }
        }
    }

    fn finish(self, boundary_allows: Option<bool>) -> Evaluation {
        let identity_allows = !self.allowed_by.is_empty();
        let decision = if !self.denied_by.is_empty() {
            Decision::ExplicitDeny
        } else if identity_allows && boundary_allows.unwrap_or(true) {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        };
        Evaluation {
            decision,
            boundary_blocks: identity_allows
                && boundary_allows == Some(false)
                && self.denied_by.is_empty(),
            allowed_by: self.allowed_by,
            denied_by: self.denied_by,
            near_misses: self.near_misses,
        }
    }
}

/// Principal, action and resource fit (conditions are judged separately).
fn statement_applies(s: &Statement, request: &Request, check_principal: bool) -> bool {
    if check_principal {
        match &s.principal {
            Some(p) => {
                if !principal_matches(p, &request.caller) {
                    return false;
                }
            }
            // A resource policy statement without a principal applies to no one.
            None => return false,
        }
    }
    let action_hit = s
        .action
        .patterns
        .iter()
        .any(|p| glob::matches_ignore_case(p, &request.action));
    if action_hit == s.action.negated {
        return false;
    }
    match (&s.resource, &request.resource) {
        (Some(m), Some(resource)) => {
            let hit = m
                .patterns
                .iter()
                .any(|p| glob::matches(&substitute(p, &request.context), resource));
            hit != m.negated
        }
        // Trust policies have no Resource: the role itself is the resource.
        (None, _) => true,
        (Some(m), None) => m.patterns.iter().any(|p| p == "*") != m.negated,
    }
}

fn principal_matches(p: &PrincipalMatcher, caller: &Caller) -> bool {
    let listed = p.any
        || p.entries.iter().any(|(kind, value)| match (kind, caller) {
            (PrincipalKind::Service, Caller::Service(name)) => value.eq_ignore_ascii_case(name),
            (PrincipalKind::Aws, Caller::Aws { arn, account }) => {
                value == "*"
                    || value == arn
                    || value == account
                    || *value == format!("arn:aws:iam::{account}:root")
                    || assumed_role_of(arn).is_some_and(|role| value == &role)
            }
            _ => false,
        });
    listed != p.negated
}

/// `arn:aws:sts::1:assumed-role/Name/session` acts as `arn:aws:iam::1:role/Name` in principals.
fn assumed_role_of(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:aws:sts::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:aws:iam::{account}:role/{name}"))
}

/// Replaces `${key}` policy variables with the context's (first) value.
fn substitute(pattern: &str, ctx: &Context) -> String {
    if !pattern.contains("${") {
        return pattern.to_string();
    }
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = &after[..end];
        match key {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            _ => match ctx.get(key).and_then(|v| v.first()) {
                Some(v) => out.push_str(v),
                // An unresolvable variable makes the value match nothing, as in AWS.
                None => out.push('\u{0}'),
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Evaluates one condition (one operator, one key, its values) against the context.
pub fn condition_holds(c: &Condition, ctx: &Context) -> bool {
    let mut op = c.operator.as_str();
    let mut set = None;
    for prefix in ["ForAnyValue:", "ForAllValues:"] {
        if op.len() > prefix.len() && op[..prefix.len()].eq_ignore_ascii_case(prefix) {
            set = Some(prefix);
            op = &op[prefix.len()..];
        }
    }
    let if_exists = op.len() > 8 && op[op.len() - 8..].eq_ignore_ascii_case("IfExists");
    if if_exists {
        op = &op[..op.len() - 8];
    }
    let op = op.to_ascii_lowercase();
    let present: &[String] = ctx.get(&c.key).unwrap_or(&[]);

    if op == "null" {
        // "true": the key must be absent; "false": present.
        return c
            .values
            .iter()
            .any(|v| v.eq_ignore_ascii_case("true") == present.is_empty());
    }
    let negated = op.contains("not");
    let policy_values: Vec<String> = c.values.iter().map(|v| substitute(v, ctx)).collect();
    let one = |actual: &str| -> Option<bool> {
        let any = |f: &dyn Fn(&str) -> bool| policy_values.iter().any(|v| f(v));
        Some(match op.as_str() {
            "stringequals" | "stringnotequals" => any(&|v| v == actual),
            "stringequalsignorecase" | "stringnotequalsignorecase" => {
                any(&|v| v.eq_ignore_ascii_case(actual))
            }
            "stringlike" | "stringnotlike" => any(&|v| glob::matches(v, actual)),
            "arnequals" | "arnlike" | "arnnotequals" | "arnnotlike" => {
                any(&|v| arn_like(v, actual))
            }
            "bool" => any(&|v| v.eq_ignore_ascii_case(actual)),
            "numericequals"
            | "numericnotequals"
            | "numericlessthan"
            | "numericlessthanequals"
            | "numericgreaterthan"
            | "numericgreaterthanequals" => {
                let a: f64 = actual.parse().ok()?;
                any(&|v| {
                    v.parse::<f64>().is_ok_and(|v| match op.as_str() {
                        "numericequals" | "numericnotequals" => a == v,
                        "numericlessthan" => a < v,
                        "numericlessthanequals" => a <= v,
                        "numericgreaterthan" => a > v,
                        _ => a >= v,
                    })
                })
            }
            // An operator we do not model never grants (nor blocks) by accident.
            _ => return None,
        })
    };
    // Whether one context value satisfies the (possibly negated) operator.
    let satisfies = |actual: &str| -> Option<bool> { one(actual).map(|hit| hit != negated) };

    if present.is_empty() {
        return match set {
            // ForAllValues over an empty set is vacuously true; ForAnyValue has nothing to match.
            Some("ForAllValues:") => true,
            Some(_) => false,
            // IfExists: absent key → true. Negated operators also hold for an absent key.
            None => if_exists || negated,
        };
    }
    let results: Vec<Option<bool>> = present.iter().map(|v| satisfies(v)).collect();
    if results.iter().any(Option::is_none) {
        return false;
    }
    let mut results = results.into_iter().map(Option::unwrap);
    match set {
        Some("ForAllValues:") => results.all(|r| r),
        Some(_) => results.any(|r| r),
        // A single-valued key: negated operators must hold for every value.
        None if negated => results.all(|r| r),
        None => results.any(|r| r),
    }
}
