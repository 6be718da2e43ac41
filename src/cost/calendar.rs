//! The Amazon EKS Kubernetes version calendar: when each minor version
//! leaves standard support (the control plane then bills at the extended
//! support rate) and when extended support ends (EKS then upgrades the
//! control plane on its own).
//!
//! Source: Amazon EKS User Guide, "Understand the Kubernetes version
//! lifecycle on EKS", section "Amazon EKS Kubernetes release calendar"
//! (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html; its
//! source is awsdocs/amazon-eks-user-guide, latest/ug/versioning/
//! kubernetes-versions.adoc). 1.28–1.34 read from that page's source on
//! 2026-12-03; 1.35 (EKS release 2026-01-27) from the page's current table as
//! quoted by endoflife.date/amazon-eks and the aws-samples EKS lifecycle
//! reference, which agree. The page states: "Billing for extended support
//! starts at the beginning of the day that the version reaches end of
//! standard support, in the UTC+0 timezone."
//!
//! Add a row when EKS releases a version (about every four months).

use super::Date;

pub const CALENDAR_SOURCE: &str = "Amazon EKS User Guide, \"Understand the Kubernetes version lifecycle on EKS\" (release calendar), read 2026-12-03";

/// One Kubernetes minor version on EKS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EksVersion {
    pub version: (u32, u32),
    /// First day billed at the extended support rate.
    pub end_of_standard: Date,
    pub end_of_extended: Date,
}

const fn row(minor: u32, standard: (i32, u32, u32), extended: (i32, u32, u32)) -> EksVersion {
    EksVersion {
        version: (1, minor),
        end_of_standard: Date::new(standard.0, standard.1, standard.2),
        end_of_extended: Date::new(extended.0, extended.1, extended.2),
    }
}

/// Oldest first.
pub const CALENDAR: [EksVersion; 8] = [
    row(28, (2024, 11, 26), (2025, 11, 26)),
    row(29, (2025, 3, 23), (2026, 3, 23)),
    row(30, (2025, 7, 23), (2026, 7, 23)),
    row(31, (2025, 11, 26), (2026, 11, 26)),
    row(32, (2026, 3, 23), (2027, 3, 23)),
    row(33, (2026, 7, 29), (2027, 7, 29)),
    row(34, (2026, 12, 2), (2027, 12, 2)),
    row(35, (2027, 3, 27), (2028, 3, 27)),
];

/// Where a version stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Billed at the standard rate until `until` (exclusive).
    Standard { until: Date },
    /// Billed at the extended rate since `since`; extended support ends `until`.
    Extended { since: Date, until: Date },
    /// Past the end of extended support: EKS upgrades the control plane on
    /// its own; until it does, the extended rate applies.
    Ended { since: Date },
    /// Newer than the calendar knows: assumed in standard support.
    NewerThanCalendar,
    /// Older than the calendar knows: long past standard support.
    OlderThanCalendar,
}

/// `1.32`, `1.32.5` or `v1.32` → (1, 32).
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let v = v.trim().trim_start_matches('v');
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

pub fn lookup(version: (u32, u32)) -> Option<&'static EksVersion> {
    CALENDAR.iter().find(|r| r.version == version)
}

pub fn support(version: (u32, u32), today: Date) -> Support {
    match lookup(version) {
        Some(r) if today < r.end_of_standard => Support::Standard {
            until: r.end_of_standard,
        },
        Some(r) if today < r.end_of_extended => Support::Extended {
            since: r.end_of_standard,
            until: r.end_of_extended,
        },
        Some(r) => Support::Ended {
            since: r.end_of_extended,
        },
        None if version > CALENDAR[CALENDAR.len() - 1].version => Support::NewerThanCalendar,
        None => Support::OlderThanCalendar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_is_ordered_and_extended_is_a_year_after_standard() {
        for w in CALENDAR.windows(2) {
            assert!(w[0].version < w[1].version);
            assert!(w[0].end_of_standard < w[1].end_of_standard);
        }
        for r in CALENDAR {
            assert!(
                Date::checked(
                    r.end_of_standard.y,
                    r.end_of_standard.m,
                    r.end_of_standard.d
                )
                .is_some()
            );
            assert_eq!(
                r.end_of_extended,
                Date::new(
                    r.end_of_standard.y + 1,
                    r.end_of_standard.m,
                    r.end_of_standard.d
                )
            );
        }
    }

    #[test]
    fn extended_billing_starts_on_the_end_of_standard_day() {
        let v = parse_version("1.32").unwrap();
        assert_eq!(
            support(v, Date::new(2026, 3, 22)),
            Support::Standard {
                until: Date::new(2026, 3, 23)
            }
        );
        assert!(matches!(
            support(v, Date::new(2026, 3, 23)),
            Support::Extended { .. }
        ));
        assert_eq!(
            support(v, Date::new(2027, 3, 23)),
            Support::Ended {
                since: Date::new(2027, 3, 23)
            }
        );
        assert_eq!(
            support((1, 36), Date::new(2026, 12, 3)),
            Support::NewerThanCalendar
        );
        assert_eq!(
            support((1, 27), Date::new(2026, 12, 3)),
            Support::OlderThanCalendar
        );
        assert_eq!(parse_version("v1.33.2"), Some((1, 33)));
        assert_eq!(parse_version("latest"), None);
    }
}
