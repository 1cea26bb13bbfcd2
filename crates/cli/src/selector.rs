//! `podwall selector`: which endpoints and network sets a Calico selector picks.
//!
//! The expression is read with Calico's selector grammar and evaluated in Calico's
//! endpoint label view (own labels, `projectcalico.org/*`, `pcns.*`, `pcsa.*`), exactly
//! as a GlobalNetworkPolicy's plain selector is. Host-network pods are never selected.
//! With `--namespace-selector` the expression is read as a `namespaceSelector`: labels
//! are namespace labels and the matching namespaces are listed.
use std::process::ExitCode;

use podwall_ir::{Cluster, Expr};
use podwall_selector::ParseError;

use crate::input::load;
use crate::output::{NamespaceSelectorOut, NetworkSetOut, SelectorOut};
use crate::{Failure, Format, InputArgs};

/// Flags of `selector`.
#[derive(clap::Args)]
pub struct Args {
    /// A Calico selector, e.g. "app == 'web' && has(tier)".
    expr: String,
    #[command(flatten)]
    input: InputArgs,
    /// Read the expression as a namespaceSelector: list the namespaces whose labels match
    /// (`all()` is every namespace; `projectcalico.org/name` is the namespace's name).
    #[arg(long)]
    namespace_selector: bool,
    /// Output format. JSON: `{"selector", "endpoints", "network_sets"}`, or
    /// `{"selector", "namespaces"}` with --namespace-selector.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The parse error, with the input and a caret under the position.
fn parse_failure(expr: &str, e: &ParseError) -> Failure {
    let pos = e.position.min(expr.len());
    // Align the caret by characters; keep tabs so it lines up in a terminal.
    let pad: String =
        expr.char_indices().take_while(|(i, _)| *i < pos).map(|(_, c)| if c == '\t' { '\t' } else { ' ' }).collect();
    Failure::Error(format!("invalid selector {e}\n  {expr}\n  {pad}^"))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The namespaces a namespaceSelector picks, read as Calico reads it.
fn namespaces(cluster: &Cluster, expr: &Expr) -> Vec<String> {
    let sel = podwall_dialects::calico_namespace_selector(expr.clone());
    cluster.namespaces.keys().filter(|n| cluster.namespace_view(n).is_some_and(|v| sel.matches(&v))).cloned().collect()
}

/// Runs `selector`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let expr = podwall_selector::parse(&a.expr).map_err(|e| parse_failure(&a.expr, &e))?;
    let cluster = load(&a.input)?;
    if a.namespace_selector {
        let names = namespaces(&cluster, &expr);
        match a.format {
            Format::Json => {
                let out = NamespaceSelectorOut { namespaces: names, selector: &a.expr };
                crate::outln!("{}", serde_json::to_string_pretty(&out)?);
            }
            Format::Text => {
                for n in &names {
                    crate::outln!("{n}");
                }
                crate::outln!("{}", plural(names.len(), "namespace", "namespaces"));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if expr.mentions_global() {
        eprintln!(
            "note: global() is true on its own; it means \"no namespace\" only in a namespaceSelector (see --namespace-selector)"
        );
    }
    let expr = podwall_dialects::calico_selector(expr);
    let endpoints: Vec<&str> = (0..cluster.endpoints.len())
        .filter(|&i| !cluster.endpoints[i].host_network && expr.matches(&cluster.view(i)))
        .map(|i| cluster.endpoints[i].name.as_str())
        .collect();
    let sets: Vec<usize> =
        (0..cluster.network_sets.len()).filter(|&i| expr.matches(&cluster.network_set_view(i))).collect();
    match a.format {
        Format::Json => {
            let sets: Vec<_> = sets
                .iter()
                .map(|&i| {
                    let s = &cluster.network_sets[i];
                    NetworkSetOut {
                        name: s.name.clone(),
                        namespace: s.namespace.clone(),
                        nets: s.nets.iter().map(|n| n.to_string()).collect(),
                    }
                })
                .collect();
            let out = SelectorOut { endpoints, network_sets: sets, selector: &a.expr };
            crate::outln!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Text => {
            for e in &endpoints {
                crate::outln!("{e}");
            }
            for &i in &sets {
                let s = &cluster.network_sets[i];
                let nets: Vec<String> = s.nets.iter().map(|n| n.to_string()).collect();
                crate::outln!("network set {} ({})", s.name, nets.join(", "));
            }
            crate::outln!(
                "{}, {}",
                plural(endpoints.len(), "endpoint", "endpoints"),
                plural(sets.len(), "network set", "network sets")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
