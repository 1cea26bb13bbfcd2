//! Key rotation's first step: a fresh random key first in each entry's write provider,
//! the old keys kept after it so that everything stored still reads. The document is
//! changed in place (other fields and order kept) and written back as YAML.
use podwall_load::{InputError, Object};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::config::{encode_secret, find, Config, ProviderKind};

/// The configuration in `objects` with a new 32-byte key named `name` first in every
/// entry's first provider, as YAML. The output holds every key: treat it as a secret.
pub fn rotate(objects: &[Object], file: &str, name: &str) -> Result<Zeroizing<String>, InputError> {
    let config = Config::load(objects, file)?;
    let object = find(objects, file)?;
    let raw =
        object.raw.as_ref().ok_or_else(|| InputError::at(object.source.clone(), "internal: document not kept"))?;
    let mut doc: Value =
        serde_json::from_str(raw.0.get()).map_err(|e| InputError::at(object.source.clone(), e.to_string()))?;
    let refuse = |field: String, why: String| InputError::field(&config.source, "EncryptionConfiguration", field, why);
    for e in &config.entries {
        let first = &e.providers[0];
        let field = format!("resources[{}].providers[0]", e.index);
        let kind = first.kind.ok_or_else(|| refuse(field.clone(), "names no single provider type".into()))?;
        if !kind.is_keyed() {
            let why = match kind {
                ProviderKind::Identity => "identity writes unencrypted; put a keyed provider (secretbox, aesgcm) first",
                _ => "a kms provider's keys live in the KMS; rotate them there",
            };
            return Err(refuse(field, why.into()));
        }
        if first.keys.iter().any(|k| k.name == name) {
            return Err(refuse(field, format!("a key named {name:?} already exists; choose another --name")));
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut secret[..])
            .map_err(|_| InputError::at(config.source.clone(), "no random bytes from the operating system"))?;
        let Some(keys) = doc["resources"][e.index]["providers"][0][kind.as_str()]["keys"].as_array_mut() else {
            return Err(refuse(field, "no keys list".into()));
        };
        keys.insert(0, json!({"name": name, "secret": encode_secret(&secret[..]).as_str()}));
    }
    let yaml = serde_yaml_ng::to_string(&doc).map_err(|e| InputError::at(config.source.clone(), e.to_string()))?;
    wipe(&mut doc);
    Ok(Zeroizing::new(yaml))
}

/// Overwrites every string of the document (the secrets among them) before it is freed.
fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => zeroize::Zeroize::zeroize(s),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(m) => m.values_mut().for_each(wipe),
        _ => {}
    }
}
