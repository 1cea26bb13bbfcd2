//! Kubernetes label selectors.
use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use podwall_ir::{Expr, Label, Scope, Source};
use podwall_load::InputError;

/// Compiles a `LabelSelector` read in `scope`. `field` is its path, for errors.
pub fn compile(sel: &LabelSelector, scope: Scope, src: &Source, object: &str, field: &str) -> Result<Expr, InputError> {
    let label = |k: &str| Label { scope, key: k.to_string() };
    let mut parts = Vec::new();
    for (k, v) in sel.match_labels.iter().flatten() {
        parts.push(Expr::Eq(label(k), v.clone()));
    }
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        let f = format!("{field}.matchExpressions[{i}]");
        let values: BTreeSet<String> = req.values.iter().flatten().cloned().collect();
        let l = label(&req.key);
        let need_values = |has: bool| -> Result<(), InputError> {
            match (has, values.is_empty()) {
                (true, true) => Err(InputError::field(
                    src,
                    object,
                    format!("{f}.values"),
                    format!("operator {} needs at least one value", req.operator),
                )),
                (false, false) => Err(InputError::field(
                    src,
                    object,
                    format!("{f}.values"),
                    format!("operator {} takes no values", req.operator),
                )),
                _ => Ok(()),
            }
        };
        let e = match req.operator.as_str() {
            "In" => {
                need_values(true)?;
                Expr::In(l, values)
            }
            "NotIn" => {
                need_values(true)?;
                Expr::NotIn(l, values)
            }
            "Exists" => {
                need_values(false)?;
                Expr::Has(l)
            }
            "DoesNotExist" => {
                need_values(false)?;
                Expr::not(Expr::Has(l))
            }
            other => {
                return Err(InputError::field(
                    src,
                    object,
                    format!("{f}.operator"),
                    format!("unknown operator {other:?} (expected In, NotIn, Exists or DoesNotExist)"),
                ))
            }
        };
        parts.push(e);
    }
    Ok(Expr::and(parts))
}

/// The selector in words, e.g. `app=web, tier in (a, b)`; `None` when it selects everything.
pub fn describe(sel: &LabelSelector) -> Option<String> {
    let mut parts: Vec<String> = sel.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for req in sel.match_expressions.iter().flatten() {
        let vals = req.values.clone().unwrap_or_default().join(", ");
        parts.push(match req.operator.as_str() {
            "In" => format!("{} in ({vals})", req.key),
            "NotIn" => format!("{} notin ({vals})", req.key),
            "Exists" => req.key.clone(),
            "DoesNotExist" => format!("!{}", req.key),
            op => format!("{} {op} ({vals})", req.key),
        });
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}
