//! What a container runtime does with a network configuration list (section 3): derive
//! each plugin's request configuration (`cniVersion`, `name`, `runtimeConfig` from the
//! declared capabilities, `prevResult`), run the plugins in order for ADD, CHECK, GC and
//! STATUS and in reverse for DEL. The tests and `podwall-bench cni` drive plugins
//! through it exactly as a runtime does: separate processes, `CNI_*` variables, JSON on
//! standard input and output.
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};

use crate::error::Error;

/// One attachment's parameters.
#[derive(Clone, Debug, Default)]
pub struct Attachment {
    /// CNI_CONTAINERID.
    pub container_id: String,
    /// CNI_NETNS.
    pub netns: String,
    /// CNI_IFNAME.
    pub ifname: String,
    /// CNI_ARGS.
    pub args: String,
    /// Capability arguments (`portMappings`, `bandwidth`, `mac`, ...).
    pub capabilities: Map<String, Value>,
}

/// A runtime: where plugins are, and the namespace it runs them in.
pub struct Runtime {
    /// CNI_PATH.
    pub path: Vec<PathBuf>,
    /// The namespace plugins run in (the runtime's own when `None`).
    pub netns: Option<File>,
}

/// A plugin that failed: which one, how it exited, what it printed.
#[derive(Debug)]
pub struct Failure {
    /// The plugin's `type`.
    pub plugin: String,
    /// Its exit code.
    pub code: Option<i32>,
    /// Its error result, if it printed one.
    pub error: Option<Box<Error>>,
    /// What it printed on standard output.
    pub stdout: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plugin {} exited {:?}: {}", self.plugin, self.code, self.stdout.trim())
    }
}

impl Runtime {
    fn find(&self, plugin: &str) -> Result<PathBuf, Failure> {
        self.path.iter().map(|d| d.join(plugin)).find(|p| p.is_file()).ok_or_else(|| Failure {
            plugin: plugin.into(),
            code: None,
            error: None,
            stdout: format!("no {plugin} in {:?}", self.path),
        })
    }

    /// Runs one plugin; its standard output on success.
    pub fn exec(&self, plugin: &str, command: &str, att: &Attachment, conf: &Value) -> Result<String, Failure> {
        let exe = self.find(plugin)?;
        let path = std::env::join_paths(&self.path).expect("paths without ':'").into_string().unwrap_or_default();
        let input = serde_json::to_vec(conf).expect("plain data");
        let (att, command) = (att.clone(), command.to_string());
        let ns = self.netns.as_ref().map(|f| f.try_clone().expect("namespace file"));
        let spawn = move || -> std::io::Result<std::process::Output> {
            if let Some(ns) = ns {
                podwall_lab::netns::enter(&ns)?;
            }
            let mut c = Command::new(&exe)
                .env("CNI_COMMAND", &command)
                .env("CNI_CONTAINERID", &att.container_id)
                .env("CNI_NETNS", &att.netns)
                .env("CNI_IFNAME", &att.ifname)
                .env("CNI_ARGS", &att.args)
                .env("CNI_PATH", &path)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            c.stdin.take().expect("piped").write_all(&input)?;
            c.wait_with_output()
        };
        // A child starts in the namespace of the thread that forks it.
        let out = std::thread::spawn(spawn).join().expect("plugin thread").map_err(|e| Failure {
            plugin: plugin.into(),
            code: None,
            error: None,
            stdout: e.to_string(),
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        Err(Failure {
            plugin: plugin.into(),
            code: out.status.code(),
            error: serde_json::from_str(&stdout).ok().map(Box::new),
            stdout: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
        })
    }

    /// The request configuration of plugin `i` of `list`.
    pub fn derive(list: &Value, i: usize, att: Option<&Attachment>, prev: Option<&Value>) -> Value {
        let mut conf = list["plugins"][i].as_object().cloned().unwrap_or_default();
        conf.insert("cniVersion".into(), list["cniVersion"].clone());
        conf.insert("name".into(), list["name"].clone());
        let caps = conf.remove("capabilities");
        if let Some(att) = att {
            let mut rc = Map::new();
            if let Some(Value::Object(caps)) = caps {
                for (k, on) in caps {
                    if on == Value::Bool(true) {
                        if let Some(v) = att.capabilities.get(&k) {
                            rc.insert(k, v.clone());
                        }
                    }
                }
            }
            if !rc.is_empty() {
                conf.insert("runtimeConfig".into(), Value::Object(rc));
            }
            if let Some(p) = prev {
                conf.insert("prevResult".into(), p.clone());
            }
        }
        Value::Object(conf)
    }

    fn plugins(list: &Value) -> Vec<String> {
        list["plugins"]
            .as_array()
            .map(|a| a.iter().map(|p| p["type"].as_str().unwrap_or("").to_string()).collect())
            .unwrap_or_default()
    }

    /// ADD through the list: each plugin gets the previous one's result; the last
    /// result is the attachment's.
    pub fn add(&self, list: &Value, att: &Attachment) -> Result<Value, Failure> {
        let mut prev: Option<Value> = None;
        for (i, t) in Self::plugins(list).iter().enumerate() {
            let conf = Self::derive(list, i, Some(att), prev.as_ref());
            let out = self.exec(t, "ADD", att, &conf)?;
            let r: Value = serde_json::from_str(&out).map_err(|e| Failure {
                plugin: t.clone(),
                code: Some(0),
                error: None,
                stdout: format!("not a result ({e}): {out}"),
            })?;
            prev = Some(r);
        }
        Ok(prev.unwrap_or(Value::Null))
    }

    /// DEL through the list in reverse, each plugin given the ADD's final result.
    pub fn del(&self, list: &Value, att: &Attachment, result: Option<&Value>) -> Result<(), Failure> {
        for (i, t) in Self::plugins(list).iter().enumerate().rev() {
            self.exec(t, "DEL", att, &Self::derive(list, i, Some(att), result))?;
        }
        Ok(())
    }

    /// CHECK through the list, each plugin given the ADD's final result.
    pub fn check(&self, list: &Value, att: &Attachment, result: &Value) -> Result<(), Failure> {
        for (i, t) in Self::plugins(list).iter().enumerate() {
            self.exec(t, "CHECK", att, &Self::derive(list, i, Some(att), Some(result)))?;
        }
        Ok(())
    }

    /// GC through the list with the still valid attachments; every plugin runs, the
    /// failures are returned.
    pub fn gc(&self, list: &Value, valid: &[crate::types::Attachment]) -> Vec<Failure> {
        let mut failed = Vec::new();
        for (i, t) in Self::plugins(list).iter().enumerate() {
            let mut conf = Self::derive(list, i, None, None);
            conf["cni.dev/valid-attachments"] = serde_json::to_value(valid).expect("plain data");
            if let Err(f) = self.exec(t, "GC", &Attachment::default(), &conf) {
                failed.push(f);
            }
        }
        failed
    }
}
