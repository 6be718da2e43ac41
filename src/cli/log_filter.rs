//! What the log shows: infra's own lines (each AWS call under
//! `infra::aws`) with `-v`, anything else by `INFRA_LOG`.

/// The filter for the log: `INFRA_LOG` (tracing's env-filter syntax) when
/// set, plus `infra=debug` with `-v`. The SDK's and the HTTP stack's own
/// logs stay at `info` unless named: at debug and below they print request
/// headers and signing input, session tokens included.
pub fn filter(verbose: bool, infra_log: Option<&str>) -> String {
    let user = infra_log.unwrap_or("").trim();
    let mut directives: Vec<String> = if user.is_empty() {
        vec!["error".into()]
    } else {
        vec![user.to_string()]
    };
    let names = |t: &str| user.split(',').any(|d| d.trim().starts_with(t));
    if verbose && !names("infra") {
        directives.push("infra=debug".into());
    }
    // Without -v or INFRA_LOG the SDK stays quiet (its credential-chain
    // warnings would bury infra's own one-line reason); never past info.
    let sdk_level = if verbose || !user.is_empty() {
        "info"
    } else {
        "error"
    };
    for target in ["aws", "hyper", "h2", "rustls", "tower", "reqwest"] {
        if !names(target) {
            directives.push(format!("{target}={sdk_level}"));
        }
    }
    directives.join(",")
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn sdk_logs_stay_at_info_unless_named() {
        assert_eq!(
            filter(false, None),
            "error,aws=error,hyper=error,h2=error,rustls=error,tower=error,reqwest=error"
        );
        assert!(filter(true, None).starts_with("error,infra=debug,aws=info"));
        let f = filter(false, Some("trace"));
        assert!(f.starts_with("trace,") && f.contains("aws=info"), "{f}");
        let f = filter(true, Some("infra::aws=debug,aws_sigv4=trace"));
        assert!(
            !f.contains("infra=debug") && !f.contains(",aws=info") && f.contains("hyper=info"),
            "named by the user: {f}"
        );
    }
}
