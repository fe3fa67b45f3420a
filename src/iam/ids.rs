//! The identifiers every ARN is built from, parsed once: an account ID and a region name.
//! Whoever holds one never checks it again, and the test of a well-formed account lives
//! here once (it was written out by hand in four places).

use std::fmt;
use std::ops::Deref;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("`{0}` is not an AWS account ID: expected 12 digits, such as 123456789012")]
    Account(String),
    #[error("`{0}` is not an AWS region name: expected one such as eu-west-1, us-gov-west-1 or cn-north-1")]
    Region(String),
    #[error("`{0}` is not an AWS partition: expected aws, aws-cn, aws-us-gov or another aws-…")]
    Partition(String),
}

/// A 12-digit AWS account ID.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(text: &str) -> Result<AccountId, IdError> {
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(text.to_string()))
        } else {
            Err(IdError::Account(text.to_string()))
        }
    }
}

/// The shape of a region's name, as the CRD's schema checks `spec.region` (the API server
/// applies it; [`Region::parse`] is the same test, for the CLI and older objects).
pub const REGION_PATTERN: &str = r"^[a-z]{2,4}(-[a-z]+){1,2}-[0-9]{1,2}$";

/// An AWS region's name: `eu-west-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`,
/// `eusc-de-east-1`. Checked by shape, not against a list, so a region AWS opens tomorrow is
/// accepted; what it refuses is not a region's shape (`us_east_1`, `useast1`, `us-east`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(String);

impl Region {
    pub fn parse(text: &str) -> Result<Region, IdError> {
        let letters = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
        let parts: Vec<&str> = text.split('-').collect();
        let well_formed = match parts.as_slice() {
            [area, words @ .., number] => {
                (2..=4).contains(&area.len())
                    && letters(area)
                    && (1..=2).contains(&words.len())
                    && words.iter().all(letters)
                    && (1..=2).contains(&number.len())
                    && number.bytes().all(|b| b.is_ascii_digit())
            }
            _ => false,
        };
        if well_formed {
            Ok(Region(text.to_string()))
        } else {
            Err(IdError::Region(text.to_string()))
        }
    }

    /// The partition the region belongs to, as its ARNs name it. A region of a partition
    /// opened after this list was written is taken for `aws`.
    pub fn partition(&self) -> Partition {
        Partition(self.partition_name().to_string())
    }

    fn partition_name(&self) -> &'static str {
        PARTITIONS
            .iter()
            .find(|p| self.0.starts_with(p.region_prefix))
            .unwrap_or(&AWS)
            .name
    }
}

/// What the controller needs of a partition, as the SDK's partition table gives it
/// (`aws-sdk-*/src/endpoint_lib.rs`), except that China's IAM calls are recorded in
/// cn-north-1, where IAM's endpoint is.
struct PartitionFacts {
    name: &'static str,
    /// The prefix of its regions' names.
    region_prefix: &'static str,
    dns_suffix: &'static str,
    /// Where its global (IAM) calls are recorded.
    iam_region: &'static str,
}

const AWS: PartitionFacts = PartitionFacts {
    name: "aws",
    region_prefix: "",
    dns_suffix: "amazonaws.com",
    iam_region: "us-east-1",
};

const PARTITIONS: &[PartitionFacts] = &[
    PartitionFacts {
        name: "aws-cn",
        region_prefix: "cn-",
        dns_suffix: "amazonaws.com.cn",
        iam_region: "cn-north-1",
    },
    PartitionFacts {
        name: "aws-us-gov",
        region_prefix: "us-gov-",
        dns_suffix: "amazonaws.com",
        iam_region: "us-gov-west-1",
    },
    PartitionFacts {
        name: "aws-iso",
        region_prefix: "us-iso-",
        dns_suffix: "c2s.ic.gov",
        iam_region: "us-iso-east-1",
    },
    PartitionFacts {
        name: "aws-iso-b",
        region_prefix: "us-isob-",
        dns_suffix: "sc2s.sgov.gov",
        iam_region: "us-isob-east-1",
    },
    PartitionFacts {
        name: "aws-iso-e",
        region_prefix: "eu-isoe-",
        dns_suffix: "cloud.adc-e.uk",
        iam_region: "eu-isoe-west-1",
    },
    PartitionFacts {
        name: "aws-iso-f",
        region_prefix: "us-isof-",
        dns_suffix: "csp.hci.ic.gov",
        iam_region: "us-isof-south-1",
    },
    PartitionFacts {
        name: "aws-eusc",
        region_prefix: "eusc-",
        dns_suffix: "amazonaws.eu",
        iam_region: "eusc-de-east-1",
    },
];

/// The facts of the partition named `partition`; one not in the table is taken for `aws`.
fn facts_of(partition: &str) -> &'static PartitionFacts {
    PARTITIONS
        .iter()
        .find(|p| p.name == partition)
        .unwrap_or(&AWS)
}

/// The DNS suffix of a partition's endpoints (`amazonaws.com.cn` in China).
pub fn dns_suffix(partition: &str) -> &'static str {
    facts_of(partition).dns_suffix
}

/// The region where a partition's global (IAM) calls are recorded.
pub fn iam_region(partition: &str) -> &'static str {
    facts_of(partition).iam_region
}

/// A partition as ARNs name it: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`, `aws-eusc`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition(String);

impl Partition {
    pub fn parse(text: &str) -> Result<Partition, IdError> {
        let well_formed = text.strip_prefix("aws").is_some_and(|rest| {
            rest.split('-')
                .skip(1)
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
                && (rest.is_empty() || rest.starts_with('-'))
        });
        if well_formed {
            Ok(Partition(text.to_string()))
        } else {
            Err(IdError::Partition(text.to_string()))
        }
    }
}

macro_rules! reads_as_text {
    ($id:ident) => {
        impl $id {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $id {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $id {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $id {
            type Err = IdError;
            fn from_str(text: &str) -> Result<$id, IdError> {
                $id::parse(text)
            }
        }

        impl PartialEq<str> for $id {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $id {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $id {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$id> for String {
            fn eq(&self, other: &$id) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$id> for str {
            fn eq(&self, other: &$id) -> bool {
                self == other.0
            }
        }

        /// Written as its text (JSON documents name accounts and regions as strings).
        impl serde::Serialize for $id {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl From<$id> for String {
            fn from(id: $id) -> String {
                id.0
            }
        }
    };
}

reads_as_text!(AccountId);
reads_as_text!(Region);
reads_as_text!(Partition);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_id_is_exactly_twelve_digits() {
        assert_eq!(AccountId::parse("123456789012").unwrap(), "123456789012");
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "+12345678901",
            " 123456789012",
            "１２３４５６７８９０１２",
        ] {
            assert_eq!(
                AccountId::parse(bad),
                Err(IdError::Account(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_region_is_taken_by_its_shape_and_knows_its_partition() {
        for (good, partition) in [
            ("us-east-1", "aws"),
            ("ap-southeast-5", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("me-central-12", "aws"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            let region = Region::parse(good).unwrap();
            assert_eq!(region.partition(), partition, "{good}");
            assert_eq!(Partition::parse(partition), Ok(region.partition()));
        }
        for bad in [
            "",
            "us-east",
            "useast1",
            "us_east_1",
            "US-EAST-1",
            "us-east-1 ",
            "us--east-1",
            "u-east-1",
            "us-east-123",
            "us-east-x",
            "europe-west-1",
            "us-gov-west-east-1",
            "us-1",
        ] {
            assert_eq!(
                Region::parse(bad),
                Err(IdError::Region(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn each_partitions_iam_calls_are_recorded_in_its_global_region() {
        // The SDK's implicitGlobalRegion, but China's, where IAM's endpoint is.
        for (region, iam) in [
            ("eu-west-1", "us-east-1"),
            ("cn-northwest-1", "cn-north-1"),
            ("us-gov-east-1", "us-gov-west-1"),
            ("us-iso-west-1", "us-iso-east-1"),
            ("us-isob-east-1", "us-isob-east-1"),
            ("eu-isoe-west-1", "eu-isoe-west-1"),
            ("us-isof-east-1", "us-isof-south-1"),
            ("eusc-de-east-1", "eusc-de-east-1"),
        ] {
            let partition = Region::parse(region).unwrap().partition();
            assert_eq!(iam_region(&partition), iam, "{region}");
        }
        assert_eq!(
            dns_suffix("aws-new"),
            "amazonaws.com",
            "unknown: taken for aws"
        );
    }

    #[test]
    fn a_partition_is_aws_and_lowercase_words() {
        for bad in [
            "", "aw", "AWS", "aws-", "aws--cn", "awscn", "aws-c1", "azure",
        ] {
            assert_eq!(
                Partition::parse(bad),
                Err(IdError::Partition(bad.into())),
                "{bad:?}"
            );
        }
    }
}
