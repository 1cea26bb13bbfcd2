//! Files, documents, lists.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::kinds::{kind_info, Reader};
use crate::object::{display, resource, Doc};
use crate::{InputError, Object};
use podwall_ir::Source;

/// What is read of an object before its kind is known.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    metadata: Option<HeadMeta>,
    #[serde(default)]
    items: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
struct HeadMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

impl Head {
    fn is_list(&self) -> bool {
        self.kind.ends_with("List") && self.items.is_some()
    }
}

#[derive(Deserialize)]
struct ListItems<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

fn not_an_object(source: &Source) -> InputError {
    InputError::at(source.clone(), "expected a Kubernetes object (a mapping with apiVersion and kind)")
}

/// What is known of an object before it is typed: enough to decide whether to type it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key<'a> {
    /// The API group (empty for core).
    pub group: &'a str,
    /// The kind.
    pub kind: &'a str,
    /// The namespace (`default` for namespaced kinds that give none; `None` for
    /// cluster-scoped kinds).
    pub namespace: Option<&'a str>,
    /// The name.
    pub name: &'a str,
}

/// Which objects of known kinds to type; the others are counted in [`Input::unread`].
pub type Filter<'f> = &'f (dyn Fn(&Key<'_>) -> bool + Sync);

/// How [`load_paths_with`] reads.
#[derive(Clone, Copy)]
pub struct Options<'f> {
    /// Which objects of known kinds to type.
    pub keep: Filter<'f>,
    /// In files found by walking a folder (never in files named directly, nor in standard
    /// input), pass over what cannot be read instead of failing: a file that is not
    /// Kubernetes manifests (bad syntax, a document with no `kind`) whole, an object the
    /// API server would refuse alone. Each is listed in [`Input::invalid`].
    pub skip_invalid: bool,
    /// Which typed objects also keep their document ([`Object::raw`]; untyped kinds
    /// always do), for checks that read more of them than the typed projection holds:
    /// Pod Security reads whole pod specs ([`crate::podspec`]).
    pub raw: Filter<'f>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options { keep: &keep_all, skip_invalid: false, raw: &keep_none }
    }
}

/// How one file is read.
#[derive(Clone, Copy)]
struct Mode<'f> {
    keep: Filter<'f>,
    /// Pass over objects that cannot be typed (listing them) instead of failing.
    skip_objects: bool,
    raw: Filter<'f>,
}

impl<'f> Mode<'f> {
    fn strict(keep: Filter<'f>) -> Self {
        Mode { keep, skip_objects: false, raw: &keep_none }
    }
}

/// Input that was passed over because it cannot be read (see [`Options::skip_invalid`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// What is wrong, and where.
    pub error: InputError,
    /// The whole file was passed over (else only the object the error names).
    pub whole_file: bool,
}

/// Everything read from the input.
#[derive(Clone, Debug, Default)]
pub struct Input {
    /// The objects podwall reads, in input order.
    pub objects: Vec<Object>,
    /// Objects of other kinds, passed over: `apiVersion/kind` → where each was.
    pub skipped: BTreeMap<String, Vec<Source>>,
    /// Objects of kinds podwall reads that a [`Filter`] left untyped (their text was
    /// checked to be well-formed, not their fields).
    pub unread: usize,
    /// The files read.
    pub files: Vec<String>,
    /// What was passed over because it cannot be read, in input order (only with
    /// [`Options::skip_invalid`]).
    pub invalid: Vec<Invalid>,
    /// The files whose objects may be passed over when they turn out invalid later (when
    /// compiled): the files found by walking a folder, with [`Options::skip_invalid`].
    pub lenient: BTreeSet<String>,
    /// Kinds a live cluster did not hand over (not allowed, not served): what the
    /// answers cannot include (only when reading a cluster, see [`load_documents`]).
    pub gaps: Vec<Gap>,
}

/// A kind a live cluster did not hand over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// Where it was asked for: the cluster (`cluster:<context>`).
    pub source: Source,
    /// `Kind` for the core group, else `Kind.group`.
    pub kind: String,
    /// Why.
    pub reason: GapReason,
}

/// Why a kind is missing from a live read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GapReason {
    /// The server refused to list it (HTTP 403): objects of it may exist, and answers
    /// leave them out. The text is the server's message.
    Forbidden(String),
    /// The server does not serve the kind (HTTP 404: its CRD is not installed), so the
    /// cluster holds none.
    NotServed,
}

fn keep_all(_: &Key<'_>) -> bool {
    true
}

fn keep_none(_: &Key<'_>) -> bool {
    false
}

impl Input {
    /// How many objects were passed over.
    pub fn skipped_count(&self) -> usize {
        self.skipped.values().map(Vec::len).sum()
    }

    fn add_value(&mut self, value: Value, source: &Source, mode: Mode<'_>) -> Result<(), InputError> {
        if value.is_null() {
            return Ok(());
        }
        let head = Head::deserialize(&value).map_err(|_| not_an_object(source))?;
        if head.is_list() {
            let Value::Object(mut map) = value else { return Err(not_an_object(source)) };
            let Some(Value::Array(items)) = map.remove("items") else {
                return Err(InputError::at(source.clone(), format!("{}: `items` is not a list", head.kind)));
            };
            for item in items {
                self.add_value(item, source, mode)?;
            }
            return Ok(());
        }
        self.add_object(head, Doc::Value(value), source, mode)
    }

    /// Reads one JSON value without building a `Value` tree: the head is read first,
    /// then the typed object straight from the text.
    fn add_raw(&mut self, raw: &RawValue, source: &Source, mode: Mode<'_>) -> Result<(), InputError> {
        let text = raw.get();
        if text == "null" {
            return Ok(());
        }
        let head: Head = serde_json::from_str(text).map_err(|_| not_an_object(source))?;
        if head.is_list() {
            let items: ListItems<'_> = serde_json::from_str(text)
                .map_err(|_| InputError::at(source.clone(), format!("{}: `items` is not a list", head.kind)))?;
            for item in items.items {
                self.add_raw(item, source, mode)?;
            }
            return Ok(());
        }
        self.add_object(head, Doc::Raw(text), source, mode)
    }

    fn add_object(&mut self, head: Head, doc: Doc<'_>, source: &Source, mode: Mode<'_>) -> Result<(), InputError> {
        let meta = head.metadata.unwrap_or_default();
        let (kind, api_version) = (head.kind, head.api_version);
        if kind.is_empty() || api_version.is_empty() {
            let what = meta.name.map(|n| format!(" {n:?}")).unwrap_or_default();
            return Err(InputError::at(
                source.clone(),
                format!("object{what} has no `kind` or no `apiVersion`: not a Kubernetes object"),
            ));
        }
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        if kind.ends_with("List") && kind_info(group, &kind).is_none() {
            // A list whose items are not under `items` (keys are case-sensitive): its
            // objects would otherwise be passed over as one object of an unknown kind.
            return Err(InputError::field(source, &kind, "items", "a list without an `items` list of objects"));
        }
        let Some(info) = kind_info(group, &kind) else {
            self.skipped.entry(format!("{api_version}/{kind}")).or_default().push(source.clone());
            return Ok(());
        };
        let name = meta.name.unwrap_or_default();
        let namespace =
            info.is_namespaced().then(|| meta.namespace.filter(|s| !s.is_empty()).unwrap_or_else(|| "default".into()));
        let object = display(&kind, namespace.as_deref(), &name);
        if name.is_empty() && info.name_required {
            return self.refuse(InputError::field(source, &object, "metadata.name", "missing name"), mode);
        }
        let key = Key { group, kind: &kind, namespace: namespace.as_deref(), name: &name };
        if !(mode.keep)(&key) {
            self.unread += 1;
            return Ok(());
        }
        let raw = match info.reader {
            Reader::Kept | Reader::Unevaluated => true,
            _ => (mode.raw)(&key),
        };
        let raw = match raw {
            true => Some(doc.raw().map_err(|e| InputError::at(source.clone(), e.to_string()))?),
            false => None,
        };
        let resource = match resource(info, doc, source, &object) {
            Ok(r) => r,
            Err(e) => return self.refuse(e, mode),
        };
        self.objects.push(Object { source: source.clone(), api_version, kind, namespace, name, resource, raw });
        Ok(())
    }

    /// An object that cannot be typed: an error, or with `skip_objects` passed over
    /// and listed.
    fn refuse(&mut self, error: InputError, mode: Mode<'_>) -> Result<(), InputError> {
        if !mode.skip_objects {
            return Err(error);
        }
        self.invalid.push(Invalid { error, whole_file: false });
        Ok(())
    }

    fn add_text(&mut self, file: &str, text: &str, mode: Mode<'_>) -> Result<(), InputError> {
        self.files.push(file.to_string());
        // A byte-order mark is not content (editors on Windows write one; kubectl reads past it).
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            return self.add_json(file, text, mode);
        }
        for (line, doc) in split_documents(text) {
            let source = Source { file: file.to_string(), line };
            let value = yaml_value(doc).map_err(|e| {
                let (l, msg) = match e.location() {
                    // The parser counts lines from the document's start; report the file's
                    // line only, and drop the parser's own position from its message.
                    Some(loc) => {
                        let msg = e.to_string();
                        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                        let (at, column) = duplicate_key_line(doc, &msg, loc.line(), loc.column())
                            .unwrap_or((loc.line(), loc.column()));
                        (line + at - 1, format!("invalid YAML (column {column}): {msg}"))
                    }
                    None => (line, format!("invalid YAML: {e}")),
                };
                InputError::at(Source { file: file.to_string(), line: l }, msg)
            })?;
            match value {
                Value::Array(items) => {
                    for item in items {
                        self.add_value(item, &source, mode)?;
                    }
                }
                other => self.add_value(other, &source, mode)?,
            }
        }
        Ok(())
    }

    fn add_json(&mut self, file: &str, text: &str, mode: Mode<'_>) -> Result<(), InputError> {
        unique_keys(file, text)?;
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
        loop {
            let offset = stream.byte_offset();
            let line = 1 + text[..offset].bytes().filter(|b| *b == b'\n').count();
            let next = stream.next();
            let Some(value) = next else { return Ok(()) };
            let value = value.map_err(|e| {
                InputError::at(
                    Source { file: file.to_string(), line: e.line() },
                    format!("invalid JSON (column {}): {}", e.column(), without_position(&e)),
                )
            })?;
            // Point at the line where the value starts, skipping leading whitespace.
            let skipped = text[offset..].len() - text[offset..].trim_start().len();
            let line = line + text[offset..offset + skipped].bytes().filter(|b| *b == b'\n').count();
            let source = Source { file: file.to_string(), line };
            if value.get().starts_with('[') {
                let items: Vec<&RawValue> = serde_json::from_str(value.get())
                    .map_err(|e| InputError::at(source.clone(), format!("invalid JSON: {e}")))?;
                for item in items {
                    self.add_raw(item, &source, mode)?;
                }
            } else {
                self.add_raw(value, &source, mode)?;
            }
        }
    }
}

/// One YAML document as a JSON tree. It is parsed into a YAML tree first: that refuses
/// a key given twice in one mapping (as kubectl does: "mapping key already defined";
/// a JSON tree would keep the last silently) and resolves merge keys (`<<: *anchor`),
/// which kubectl reads too.
fn yaml_value(doc: &str) -> Result<Value, serde_yaml_ng::Error> {
    let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(doc)?;
    yaml.apply_merge()?;
    serde_yaml_ng::from_value(yaml)
}

/// A JSON error's message without the parser's ` at line L column C`: the file's line
/// and column are reported apart.
fn without_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match (e.line(), msg.rfind(" at line ")) {
        (1.., Some(at)) => msg[..at].to_string(),
        _ => msg,
    }
}

/// Refuses a JSON text in which one object gives a key twice, as kubectl's strict
/// decoding does (a tree, or a typed map, would keep the last silently). Syntax errors
/// are left to the reader, which names them the same way.
fn unique_keys(file: &str, text: &str) -> Result<(), InputError> {
    for value in serde_json::Deserializer::from_str(text).into_iter::<Unique>() {
        match value {
            Ok(Unique) => {}
            Err(e) if e.classify() == serde_json::error::Category::Data => {
                return Err(InputError::at(
                    Source { file: file.to_string(), line: e.line() },
                    format!("invalid JSON (column {}): {}", e.column(), without_position(&e)),
                ));
            }
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// A JSON value, read only to see that no object in it gives a key twice.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

/// An object's key, borrowed from the text when it has no escapes.
struct KeyText<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyText(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyText(v.to_string().into()))
            }
        }
        d.deserialize_str(V)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Unique;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        // Most objects have a few keys: a list is cheaper than a set until it is long.
        const LISTED: usize = 16;
        let mut keys: Vec<std::borrow::Cow<'de, str>> = Vec::new();
        let mut set: std::collections::HashSet<std::borrow::Cow<'de, str>> = Default::default();
        while let Some(KeyText(key)) = map.next_key()? {
            let again = match keys.len() < LISTED {
                true => keys.contains(&key),
                false => {
                    if set.is_empty() {
                        set.extend(keys.iter().cloned());
                    }
                    set.contains(&key)
                }
            };
            if again {
                return Err(serde::de::Error::custom(format!("duplicate entry with key {key:?}")));
            }
            match keys.len() < LISTED {
                true => keys.push(key),
                false => {
                    set.insert(key);
                }
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

/// For a key given twice, the parser points at the mapping; this finds the line of the
/// second `key:` in that mapping (block style, at the mapping's column), when it can.
fn duplicate_key_line(doc: &str, msg: &str, map_line: usize, column: usize) -> Option<(usize, usize)> {
    let key = msg.split("duplicate entry with key ").nth(1)?;
    let key: String = serde_json::from_str(key).ok()?;
    let indent = column.checked_sub(1)?;
    let entry = format!("{key}:");
    let mut seen = false;
    for (i, l) in doc.lines().enumerate().skip(map_line.checked_sub(1)?) {
        let first = i + 1 == map_line;
        let content = l.trim_start();
        if !first && !content.is_empty() && !content.starts_with('#') && l.len() - content.len() < indent {
            return None; // the mapping ended
        }
        let at_key = l.len() > indent
            && l.is_char_boundary(indent)
            && (first || l[..indent].trim().is_empty())
            && l[indent..].starts_with(&entry);
        if at_key && seen {
            return Some((i + 1, column));
        }
        seen |= at_key;
    }
    None
}

/// Splits YAML text into documents at `---` lines, as kubectl does, giving each
/// document's first line number (1-based). Documents that hold nothing are dropped.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0usize; // byte offset of the current document
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end();
        let is_sep = bare == "---" || bare.starts_with("--- ") || bare == "...";
        if is_sep {
            docs.push((start_line, &text[start..offset]));
            // Content after `--- ` on the same line belongs to the next document.
            start = if bare.starts_with("--- ") { offset + 4 } else { offset + line.len() };
            start_line = if bare.starts_with("--- ") { i + 1 } else { i + 2 };
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start..]));
    docs.into_iter()
        .filter(|(_, d)| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')))
        .map(|(line, d)| {
            // Report the first line with content, not the separator's blank lines.
            let lead = d.lines().take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#')).count();
            (line + lead, d)
        })
        .collect()
}

/// Reads manifests from `text`, reported as coming from `file`.
pub fn load_str(file: &str, text: &str) -> Result<Input, InputError> {
    let mut input = Input::default();
    input.add_text(file, text, Mode::strict(&keep_all))?;
    Ok(input)
}

/// Like [`load_str`], keeping the documents `raw` accepts (see [`Options::raw`]).
pub fn load_str_keeping(file: &str, text: &str, raw: Filter<'_>) -> Result<Input, InputError> {
    let mut input = Input::default();
    input.add_text(file, text, Mode { raw, ..Mode::strict(&keep_all) })?;
    Ok(input)
}

/// Reads already-parsed objects (generated clusters, tests), reported as coming from `file`.
pub fn load_values(file: &str, values: Vec<Value>) -> Result<Input, InputError> {
    load_values_where(file, values, &keep_all)
}

/// Like [`load_values`], typing only the objects `keep` accepts.
pub fn load_values_where(file: &str, values: Vec<Value>, keep: Filter<'_>) -> Result<Input, InputError> {
    let mut input = Input::default();
    input.files.push(file.to_string());
    for (i, v) in values.into_iter().enumerate() {
        input.add_value(v, &Source { file: file.to_string(), line: i + 1 }, Mode::strict(keep))?;
    }
    Ok(input)
}

/// How the names of documents read from a live cluster start
/// (`cluster:<context>/<namespace>/<Kind>/<name>`): they are no file, and have no line.
pub const CLUSTER_SOURCE: &str = "cluster:";

/// Whether a source names a document read from a live cluster, not a file.
pub fn is_cluster_source(file: &str) -> bool {
    file.starts_with(CLUSTER_SOURCE)
}

/// Reads documents that have a name of their own instead of a file: each is the text of
/// one object or list (objects read from a cluster are named
/// `cluster:<context>/<namespace>/<Kind>/<name>`). Each is read exactly as a file of
/// that name holding the text would be, so every rule of files applies: validation,
/// duplicates, kept documents. With [`Options::skip_invalid`], what cannot be read is
/// listed as in a walked folder.
pub fn load_documents(docs: &[(String, String)], options: Options<'_>) -> Result<Input, InputError> {
    let mode = Mode { keep: options.keep, skip_objects: options.skip_invalid, raw: options.raw };
    let parts: Vec<Result<Input, InputError>> = docs
        .par_iter()
        .map(|(name, text)| {
            let mut one = Input::default();
            one.add_text(name, text, mode)?;
            if options.skip_invalid {
                one.lenient.insert(name.clone());
            }
            Ok(one)
        })
        .collect();
    let mut input = Input::default();
    for part in parts {
        input.merge(part?);
    }
    Ok(input)
}

/// `.yaml`, `.yml` or `.json`, in any case (`.YAML` too): the files a folder is read for.
pub fn is_manifest(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
    ["yaml", "yml", "json"].iter().any(|m| ext.eq_ignore_ascii_case(m))
}

/// A reading error about a whole file or folder.
fn io_error(path: &Path, e: &std::io::Error) -> InputError {
    let message = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        _ => e.to_string(),
    };
    InputError::at(Source { file: path.display().to_string(), line: 0 }, message)
}

/// A file's text: UTF-8, or UTF-16 when it starts with a UTF-16 byte-order mark (what
/// some Windows tools write; kubectl decodes it the same way).
fn read_text(path: &Path) -> Result<String, InputError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, &e))?;
    decode(bytes).map_err(|e| InputError::at(file_source(&path.display().to_string()), e))
}

/// Text from bytes: UTF-16 (little- or big-endian) after its byte-order mark, else UTF-8.
fn decode(bytes: Vec<u8>) -> Result<String, String> {
    let utf16 = |body: &[u8], unit: fn([u8; 2]) -> u16| {
        if !body.len().is_multiple_of(2) {
            return Err("UTF-16 text (it starts with a UTF-16 byte-order mark) with an odd number of bytes".to_string());
        }
        let units: Vec<u16> = body.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
        String::from_utf16(&units)
            .map_err(|_| "invalid UTF-16 text (it starts with a UTF-16 byte-order mark)".to_string())
    };
    match bytes.as_slice() {
        [0xFF, 0xFE, body @ ..] => utf16(body, u16::from_le_bytes),
        [0xFE, 0xFF, body @ ..] => utf16(body, u16::from_be_bytes),
        _ => String::from_utf8(bytes).map_err(|e| {
            format!(
                "not UTF-8 text (byte {} is invalid) nor UTF-16 with a byte-order mark",
                e.utf8_error().valid_up_to()
            )
        }),
    }
}

/// The manifest files `path` names: itself, or the `.yaml`/`.yml`/`.json` files below a
/// folder, recursively, in sorted order.
pub fn manifest_files(path: &Path) -> Result<Vec<std::path::PathBuf>, InputError> {
    let mut out = Vec::new();
    collect_files(path, &mut out)?;
    Ok(out)
}

fn collect_files(path: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), InputError> {
    let io_err = |e: std::io::Error| io_error(path, &e);
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(io_err)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io_err)?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                collect_files(&p, out)?;
            } else if is_manifest(&p) {
                out.push(p);
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Reads every path: a file, a folder (recursively, `.yaml`/`.yml`/`.json`), or `-` for
/// standard input.
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Input, InputError> {
    load_paths_where(paths, &keep_all)
}

/// Like [`load_paths`], typing only the objects of known kinds that `keep` accepts: a
/// question about a few objects need not type the rest. Every file is still parsed
/// whole, so malformed text is still an error.
pub fn load_paths_where<P: AsRef<Path>>(paths: &[P], keep: Filter<'_>) -> Result<Input, InputError> {
    load_paths_with(paths, Options { keep, ..Options::default() })
}

/// Reads every path as [`load_paths`] does, the way `options` say.
pub fn load_paths_with<P: AsRef<Path>>(paths: &[P], options: Options<'_>) -> Result<Input, InputError> {
    let mut input = Input::default();
    for p in paths {
        let p = p.as_ref();
        if p == Path::new("-") {
            let mut bytes = Vec::new();
            let stdin_error = |e: String| InputError::at(Source { file: "-".into(), line: 0 }, e);
            std::io::stdin().read_to_end(&mut bytes).map_err(|e| stdin_error(e.to_string()))?;
            let text = decode(bytes).map_err(stdin_error)?;
            input.add_text("-", &text, Mode { raw: options.raw, ..Mode::strict(options.keep) })?;
            continue;
        }
        let files = manifest_files(p)?;
        if files.is_empty() {
            return Err(InputError::at(
                Source { file: p.display().to_string(), line: 0 },
                "no manifests found (.yaml, .yml or .json files)",
            ));
        }
        // A file named directly is always read strictly; files found in a folder may be
        // passed over.
        let lenient = options.skip_invalid && p.is_dir();
        input.merge(read_files(&files, |f| read_text(f), |f| f.display().to_string(), lenient, options)?);
    }
    Ok(input)
}

/// A manifest file given by its bytes rather than read from disk (a file as it is at a
/// git revision, say), named as messages should name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// Its name in every message (`file:line`).
    pub path: String,
    /// Its content: UTF-8, or UTF-16 after a byte-order mark, as for files.
    pub bytes: Vec<u8>,
}

/// Reads documents as [`load_paths_with`] reads the files of one path: `walked` says
/// that they were found by walking a folder (so that [`Options::skip_invalid`] may pass
/// over what cannot be read in them), else each was named directly and is read
/// strictly. Every rule of reading files applies alike (byte-order marks, UTF-16, keys
/// given twice, lists, templates).
pub fn load_documents_with(docs: &[Document], walked: bool, options: Options<'_>) -> Result<Input, InputError> {
    let lenient = options.skip_invalid && walked;
    read_files(
        docs,
        |d| decode(d.bytes.clone()).map_err(|e| InputError::at(file_source(&d.path), e)),
        |d| d.path.clone(),
        lenient,
        options,
    )
}

fn file_source(file: &str) -> Source {
    Source { file: file.to_string(), line: 0 }
}

/// Reads and parses files in parallel, then merges them in order; the first error in
/// file order is reported. `lenient`: files found in a folder with `skip_invalid`, which
/// may be passed over (whole, or object by object).
fn read_files<F: Sync>(
    files: &[F],
    text_of: impl Fn(&F) -> Result<String, InputError> + Sync,
    name_of: impl Fn(&F) -> String + Sync,
    lenient: bool,
    options: Options<'_>,
) -> Result<Input, InputError> {
    let mode = Mode { keep: options.keep, skip_objects: lenient, raw: options.raw };
    let parts: Vec<Result<Input, InputError>> = files
        .par_iter()
        .map(|f| {
            let name = name_of(f);
            let mut one = Input::default();
            let read = text_of(f).and_then(|text| {
                one.add_text(&name, &text, mode).map_err(|mut e| {
                    if text.contains("{{") {
                        e.message
                            .push_str(" (the file looks like a template: render it first, e.g. with `helm template`)");
                    }
                    e
                })
            });
            match read {
                Ok(()) if lenient => {
                    one.lenient.insert(name);
                    Ok(one)
                }
                Ok(()) => Ok(one),
                Err(error) if lenient => Ok(Input {
                    files: vec![name],
                    invalid: vec![Invalid { error, whole_file: true }],
                    ..Input::default()
                }),
                Err(error) => Err(error),
            }
        })
        .collect();
    let mut input = Input::default();
    for part in parts {
        input.merge(part?);
    }
    Ok(input)
}

impl Input {
    /// Appends another input read after this one.
    pub fn merge(&mut self, other: Input) {
        self.objects.extend(other.objects);
        self.unread += other.unread;
        for (k, v) in other.skipped {
            self.skipped.entry(k).or_default().extend(v);
        }
        self.files.extend(other.files);
        self.invalid.extend(other.invalid);
        self.lenient.extend(other.lenient);
        self.gaps.extend(other.gaps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resource;

    #[test]
    fn documents_split_at_separator_lines_with_their_line_numbers() {
        let text = "a: 1\n---\n# c\nb: 2\n--- \n\n---\nc: 3\n";
        let docs = split_documents(text);
        let lines: Vec<usize> = docs.iter().map(|d| d.0).collect();
        assert_eq!(lines, [1, 4, 8]);
    }

    #[test]
    fn list_items_become_objects_and_unknown_kinds_are_counted() {
        let text = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
- apiVersion: v1
  kind: Service
  metadata: {name: s}
"#;
        let input = load_str("t.yaml", text).expect("loads");
        assert_eq!(input.objects.len(), 1);
        assert_eq!(input.objects[0].namespace.as_deref(), Some("default"));
        assert!(matches!(input.objects[0].resource, Resource::Pod(_)));
        assert_eq!(input.skipped_count(), 1);
    }

    #[test]
    fn json_stream_is_read() {
        let text = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}\n{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"y\"}}";
        let input = load_str("t.json", text).expect("loads");
        assert_eq!(input.objects.len(), 2);
        assert_eq!(input.objects[1].source.line, 2);
    }

    #[test]
    fn malformed_yaml_names_file_and_line() {
        let text =
            "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: [\n";
        let err = load_str("bad.yaml", text).expect_err("must fail");
        assert_eq!(err.location.file, "bad.yaml");
        assert!(err.location.line >= 5, "{err}");
    }

    #[test]
    fn wrongly_typed_field_names_the_field_path() {
        let text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: [1]\n";
        let err = load_str("np.yaml", text).expect_err("must fail");
        assert_eq!(err.object.as_deref(), Some("NetworkPolicy n/p"));
        assert_eq!(err.field.as_deref(), Some("spec.ingress[0].ports[0].port"), "{err}");
    }

    #[test]
    fn cluster_scoped_kept_kind_has_no_namespace_and_keeps_its_document() {
        let text = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: view, namespace: x}\nrules: [{verbs: [get]}]\n";
        let input = load_str("r.yaml", text).expect("loads");
        let o = &input.objects[0];
        assert_eq!((o.namespace.as_deref(), o.resource.clone()), (None, Resource::Kept));
        let raw = o.raw.as_ref().expect("kept document");
        let v: Value = serde_json::from_str(raw.0.get()).expect("json");
        assert_eq!(v["rules"][0]["verbs"][0], "get");
    }

    #[test]
    fn configuration_kinds_without_a_name_are_read() {
        let text = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n---\napiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n";
        let input = load_str("c.yaml", text).expect("loads");
        assert_eq!(input.objects.len(), 2);
        assert_eq!(input.skipped_count(), 0);
    }

    #[test]
    fn byte_order_mark_and_crlf_line_endings_are_read() {
        let yaml = "\u{feff}apiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: b\r\n";
        let input = load_str("bom.yaml", yaml).expect("YAML with a BOM and CRLF loads");
        let names: Vec<&str> = input.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(input.objects[1].source.line, 6);
        let json = "\u{feff}{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}\r\n";
        assert_eq!(load_str("bom.json", json).expect("JSON with a BOM loads").objects.len(), 1);
    }

    #[test]
    fn mapping_key_defined_twice_is_refused_with_its_line() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: z}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n";
        let err = load_str("dup.yaml", text).expect_err("a duplicate key must be refused");
        assert_eq!(err.location.line, 9, "{err}");
        assert!(err.message.contains("duplicate") && err.message.contains("\"name\""), "{err}");
        let in_list = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: x\n  - name: b\n    image: y\n    name: c\n";
        let err = load_str("dup.yaml", in_list).expect_err("a duplicate key must be refused");
        assert_eq!(err.location.line, 10, "{err}");
    }

    #[test]
    fn json_key_defined_twice_is_refused_with_its_line() {
        // kubectl's strict decoding refuses it; a tree or a typed map would keep the last.
        let text = "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"z\"}}\n{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"metadata\": {\n    \"name\": \"a\",\n    \"labels\": {\"app\": \"x\",\n      \"app\": \"y\"}\n  }\n}\n";
        let err = load_str("dup.json", text).expect_err("a duplicate key must be refused");
        assert_eq!((err.location.file.as_str(), err.location.line), ("dup.json", 8), "{err}");
        assert!(err.message.contains("duplicate") && err.message.contains("\"app\""), "{err}");
        assert!(!err.message.contains(" at line "), "{err}");
        // In a list, in an array of objects, with an escaped key, and past the first 16 keys.
        let in_list = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","n\u0061me":"b"}}]}"#;
        assert!(load_str("l.json", in_list).expect_err("refused").message.contains("\"name\""));
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":\"v\"")).collect();
        let many = |extra: &str| {
            format!(
                r#"[{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"a","labels":{{{}{extra}}}}}}}]"#,
                keys.join(",")
            )
        };
        assert!(load_str("m.json", &many(r#","k33":"w""#)).expect_err("refused").message.contains("\"k33\""));
        assert_eq!(load_str("m.json", &many("")).expect("unique keys load").objects.len(), 1);
        // The same key in different objects is fine.
        let apart = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","labels":{"name":"x"}}}"#;
        assert_eq!(load_str("a.json", apart).expect("loads").objects.len(), 1);
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_read_as_kubectl_does() {
        let yaml = "kind: Namespace\r\napiVersion: v1\r\nmetadata:\r\n  name: \u{e9}t\u{e9}\r\n";
        let le: Vec<u8> = [0xFF, 0xFE].into_iter().chain(yaml.encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let be: Vec<u8> = [0xFE, 0xFF].into_iter().chain(yaml.encode_utf16().flat_map(u16::to_be_bytes)).collect();
        let dir = std::env::temp_dir().join(format!("podwall-utf16-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        for (name, bytes) in [("le.yaml", &le), ("be.yaml", &be)] {
            std::fs::write(dir.join(name), bytes).expect("write");
        }
        let input = load_paths(&[&dir]).expect("UTF-16 files load");
        std::fs::remove_dir_all(&dir).expect("clean");
        let names: Vec<&str> = input.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["\u{e9}t\u{e9}", "\u{e9}t\u{e9}"]);
        // Without the mark, or cut in half, it is not text podwall can read: said so.
        assert!(decode(le[2..].to_vec()).expect_err("no mark").contains("not UTF-8"));
        assert!(decode(le[..le.len() - 1].to_vec()).expect_err("odd").contains("odd number of bytes"));
    }

    #[test]
    fn json_syntax_errors_give_the_line_once() {
        let err = load_str("bad.json", "{\"kind\": \"Pod\",\n \"apiVersion\": }").expect_err("bad JSON");
        assert_eq!(err.location.line, 2, "{err}");
        assert!(err.message.starts_with("invalid JSON (column ") && !err.message.contains(" at line "), "{err}");
    }

    #[test]
    fn merge_keys_are_resolved() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- &ns\n  apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- <<: *ns\n  metadata: {name: b}\n";
        let input = load_str("merge.yaml", text).expect("merge keys load");
        let names: Vec<&str> = input.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn list_without_items_key_is_refused_not_skipped() {
        let text = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicyList\nItems:\n- apiVersion: policy.networking.k8s.io/v1alpha1\n  kind: AdminNetworkPolicy\n  metadata: {name: a}\n";
        let err = load_str("l.yaml", text).expect_err("a list without items must be refused");
        assert_eq!(err.field.as_deref(), Some("items"), "{err}");
        let empty = "apiVersion: v1\nkind: List\nitems: []\n";
        assert!(load_str("l.yaml", empty).expect("an empty list loads").objects.is_empty());
    }

    #[test]
    fn manifest_extensions_are_case_insensitive() {
        assert!(
            is_manifest(Path::new("a/B.YAML")) && is_manifest(Path::new("x.Yml")) && is_manifest(Path::new("x.JSON"))
        );
        assert!(!is_manifest(Path::new("x.yaml.tpl")));
    }
}
