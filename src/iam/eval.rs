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
    /// Keys (or `prefix/` families) that the real request carries but whose value the caller
    /// does not know, e.g. `aws:PrincipalOrgID` offline. A condition on one is not evaluated,
    /// rather than judged as if the key were absent.
    unknown: Vec<String>,
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
    /// Marks a key (or, ending in `/`, a family such as `aws:PrincipalTag/`) as unknown.
    pub fn with_unknown(mut self, key: &str) -> Context {
        self.unknown.push(key.to_ascii_lowercase());
        self
    }
    /// True when the key has no value here but the real request may well carry one.
    pub fn is_unknown(&self, key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        self.get(&key).is_none()
            && self
                .unknown
                .iter()
                .any(|u| *u == key || (u.ends_with('/') && key.starts_with(u.as_str())))
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
    /// Statements that fit the request but whose conditions the engine could not judge
    /// (an unknown operator, a value that is no date, number or address). They neither
    /// granted nor denied; the decision holds only if they would not have mattered.
    pub not_evaluated: Vec<NotEvaluated>,
}

/// A condition of a statement that could not be evaluated, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotEvaluated {
    pub statement: StatementRef,
    pub effect: Effect,
    pub condition: Condition,
    pub reason: String,
}

impl std::fmt::Display for NotEvaluated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not evaluated: {} statement {} of {}: {} {} {:?}: {}",
            if self.effect == Effect::Allow {
                "Allow"
            } else {
                "Deny"
            },
            self.statement
                .sid
                .clone()
                .unwrap_or_else(|| format!("#{}", self.statement.index + 1)),
            self.statement.policy,
            self.condition.operator,
            self.condition.key,
            self.condition.values,
            self.reason
        )
    }
}

/// The outcome of one condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConditionOutcome {
    Holds,
    Fails,
    /// The engine cannot judge it; the reason says why.
    NotEvaluated(String),
}

/// How one statement relates to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatementVerdict {
    /// Principal, action or resource do not fit.
    NotApplicable,
    /// They fit; the conditions that failed and those that could not be judged.
    Applies {
        failed: Vec<Condition>,
        not_evaluated: Vec<(Condition, String)>,
    },
}

/// Judges one statement against a request (principal only when `check_principal`).
pub fn judge_statement(
    s: &Statement,
    request: &Request,
    check_principal: bool,
) -> StatementVerdict {
    if !statement_applies(s, request, check_principal) {
        return StatementVerdict::NotApplicable;
    }
    let mut failed = Vec::new();
    let mut not_evaluated = Vec::new();
    for c in &s.conditions {
        match condition_outcome_in(c, &request.context, s.variables) {
            ConditionOutcome::Holds => {}
            ConditionOutcome::Fails => failed.push(c.clone()),
            ConditionOutcome::NotEvaluated(why) => not_evaluated.push((c.clone(), why)),
        }
    }
    StatementVerdict::Applies {
        failed,
        not_evaluated,
    }
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
        tally.not_evaluated.extend(bt.not_evaluated.iter().cloned());
        !bt.allowed_by.is_empty()
    });
    tally.finish(boundary_allows)
}

#[derive(Default)]
struct Tally {
    allowed_by: Vec<StatementRef>,
    denied_by: Vec<StatementRef>,
    near_misses: Vec<NearMiss>,
    not_evaluated: Vec<NotEvaluated>,
}

impl Tally {
    fn scan(&mut self, policy: &NamedPolicy<'_>, request: &Request, check_principal: bool) {
        for (index, s) in policy.document.statements.iter().enumerate() {
            let at = || StatementRef {
                policy: policy.name.to_string(),
                index,
                sid: s.sid.clone(),
            };
            let StatementVerdict::Applies {
                failed,
                not_evaluated,
            } = judge_statement(s, request, check_principal)
            else {
                continue;
            };
            if !not_evaluated.is_empty() {
                // Neither a grant nor a deny: said explicitly, never silently a no-grant.
                // A failed condition elsewhere in the statement settles it anyway.
                if failed.is_empty() {
                    for (condition, reason) in not_evaluated {
                        self.not_evaluated.push(NotEvaluated {
                            statement: at(),
                            effect: s.effect,
                            condition,
                            reason,
                        });
                    }
                } else if s.effect == Effect::Allow {
                    self.near_misses.push(NearMiss {
                        statement: at(),
                        failed,
                    });
                }
                continue;
            }
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
            not_evaluated: self.not_evaluated,
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
            let hit = m.patterns.iter().any(|p| {
                if s.variables {
                    glob::matches(&substitute(p, &request.context), resource)
                } else {
                    glob::matches(p, resource)
                }
            });
            hit != m.negated
        }
        // Trust policies have no Resource: the role itself is the resource.
        (None, _) => true,
        (Some(m), None) => m.patterns.iter().any(|p| p == "*") != m.negated,
    }
}

fn principal_matches(p: &PrincipalMatcher, caller: &Caller) -> bool {
    match_principal(p, caller).is_some()
}

/// How a `Principal` element names the caller. AWS treats these differently: in the same
/// account, a grant to the session (or user) itself is not limited by a permissions boundary
/// or session policy, a grant to the role ARN is, and a grant to the account only delegates
/// to the account's identity policies ("Policy evaluation logic", resource-based policies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    /// The caller's own ARN (session, user, role) or service name.
    Exact,
    /// The role of an assumed-role session.
    Role,
    /// The caller's account (`123456789012` or `arn:aws:iam::123456789012:root`).
    Account,
    /// `"*"`, `{"AWS": "*"}`, or a `NotPrincipal` that does not list the caller.
    Anyone,
}

/// Whether, and how, the element names the caller (the closest match when several do).
pub fn match_principal(p: &PrincipalMatcher, caller: &Caller) -> Option<PrincipalMatch> {
    let best = p
        .entries
        .iter()
        .filter_map(|(kind, value)| match (kind, caller) {
            (PrincipalKind::Service, Caller::Service(name)) => value
                .eq_ignore_ascii_case(name)
                .then_some(PrincipalMatch::Exact),
            (PrincipalKind::Aws, Caller::Aws { arn, account }) => {
                if value == "*" {
                    Some(PrincipalMatch::Anyone)
                } else if value == arn {
                    Some(PrincipalMatch::Exact)
                } else if assumed_role_of(arn).is_some_and(|role| value == &role) {
                    Some(PrincipalMatch::Role)
                } else if value == account || is_account_root(value, account, arn) {
                    Some(PrincipalMatch::Account)
                } else {
                    None
                }
            }
            _ => None,
        })
        .min();
    let best = best.or(p.any.then_some(PrincipalMatch::Anyone));
    match (p.negated, best) {
        (false, m) => m,
        (true, Some(_)) => None,
        (true, None) => Some(PrincipalMatch::Anyone),
    }
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`, …); `aws` when it is not one.
fn partition_of(arn: &str) -> &str {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.split(':').next())
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// `arn:PARTITION:iam::ACCOUNT:root`, in the caller's partition.
fn is_account_root(value: &str, account: &str, caller_arn: &str) -> bool {
    *value == format!("arn:{}:iam::{account}:root", partition_of(caller_arn))
}

/// `arn:aws:sts::1:assumed-role/Name/session` acts as `arn:aws:iam::1:role/Name` in
/// principals, in every partition (`aws-cn`, `aws-us-gov` alike).
pub fn assumed_role_of(arn: &str) -> Option<String> {
    let partition = partition_of(arn);
    let rest = arn.strip_prefix(&format!("arn:{partition}:sts::"))?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:{partition}:iam::{account}:role/{name}"))
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
        // `${key, 'default'}`: the default stands in when the key is absent.
        let (key, default) = match after[..end].split_once(',') {
            Some((k, d)) => {
                let d = d.trim();
                let d = d
                    .strip_prefix('\'')
                    .and_then(|d| d.strip_suffix('\''))
                    .unwrap_or(d);
                (k.trim(), Some(d))
            }
            None => (&after[..end], None),
        };
        match key {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            _ => match (ctx.get(key).and_then(|v| v.first()), default) {
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                // An unresolvable variable makes the value match nothing, as in AWS.
                (None, None) => out.push('\u{0}'),
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The operators this engine evaluates (AWS's "Condition operators" page), without the
/// `IfExists` suffix and the `ForAnyValue:`/`ForAllValues:` prefixes.
const OPERATORS: &[&str] = &[
    "stringequals",
    "stringnotequals",
    "stringequalsignorecase",
    "stringnotequalsignorecase",
    "stringlike",
    "stringnotlike",
    "arnequals",
    "arnlike",
    "arnnotequals",
    "arnnotlike",
    "bool",
    "binaryequals",
    "numericequals",
    "numericnotequals",
    "numericlessthan",
    "numericlessthanequals",
    "numericgreaterthan",
    "numericgreaterthanequals",
    "dateequals",
    "datenotequals",
    "datelessthan",
    "datelessthanequals",
    "dategreaterthan",
    "dategreaterthanequals",
    "ipaddress",
    "notipaddress",
    "null",
];

/// Evaluates one condition: holds, fails, or cannot be judged (unknown operator, a value
/// that is not the operator's type). AWS's rules for absent keys: a negated operator holds,
/// `…IfExists` holds, `ForAllValues` holds vacuously, anything else fails.
pub fn condition_outcome(c: &Condition, ctx: &Context) -> ConditionOutcome {
    condition_outcome_in(c, ctx, true)
}

/// [`condition_outcome`], with policy variables replaced only when `variables` (the
/// statement's document is Version 2012-10-17).
fn condition_outcome_in(c: &Condition, ctx: &Context, variables: bool) -> ConditionOutcome {
    use ConditionOutcome::*;
    let Some(operator) = Operator::parse(&c.operator) else {
        return NotEvaluated(format!("unknown condition operator {}", c.operator));
    };
    if ctx.is_unknown(&c.key) {
        return NotEvaluated(format!("the value of {} is not known here", c.key));
    }
    let present: &[String] = ctx.get(&c.key).unwrap_or(&[]);
    let op = operator.base.as_str();
    if op == "null" {
        return null_outcome(&c.values, present);
    }
    let policy_values: Vec<String> = if variables {
        c.values.iter().map(|v| substitute(v, ctx)).collect()
    } else {
        c.values.clone()
    };
    if let Some(why) = mistyped_policy_value(op, &policy_values) {
        return NotEvaluated(why);
    }
    let negated = op.contains("not");
    if present.is_empty() {
        let holds = match operator.set {
            // ForAllValues over an empty set is vacuously true; ForAnyValue has nothing to match.
            Some(SetOperator::ForAllValues) => true,
            Some(SetOperator::ForAnyValue) => false,
            // IfExists: absent key → true. Negated operators also hold for an absent key.
            None => operator.if_exists || negated,
        };
        return if holds { Holds } else { Fails };
    }
    let mut results = Vec::new();
    for actual in present {
        match matches_any(op, &c.key, &policy_values, actual) {
            Ok(hit) => results.push(hit != negated),
            Err(why) => return NotEvaluated(why),
        }
    }
    let mut results = results.into_iter();
    let holds = match operator.set {
        Some(SetOperator::ForAllValues) => results.all(|r| r),
        Some(SetOperator::ForAnyValue) => results.any(|r| r),
        // A single-valued key: negated operators must hold for every value.
        None if negated => results.all(|r| r),
        None => results.any(|r| r),
    };
    if holds {
        Holds
    } else {
        Fails
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOperator {
    ForAnyValue,
    ForAllValues,
}

/// A condition operator taken apart: `ForAllValues:StringLikeIfExists` is the set operator,
/// the base operator in lower case (`stringlike`), and `IfExists`.
struct Operator {
    base: String,
    set: Option<SetOperator>,
    if_exists: bool,
}

impl Operator {
    /// None when the base operator is not one IAM knows.
    fn parse(text: &str) -> Option<Operator> {
        let mut op = text;
        let mut set = None;
        for (prefix, kind) in [
            ("ForAnyValue:", SetOperator::ForAnyValue),
            ("ForAllValues:", SetOperator::ForAllValues),
        ] {
            if let Some(rest) = strip_prefix_ignore_case(op, prefix).filter(|r| !r.is_empty()) {
                set = Some(kind);
                op = rest;
            }
        }
        let if_exists = match strip_suffix_ignore_case(op, "IfExists").filter(|r| !r.is_empty()) {
            Some(rest) => {
                op = rest;
                true
            }
            None => false,
        };
        let base = op.to_ascii_lowercase();
        OPERATORS.contains(&base.as_str()).then_some(Operator {
            base,
            set,
            if_exists,
        })
    }
}

/// `Null`: "true" holds when the key is absent, "false" when present.
fn null_outcome(values: &[String], present: &[String]) -> ConditionOutcome {
    if let Some(v) = values
        .iter()
        .find(|v| !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false"))
    {
        return ConditionOutcome::NotEvaluated(format!("Null takes true or false, not {v:?}"));
    }
    if values
        .iter()
        .any(|v| v.eq_ignore_ascii_case("true") == present.is_empty())
    {
        ConditionOutcome::Holds
    } else {
        ConditionOutcome::Fails
    }
}

/// Typed operators: every policy value must be of the type, or the condition is unknown.
fn mistyped_policy_value(op: &str, policy_values: &[String]) -> Option<String> {
    let kind = op.trim_start_matches("not").trim_start_matches("string");
    if op.starts_with("date") {
        let bad = policy_values.iter().find(|v| parse_date(v).is_none())?;
        Some(format!("{bad:?} is not an ISO 8601 date or epoch seconds"))
    } else if op.starts_with("numeric") {
        let bad = policy_values.iter().find(|v| v.parse::<f64>().is_err())?;
        Some(format!("{bad:?} is not a number"))
    } else if kind.ends_with("ipaddress") {
        let bad = policy_values.iter().find(|v| parse_net(v).is_none())?;
        Some(format!("{bad:?} is not an IP address or CIDR range"))
    } else {
        None
    }
}

/// Whether the request's `actual` value of `key` matches any policy value under `op`
/// (negation is the caller's); an error when `actual` is not of the operator's type.
fn matches_any(
    op: &str,
    key: &str,
    policy_values: &[String],
    actual: &str,
) -> Result<bool, String> {
    let any = |f: &dyn Fn(&str) -> bool| policy_values.iter().any(|v| f(v));
    Ok(match op {
        "stringequals" | "stringnotequals" => any(&|v| v == actual),
        "stringequalsignorecase" | "stringnotequalsignorecase" => {
            any(&|v| v.eq_ignore_ascii_case(actual))
        }
        "stringlike" | "stringnotlike" => any(&|v| glob::matches(v, actual)),
        "arnequals" | "arnlike" | "arnnotequals" | "arnnotlike" => any(&|v| arn_like(v, actual)),
        "bool" => any(&|v| v.eq_ignore_ascii_case(actual)),
        "binaryequals" => any(&|v| v == actual),
        o if o.starts_with("numeric") => {
            let a: f64 = actual
                .parse()
                .map_err(|_| format!("the request's {key} {actual:?} is not a number"))?;
            any(&|v| {
                v.parse::<f64>().is_ok_and(|v| match o {
                    "numericequals" | "numericnotequals" => a == v,
                    "numericlessthan" => a < v,
                    "numericlessthanequals" => a <= v,
                    "numericgreaterthan" => a > v,
                    _ => a >= v,
                })
            })
        }
        o if o.starts_with("date") => {
            let a = parse_date(actual)
                .ok_or_else(|| format!("the request's {key} {actual:?} is not a date"))?;
            any(&|v| {
                parse_date(v).is_some_and(|v| match o {
                    "dateequals" | "datenotequals" => a == v,
                    "datelessthan" => a < v,
                    "datelessthanequals" => a <= v,
                    "dategreaterthan" => a > v,
                    _ => a >= v,
                })
            })
        }
        _ => {
            // IpAddress / NotIpAddress.
            let a: std::net::IpAddr = actual
                .parse()
                .or_else(|_| actual.parse::<ipnet::IpNet>().map(|n| n.addr()))
                .map_err(|_| format!("the request's {key} {actual:?} is not an IP address"))?;
            any(&|v| parse_net(v).is_some_and(|n| n.contains(&a)))
        }
    })
}

/// `text` without `prefix` (ASCII, compared ignoring case). Never cuts inside a character:
/// an operator is the policy author's text, and may hold any character.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `text` without `suffix` (ASCII, compared ignoring case), on a character boundary.
fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let tail = text.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..cut])
}

/// A date condition value: ISO 8601 (`2026-01-31`, `2026-01-31T12:00:00Z`, with an offset)
/// or seconds since the epoch, as AWS's date operators accept. Compared as instants.
pub fn parse_date(text: &str) -> Option<jiff::Timestamp> {
    let t = text.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '-') && !t[1..].contains('-') {
        return jiff::Timestamp::from_second(t.parse().ok()?).ok();
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    // A date or date-time without an offset is UTC.
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    t.parse::<jiff::civil::Date>()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// An `IpAddress` value: a CIDR range or a single address (IPv4 or IPv6).
fn parse_net(text: &str) -> Option<ipnet::IpNet> {
    let t = text.trim();
    t.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| t.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

#[cfg(test)]
mod partition_tests {
    use super::*;

    #[test]
    fn sessions_and_account_roots_keep_their_partition() {
        assert_eq!(
            assumed_role_of("arn:aws-cn:sts::111122223333:assumed-role/r/s").as_deref(),
            Some("arn:aws-cn:iam::111122223333:role/r")
        );
        assert_eq!(
            assumed_role_of("arn:aws-us-gov:sts::1:assumed-role/r/s").as_deref(),
            Some("arn:aws-us-gov:iam::1:role/r")
        );
        assert!(is_account_root(
            "arn:aws-cn:iam::1:root",
            "1",
            "arn:aws-cn:iam::1:role/r"
        ));
        assert!(!is_account_root(
            "arn:aws:iam::1:root",
            "1",
            "arn:aws-cn:iam::1:role/r"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(operator: &str, key: &str, values: &[&str]) -> Condition {
        Condition {
            operator: operator.into(),
            key: key.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn dates_are_instants_in_any_documented_form() {
        let at = parse_date("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(parse_date("1767225600"), Some(at));
        assert_eq!(parse_date("2026-01-01"), Some(at));
        assert_eq!(parse_date("2026-01-01T02:00:00+02:00"), Some(at));
        assert_eq!(parse_date("2026-01-01T00:00:00"), Some(at));
        assert_eq!(parse_date("yesterday"), None);
        let ctx = Context::new().with("aws:CurrentTime", "2026-06-01T12:00:00Z");
        let holds = |op: &str, v: &str| {
            condition_outcome(&cond(op, "aws:CurrentTime", &[v]), &ctx) == ConditionOutcome::Holds
        };
        assert!(holds("DateGreaterThan", "2026-01-01"));
        assert!(!holds("DateLessThan", "1767225600"));
        assert!(holds("DateLessThanEquals", "2026-06-01T12:00:00Z"));
        assert!(holds("DateNotEquals", "2026-06-01T12:00:01Z"));
        assert!(holds(
            "DateGreaterThanEqualsIfExists",
            "2026-06-01T12:00:00Z"
        ));
    }

    #[test]
    fn addresses_match_ranges_of_their_own_family() {
        let ctx = |ip: &str| Context::new().with("aws:SourceIp", ip);
        let c = cond(
            "IpAddress",
            "aws:SourceIp",
            &["10.0.0.0/8", "2001:db8::/32"],
        );
        assert_eq!(
            condition_outcome(&c, &ctx("10.200.0.1")),
            ConditionOutcome::Holds
        );
        assert_eq!(
            condition_outcome(&c, &ctx("2001:db8::5")),
            ConditionOutcome::Holds
        );
        assert_eq!(
            condition_outcome(&c, &ctx("11.0.0.1")),
            ConditionOutcome::Fails
        );
        assert_eq!(
            condition_outcome(&c, &ctx("2001:db9::5")),
            ConditionOutcome::Fails
        );
        let not = cond("NotIpAddress", "aws:SourceIp", &["192.0.2.0/24"]);
        assert_eq!(
            condition_outcome(&not, &ctx("192.0.2.9")),
            ConditionOutcome::Fails
        );
        assert_eq!(
            condition_outcome(&not, &Context::new()),
            ConditionOutcome::Holds
        );
    }

    #[test]
    fn what_cannot_be_judged_says_so() {
        let ctx = Context::new().with("aws:SourceIp", "10.0.0.1");
        for c in [
            cond("IpAddressLike", "aws:SourceIp", &["10.*"]),
            cond("IpAddress", "aws:SourceIp", &["ten.0.0.0/8"]),
            cond("DateLessThan", "aws:CurrentTime", &["soon"]),
            cond("NumericLessThan", "s3:max-keys", &["ten"]),
            cond("Null", "aws:SourceIp", &["maybe"]),
        ] {
            assert!(
                matches!(
                    condition_outcome(&c, &ctx),
                    ConditionOutcome::NotEvaluated(_)
                ),
                "{c:?}"
            );
        }
        // A request value of the wrong type, too.
        let bad = Context::new().with("s3:max-keys", "many");
        assert!(matches!(
            condition_outcome(&cond("NumericLessThan", "s3:max-keys", &["10"]), &bad),
            ConditionOutcome::NotEvaluated(_)
        ));
        // A key the caller marked unknown is not judged as absent.
        let offline = Context::new()
            .with_unknown("aws:PrincipalOrgID")
            .with_unknown("aws:PrincipalTag/");
        for c in [
            cond("StringNotEquals", "aws:PrincipalOrgID", &["o-1"]),
            cond("StringEquals", "aws:PrincipalTag/team", &["red"]),
        ] {
            assert!(matches!(
                condition_outcome(&c, &offline),
                ConditionOutcome::NotEvaluated(_)
            ));
        }
        assert_eq!(
            condition_outcome(
                &cond("StringNotEquals", "aws:SourceVpc", &["vpc-1"]),
                &offline
            ),
            ConditionOutcome::Holds,
            "other absent keys keep AWS's absent-key rule"
        );
    }

    #[test]
    fn an_operator_with_any_characters_is_judged_or_named_never_cut_inside_a_character() {
        // Each puts a two-byte character where the operator's prefix or `IfExists` suffix
        // would be cut by byte count.
        let ctx = Context::new().with("aws:x", "y");
        for op in [
            "Stringé1234567",
            "ForAnyValueéStringEquals",
            "ForAllValues:é",
            "éIfExists",
            "StringEqualsIfExisté",
            "é",
            "",
        ] {
            assert!(
                matches!(
                    condition_outcome(&cond(op, "aws:x", &["y"]), &ctx),
                    ConditionOutcome::NotEvaluated(_)
                ),
                "{op}"
            );
        }
        assert_eq!(
            condition_outcome(
                &cond("forallvalues:stringequalsifexists", "aws:x", &["y"]),
                &ctx
            ),
            ConditionOutcome::Holds
        );
    }

    #[test]
    fn a_statement_that_cannot_be_judged_neither_grants_nor_denies() {
        let doc = PolicyDocument::parse(&serde_json::json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"IpAddressLike": {"aws:SourceIp": "10.*"}}},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}}
        ]}))
        .unwrap();
        let request = Request {
            caller: Caller::Aws {
                arn: "arn:aws:iam::1:role/r".into(),
                account: "1".into(),
            },
            action: "s3:GetObject".into(),
            resource: Some("arn:aws:s3:::b/k".into()),
            context: Context::new().with("aws:SourceIp", "10.0.0.1"),
        };
        let e = evaluate_identity(
            &[NamedPolicy {
                name: "p",
                document: &doc,
            }],
            None,
            &request,
        );
        assert_eq!(e.decision, Decision::ImplicitDeny);
        assert_eq!(e.not_evaluated.len(), 2);
        assert!(e.near_misses.is_empty(), "not a near miss either");
        assert!(e.not_evaluated[0]
            .to_string()
            .starts_with("not evaluated: Allow statement #1 of p"));
    }
}
