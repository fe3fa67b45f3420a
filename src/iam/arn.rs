//! ARNs: parsing, the services that require an account ID, and `ArnLike` matching.

use std::fmt;

use super::{AccountId, Partition, Region};

/// A parsed ARN: `arn:partition:service:region:account:resource`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("`{0}` is not an ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE")]
    Malformed(String),
    #[error("`{0}` is not an IAM role's ARN: expected arn:aws:iam::ACCOUNT_ID:role/NAME (12-digit account, no region, a path allowed before the name)")]
    NotARole(String),
    #[error("`{0}` is not an EventBridge rule's ARN: expected arn:aws:events:REGION:ACCOUNT_ID:rule/[BUS/]NAME")]
    NotARule(String),
    #[error("`{0}` is not a Lambda function's ARN: expected arn:aws:lambda:REGION:ACCOUNT_ID:function:NAME[:VERSION_OR_ALIAS]")]
    NotAFunction(String),
}

impl Arn {
    pub fn parse(text: &str) -> Result<Arn, ArnError> {
        let mut parts = text.splitn(6, ':');
        let mut next = || parts.next();
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (next(), next(), next(), next(), next(), next())
        else {
            return Err(ArnError::Malformed(text.to_string()));
        };
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(ArnError::Malformed(text.to_string()));
        }
        Ok(Arn {
            partition: partition.into(),
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource: resource.into(),
        })
    }

    /// Services whose resource ARNs always carry the owning account. S3 bucket ARNs
    /// legitimately have none, so an empty account there is not an error.
    pub fn service_requires_account(&self) -> bool {
        matches!(
            self.service.as_str(),
            "iam" | "ecs" | "states" | "lambda" | "events" | "sts" | "sqs" | "sns"
        )
    }

    /// True when the account field is empty although the service requires one.
    pub fn missing_account(&self) -> bool {
        self.account.is_empty() && self.service_requires_account()
    }

    /// The last path segment of the resource: the role name of `role/path/Name`.
    pub fn resource_name(&self) -> &str {
        self.resource
            .rsplit(['/', ':'])
            .next()
            .unwrap_or(&self.resource)
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// An ARN in an account: what a rule targets, once the planner has put an ARN that names no
/// account (a REST API's) in the rule's. Whoever holds one compares and writes its account
/// without checking it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountArn {
    pub partition: Partition,
    pub service: String,
    pub region: String,
    pub account: AccountId,
    pub resource: String,
}

impl AccountArn {
    /// `arn` in its own account, or in `home` when it names none; its partition parsed.
    pub fn in_account(arn: Arn, home: &AccountId) -> Result<AccountArn, super::IdError> {
        let account = if arn.account.is_empty() {
            home.clone()
        } else {
            AccountId::parse(&arn.account)?
        };
        Ok(AccountArn {
            partition: Partition::parse(&arn.partition)?,
            service: arn.service,
            region: arn.region,
            account,
            resource: arn.resource,
        })
    }
}

impl fmt::Display for AccountArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// An IAM role's ARN, parsed once: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME` with a
/// 12-digit account. Whoever holds one reads its account and name without parsing again,
/// and never meets a role ARN whose account is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleArn {
    text: String,
    arn: Arn,
    account: AccountId,
    partition: Partition,
}

impl RoleArn {
    /// The role `name` at `path` (`/`, or `/a/b/`) in `account`: how the planner names a role
    /// it creates, from typed parts rather than text read back from a policy.
    pub fn new(partition: &Partition, account: &AccountId, path: &str, name: &str) -> RoleArn {
        let text = format!("arn:{partition}:iam::{account}:role{path}{name}");
        RoleArn {
            arn: Arn {
                partition: partition.to_string(),
                service: "iam".into(),
                region: String::new(),
                account: account.to_string(),
                resource: format!("role{path}{name}"),
            },
            text,
            account: account.clone(),
            partition: partition.clone(),
        }
    }

    pub fn parse(text: &str) -> Result<RoleArn, ArnError> {
        let arn = Arn::parse(text)?;
        let not_a_role = || ArnError::NotARole(text.to_string());
        let account = AccountId::parse(&arn.account).map_err(|_| not_a_role())?;
        let partition = Partition::parse(&arn.partition).map_err(|_| not_a_role())?;
        let name_ok = arn
            .resource
            .strip_prefix("role/")
            .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'));
        if arn.service != "iam" || !arn.region.is_empty() || !name_ok {
            return Err(not_a_role());
        }
        Ok(RoleArn {
            text: text.to_string(),
            arn,
            account,
            partition,
        })
    }

    /// The account the role is in.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// The role's name, without its path.
    pub fn name(&self) -> &str {
        self.arn.resource_name()
    }
}

/// An EventBridge rule's ARN, `arn:PARTITION:events:REGION:ACCOUNT:rule/[BUS/]NAME` (the bus
/// only when it is not the default), made from its typed parts where the planner names a
/// rule, so that whoever holds one reads its account, region and name without parsing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleArn {
    text: String,
    partition: Partition,
    account: AccountId,
    region: Region,
    bus: String,
    name: String,
}

impl RuleArn {
    /// The rule `name` on the bus `bus` (a name, or a bus's ARN) of `account` in `region`.
    pub fn new(
        partition: &Partition,
        region: &Region,
        account: &AccountId,
        bus: &str,
        name: &str,
    ) -> RuleArn {
        let bus = bus.rsplit('/').next().unwrap_or(bus);
        let text = if bus == "default" {
            format!("arn:{partition}:events:{region}:{account}:rule/{name}")
        } else {
            format!("arn:{partition}:events:{region}:{account}:rule/{bus}/{name}")
        };
        RuleArn {
            text,
            partition: partition.clone(),
            account: account.clone(),
            region: region.clone(),
            bus: bus.to_string(),
            name: name.to_string(),
        }
    }

    /// A rule's ARN as AWS or a record gives it.
    pub fn parse(text: &str) -> Result<RuleArn, ArnError> {
        let arn = Arn::parse(text)?;
        let not_a_rule = || ArnError::NotARule(text.to_string());
        let rest = arn.resource.strip_prefix("rule/").ok_or_else(not_a_rule)?;
        let (bus, name) = rest.rsplit_once('/').unwrap_or(("default", rest));
        if arn.service != "events" || name.is_empty() || bus.is_empty() {
            return Err(not_a_rule());
        }
        let account = AccountId::parse(&arn.account).map_err(|_| not_a_rule())?;
        let region = Region::parse(&arn.region).map_err(|_| not_a_rule())?;
        let partition = Partition::parse(&arn.partition).map_err(|_| not_a_rule())?;
        // The text as given (`rule/default/NAME` stays so), the bus whole (a partner bus's
        // name has slashes).
        Ok(RuleArn {
            text: text.to_string(),
            partition,
            account,
            region,
            bus: bus.to_string(),
            name: name.to_string(),
        })
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// The rule's bus, by name (`default`).
    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// The rule's name, without its bus.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A Lambda function's ARN, `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`
/// (a version or an alias), parsed once: its account and region typed, and the two halves
/// Lambda's permission calls take apart (`FunctionName` and `Qualifier`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionArn {
    text: String,
    account: AccountId,
    region: Region,
    unqualified: String,
    qualifier: Option<String>,
}

impl FunctionArn {
    pub fn parse(text: &str) -> Result<FunctionArn, ArnError> {
        let arn = Arn::parse(text)?;
        let not_a_function = || ArnError::NotAFunction(text.to_string());
        let rest = arn
            .resource
            .strip_prefix("function:")
            .ok_or_else(not_a_function)?;
        let (name, qualifier) = match rest.split_once(':') {
            Some((name, q)) => (name, Some(q)),
            None => (rest, None),
        };
        let bad_qualifier = qualifier.is_some_and(|q| q.is_empty() || q.contains(':'));
        if arn.service != "lambda" || name.is_empty() || bad_qualifier {
            return Err(not_a_function());
        }
        Partition::parse(&arn.partition).map_err(|_| not_a_function())?;
        Ok(FunctionArn {
            account: AccountId::parse(&arn.account).map_err(|_| not_a_function())?,
            region: Region::parse(&arn.region).map_err(|_| not_a_function())?,
            unqualified: match qualifier {
                Some(q) => text[..text.len() - q.len() - 1].to_string(),
                None => text.to_string(),
            },
            qualifier: qualifier.map(str::to_string),
            text: text.to_string(),
        })
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The ARN without its qualifier: what Lambda's `FunctionName` takes beside `Qualifier`.
    pub fn unqualified(&self) -> &str {
        &self.unqualified
    }

    /// The version or alias the ARN names, if any.
    pub fn qualifier(&self) -> Option<&str> {
        self.qualifier.as_deref()
    }
}

/// The typed ARNs read as the text they were made or parsed from wherever an ARN is text (an
/// SDK call, a policy document, a record entry), compare with text read back from AWS or a
/// record, and serialise as that text (a policy's principal or condition).
macro_rules! reads_as_text {
    ($($arn:ident),*) => {$(
        impl $arn {
            pub fn as_str(&self) -> &str {
                &self.text
            }
        }

        impl fmt::Display for $arn {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text)
            }
        }

        impl std::ops::Deref for $arn {
            type Target = str;
            fn deref(&self) -> &str {
                &self.text
            }
        }

        impl AsRef<str> for $arn {
            fn as_ref(&self) -> &str {
                &self.text
            }
        }

        impl PartialEq<String> for $arn {
            fn eq(&self, other: &String) -> bool {
                &self.text == other
            }
        }

        impl PartialEq<$arn> for String {
            fn eq(&self, other: &$arn) -> bool {
                *self == other.text
            }
        }

        impl serde::Serialize for $arn {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.text)
            }
        }

        impl std::str::FromStr for $arn {
            type Err = ArnError;
            fn from_str(text: &str) -> Result<$arn, ArnError> {
                $arn::parse(text)
            }
        }
    )*};
}

reads_as_text!(RoleArn, RuleArn, FunctionArn);

/// The host of a regional service endpoint, as `kms:ViaService` names it:
/// `sqs.us-east-1.amazonaws.com`, `sqs.cn-north-1.amazonaws.com.cn` in China (each
/// partition's DNS suffix, as the SDK's partition table gives it).
pub fn service_host(service: &str, region: &str, partition: &str) -> String {
    format!("{service}.{region}.{}", super::ids::dns_suffix(partition))
}

/// `ArnLike`/`ArnEquals` as IAM defines them: the six colon-delimited components are matched
/// separately, each with `*`/`?` wildcards, so `*` in the region never swallows the account.
pub fn arn_like(pattern: &str, value: &str) -> bool {
    let pat: Vec<&str> = pattern.splitn(6, ':').collect();
    let val: Vec<&str> = value.splitn(6, ':').collect();
    if pat.len() != 6 || val.len() != 6 {
        // Not an ARN on one side: only a bare `*` matches.
        return pattern == "*";
    }
    pat.iter()
        .zip(val.iter())
        .all(|(p, v)| super::glob::matches(p, v))
}

/// The account of an ARN, when it has one.
pub fn account_of(text: &str) -> Option<String> {
    Arn::parse(text)
        .ok()
        .map(|a| a.account)
        .filter(|a| !a.is_empty())
}

/// `task-definition/name:3` → `task-definition/name:*`: every revision of the family.
pub fn family_pattern(task_definition_arn: &str) -> String {
    match task_definition_arn.rsplit_once(':') {
        Some((head, rev))
            if rev.chars().all(|c| c.is_ascii_digit()) && head.contains("task-definition/") =>
        {
            format!("{head}:*")
        }
        _ => format!("{task_definition_arn}:*"),
    }
}

/// `arn:…:function:name[:qualifier]` → (unqualified ARN, qualifier).
pub fn split_function_arn(function_arn: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = function_arn.split(':').collect();
    if parts.len() == 8 {
        (parts[..7].join(":"), Some(parts[7].to_string()))
    } else {
        (function_arn.to_string(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_arn_is_made_from_its_parts_and_parsed_back_the_same() {
        let (partition, region) = (
            Partition::parse("aws-cn").unwrap(),
            Region::parse("cn-north-1").unwrap(),
        );
        let account = AccountId::parse("111122223333").unwrap();
        let on_default = RuleArn::new(&partition, &region, &account, "default", "orders");
        assert_eq!(
            on_default.as_str(),
            "arn:aws-cn:events:cn-north-1:111122223333:rule/orders"
        );
        let bus = "arn:aws-cn:events:cn-north-1:111122223333:event-bus/central";
        let on_bus = RuleArn::new(&partition, &region, &account, bus, "orders");
        assert_eq!(
            on_bus.as_str(),
            "arn:aws-cn:events:cn-north-1:111122223333:rule/central/orders"
        );
        for rule in [on_default, on_bus] {
            let again = RuleArn::parse(rule.as_str()).unwrap();
            assert_eq!(again, rule);
            assert_eq!((again.name(), again.account()), ("orders", &account));
            assert_eq!(again.partition(), &partition);
        }
        let partner = "arn:aws:events:us-east-1:111122223333:rule/aws.partner/saas.com/1/orders";
        let parsed = RuleArn::parse(partner).unwrap();
        assert_eq!(
            (parsed.as_str(), parsed.bus(), parsed.name()),
            (partner, "aws.partner/saas.com/1", "orders")
        );
        for bad in [
            "arn:aws:events:us-east-1:111122223333:event-bus/default",
            "arn:aws:events:us-east-1::rule/orders",
            "arn:aws:events::111122223333:rule/orders",
            "arn:aws:sqs:us-east-1:111122223333:rule/orders",
            "arn:aws:events:us-east-1:111122223333:rule/",
        ] {
            assert!(
                matches!(RuleArn::parse(bad), Err(ArnError::NotARule(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_service_host_takes_its_partitions_dns_suffix() {
        // As the SDK's partition table (aws-sdk-*/src/endpoint_lib.rs) gives them.
        for (region, domain) in [
            ("us-east-1", "amazonaws.com"),
            ("us-gov-west-1", "amazonaws.com"),
            ("cn-north-1", "amazonaws.com.cn"),
            ("eusc-de-east-1", "amazonaws.eu"),
            ("us-iso-east-1", "c2s.ic.gov"),
            ("us-isob-east-1", "sc2s.sgov.gov"),
            ("eu-isoe-west-1", "cloud.adc-e.uk"),
            ("us-isof-south-1", "csp.hci.ic.gov"),
        ] {
            let partition = crate::iam::Region::parse(region).unwrap().partition();
            assert_eq!(
                service_host("sqs", region, &partition),
                format!("sqs.{region}.{domain}")
            );
        }
    }

    #[test]
    fn a_function_arn_is_split_into_what_lambda_takes_apart() {
        let plain = FunctionArn::parse("arn:aws:lambda:eu-west-1:111122223333:function:f").unwrap();
        assert_eq!(
            plain.unqualified(),
            "arn:aws:lambda:eu-west-1:111122223333:function:f"
        );
        assert_eq!(plain.qualifier(), None);
        assert_eq!(plain.account(), "111122223333");
        assert_eq!(plain.region(), "eu-west-1");
        let alias =
            FunctionArn::parse("arn:aws:lambda:eu-west-1:111122223333:function:f:live").unwrap();
        assert_eq!(alias.unqualified(), plain.as_str());
        assert_eq!(alias.qualifier(), Some("live"));
        assert_eq!(
            alias,
            "arn:aws:lambda:eu-west-1:111122223333:function:f:live".to_string()
        );
        for bad in [
            "arn:aws:lambda:eu-west-1::function:no-account",
            "arn:aws:lambda:eu-west-1:111122223333:function:",
            "arn:aws:lambda:eu-west-1:111122223333:function:f:",
            "arn:aws:lambda:eu-west-1:111122223333:function:f:1:extra",
            "arn:aws:lambda:eu-west-1:111122223333:layer:l:1",
            "arn:aws:lambda::111122223333:function:no-region",
            "arn:aws:sqs:eu-west-1:111122223333:function:f",
            "f",
        ] {
            assert!(
                matches!(
                    FunctionArn::parse(bad),
                    Err(ArnError::NotAFunction(_) | ArnError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_role_arn_made_from_its_parts_is_the_one_parsed_from_its_text() {
        let partition = crate::iam::Partition::parse("aws-us-gov").unwrap();
        let account = AccountId::parse("111122223333").unwrap();
        for (path, text) in [
            ("/", "arn:aws-us-gov:iam::111122223333:role/ebi-orders"),
            (
                "/team/a/",
                "arn:aws-us-gov:iam::111122223333:role/team/a/ebi-orders",
            ),
        ] {
            let made = RoleArn::new(&partition, &account, path, "ebi-orders");
            assert_eq!(made, RoleArn::parse(text).unwrap());
            assert_eq!(made.name(), "ebi-orders");
            assert_eq!(made.account(), &account);
            assert_eq!(made, text.to_string());
        }
    }

    #[test]
    fn a_role_arn_is_parsed_once_with_its_account_and_name() {
        let r = RoleArn::parse("arn:aws-cn:iam::111122223333:role/service/ebi-orders").unwrap();
        assert_eq!(r.account(), "111122223333");
        assert_eq!(r.name(), "ebi-orders");
        assert_eq!(r.partition(), "aws-cn");
        assert_eq!(
            r.to_string(),
            "arn:aws-cn:iam::111122223333:role/service/ebi-orders"
        );
        for bad in [
            "arn:aws:iam:::role/no-account",
            "arn:aws:iam::1111:role/short-account",
            "arn:aws:iam::111122223333:user/someone",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam:us-east-1:111122223333:role/regional",
            "arn:aws:sts::111122223333:assumed-role/r/s",
            "role/just-a-name",
        ] {
            assert_eq!(
                RoleArn::parse(bad),
                Err(if bad.starts_with("arn:") {
                    ArnError::NotARole(bad.into())
                } else {
                    ArnError::Malformed(bad.into())
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn parses_and_checks_account() {
        let a = Arn::parse("arn:aws:iam::111122223333:role/service/Runner").unwrap();
        assert_eq!(a.service, "iam");
        assert_eq!(a.account, "111122223333");
        assert_eq!(a.resource_name(), "Runner");
        assert!(!a.missing_account());
        assert!(Arn::parse("arn:aws:iam:::role/x")
            .unwrap()
            .missing_account());
        assert!(!Arn::parse("arn:aws:s3:::bucket/key")
            .unwrap()
            .missing_account());
        assert!(Arn::parse("role/x").is_err());
        assert!(Arn::parse("arn:aws:iam::1").is_err());
        // Lambda qualifiers and ECS revisions keep their colons in the resource.
        let l = Arn::parse("arn:aws:lambda:us-east-1:1:function:f:live").unwrap();
        assert_eq!(l.resource, "function:f:live");
    }

    #[test]
    fn arn_like_matches_per_component() {
        assert!(arn_like(
            "arn:aws:events:*:111:rule/*",
            "arn:aws:events:eu-west-1:111:rule/x"
        ));
        assert!(!arn_like(
            "arn:aws:events:*:111:rule/*",
            "arn:aws:events:eu-west-1:222:rule/x"
        ));
        assert!(arn_like(
            "arn:aws:events:us-east-1:111:rule/bus/*",
            "arn:aws:events:us-east-1:111:rule/bus/r"
        ));
        assert!(!arn_like(
            "arn:aws:events:us-east-1:111:rule/x",
            "not-an-arn"
        ));
        assert!(arn_like("*", "anything"));
    }
}
