//! Reading manifests.
//!
//! [`load_paths`] takes files, folders (read recursively: `.yaml`, `.yml`, `.json`) and
//! `-` for standard input. A file holds YAML documents separated by `---` lines, or
//! JSON values; `kind: List` (and `*List`) objects, as `kubectl get -o yaml|json`
//! prints them, are opened into their items. Each object becomes an [`Object`] with
//! its [`Source`] and a typed [`Resource`]; kinds podwall does not read are counted in
//! [`Input::skipped`]. Objects of a kind podwall reads that do not parse are errors:
//! nothing is silently dropped. [`load_documents_with`] reads files given by their bytes
//! (as [`git`] reads them at a revision) by the same rules.
#![forbid(unsafe_code)]

pub mod anp;
pub mod calico;
pub mod cnp;
mod error;
pub mod git;
pub mod kinds;
mod object;
pub mod pods;
pub mod podspec;
mod read;
mod strict;

pub use error::InputError;
pub use kinds::{is_workload, kind_info, KindInfo, Reader, Scope};
pub use object::{Object, RawDoc, Resource, Workload};
pub use podwall_ir::Source;
pub use read::{
    is_cluster_source, is_manifest, load_documents, load_documents_with, load_paths, load_paths_where, load_paths_with,
    load_str, load_str_keeping, load_values, load_values_where, manifest_files, Document, Filter, Gap, GapReason,
    Input, Invalid, Key, Options, CLUSTER_SOURCE,
};
