//! `diff --fail-on`: the conditions a change is refused on in CI.
use std::fmt;

use podwall_findings::Severity;
use podwall_report::parse_severity;

/// A condition `--fail-on` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The change allows a flow that was denied.
    OpenedFlows,
    /// The change denies a flow that was allowed.
    ClosedFlows,
    /// The change adds a finding, at or above the severity when one is given.
    NewFindings(Option<Severity>),
    /// Any of the others: a flow opened or closed, or a finding added.
    Any,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::OpenedFlows => f.write_str("opened-flows"),
            Condition::ClosedFlows => f.write_str("closed-flows"),
            Condition::NewFindings(None) => f.write_str("new-findings"),
            Condition::NewFindings(Some(s)) => write!(f, "new-findings:{s}"),
            Condition::Any => f.write_str("any"),
        }
    }
}

/// The words `--fail-on` takes, for its help and its errors.
pub const VALID: &str =
    "opened-flows, closed-flows, new-findings, new-findings:SEVERITY (critical, high, medium, low or info), any";

/// Parses one word of `--fail-on`.
pub fn parse(word: &str) -> Result<Condition, String> {
    let (name, severity) = match word.split_once(':') {
        Some((n, s)) => (n, Some(s)),
        None => (word, None),
    };
    let unknown = || format!("unknown condition {word:?}; the valid ones are {VALID}");
    match (name, severity) {
        ("opened-flows", None) => Ok(Condition::OpenedFlows),
        ("closed-flows", None) => Ok(Condition::ClosedFlows),
        ("new-findings", None) => Ok(Condition::NewFindings(None)),
        ("any", None) => Ok(Condition::Any),
        ("new-findings", Some(s)) => {
            parse_severity(s).map(|s| Condition::NewFindings(Some(s))).map_err(|e| format!("{word:?}: {e}"))
        }
        ("opened-flows" | "closed-flows" | "any", Some(_)) => {
            Err(format!("{word:?}: only new-findings takes a severity; the valid conditions are {VALID}"))
        }
        _ => Err(unknown()),
    }
}

/// What the conditions are judged on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Flows (source, destination, port) between endpoints of both states newly allowed.
    pub opened: usize,
    /// Newly denied.
    pub closed: usize,
    /// Endpoints only the new state has that reach, or are reached by, another endpoint.
    pub new_endpoints_with_flows: usize,
    /// Endpoints only the old state had that reached, or were reached by, another one.
    pub gone_endpoints_with_flows: usize,
}

/// Whether `c` holds; `added_at_least(s)` counts the added findings at or above `s`.
pub fn holds(c: Condition, t: &Tally, added_at_least: &dyn Fn(Severity) -> usize) -> bool {
    match c {
        Condition::OpenedFlows => t.opened > 0 || t.new_endpoints_with_flows > 0,
        Condition::ClosedFlows => t.closed > 0 || t.gone_endpoints_with_flows > 0,
        Condition::NewFindings(s) => added_at_least(s.unwrap_or(Severity::Info)) > 0,
        Condition::Any => {
            let flows = |c| holds(c, t, &|_| 0);
            flows(Condition::OpenedFlows) || flows(Condition::ClosedFlows) || added_at_least(Severity::Info) > 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_parses_back_from_its_name() {
        for c in [
            Condition::OpenedFlows,
            Condition::ClosedFlows,
            Condition::NewFindings(None),
            Condition::NewFindings(Some(Severity::High)),
            Condition::Any,
        ] {
            assert_eq!(parse(&c.to_string()), Ok(c));
        }
        assert_eq!(parse("new-findings:HIGH"), Ok(Condition::NewFindings(Some(Severity::High))));
    }

    #[test]
    fn an_unknown_word_lists_the_valid_ones() {
        let e = parse("opened").expect_err("unknown");
        assert!(e.contains("\"opened\"") && e.contains(VALID), "{e}");
        assert!(parse("new-findings:severe").expect_err("bad severity").contains("unknown severity"));
        assert!(parse("closed-flows:high").expect_err("no severity here").contains("only new-findings"));
    }

    #[test]
    fn new_findings_at_a_severity_counts_that_severity_and_worse() {
        let t = Tally::default();
        // One medium finding added.
        let added = |s: Severity| usize::from(Severity::Medium >= s);
        assert!(holds(Condition::NewFindings(None), &t, &added));
        assert!(holds(Condition::NewFindings(Some(Severity::Medium)), &t, &added));
        assert!(!holds(Condition::NewFindings(Some(Severity::High)), &t, &added));
        assert!(!holds(Condition::OpenedFlows, &t, &added) && !holds(Condition::ClosedFlows, &t, &added));
        assert!(holds(Condition::Any, &t, &added));
    }

    #[test]
    fn any_holds_on_a_flow_either_way_or_a_finding_and_nothing_else() {
        let none = |_: Severity| 0;
        assert!(!holds(Condition::Any, &Tally::default(), &none));
        for t in [
            Tally { opened: 1, ..Tally::default() },
            Tally { closed: 1, ..Tally::default() },
            Tally { new_endpoints_with_flows: 1, ..Tally::default() },
            Tally { gone_endpoints_with_flows: 1, ..Tally::default() },
        ] {
            assert!(holds(Condition::Any, &t, &none), "{t:?}");
        }
        // Closing opens nothing.
        let closed = Tally { closed: 2, ..Tally::default() };
        assert!(!holds(Condition::OpenedFlows, &closed, &none) && holds(Condition::ClosedFlows, &closed, &none));
    }
}
