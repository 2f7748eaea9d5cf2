//! `phoneprov profile ...`: lint, encrypt, decode and list flat profiles.
//!
//! Everything here goes through the shared libraries (`phoneprov-profile`
//! for XML/lint/aliases, `phoneprov-crypto` for the encode/decode pipeline),
//! so what these commands accept is exactly what the server produces and the
//! phone side reads.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use phoneprov_crypto::{DecodeOptions, EncodeOptions, Kdf, Md, Scheme};
use phoneprov_profile::alias::AliasMap;
use phoneprov_profile::lint::{lint_bytes_with, LintOptions, Severity};
use phoneprov_profile::schema;
use phoneprov_profile::FlatProfile;

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Check profiles for malformed XML, unknown parameters, bad values,
    /// rules that do not parse and macros that do not exist.
    ///
    /// Exit status: 0 when clean or warnings only, 1 on any error.
    /// Text lines look like `FILE:LINE:COL: error[CODE]: message`.
    Lint {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Target phone model (e.g. CP-6821-3PCC): parameters the model
        /// does not have (or line/key numbers beyond its count) are warnings.
        #[arg(long)]
        model: Option<String>,
        /// The profile is served in plain over HTTP: secrets in it
        /// (passwords, keys, PINs) are warnings.
        #[arg(long)]
        plain_http: bool,
        /// Profile files (XML) to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Compress and/or encrypt a profile the way phones decode it
    /// (`openssl enc -aes-256-cbc -k SECRET` format, or RFC 8188 aes128gcm).
    ///
    /// Example: `phoneprov profile encrypt --key MyOwnSecret --gzip basic.xml -o basic.cfg`
    /// then on the phone `Profile_Rule` = `[--key MyOwnSecret] tftp://server/basic.cfg`.
    Encrypt {
        #[command(flatten)]
        key: KeyArgs,
        /// Encryption scheme.
        #[arg(long, value_enum, default_value_t = SchemeArg::Aes256cbc)]
        scheme: SchemeArg,
        /// Key derivation digest for aes256cbc: sha256 (OpenSSL >= 1.1
        /// default) or md5 (`openssl enc -md md5`, older firmware).
        #[arg(long, value_enum, default_value_t = MdArg::Sha256)]
        md: MdArg,
        /// Use PBKDF2 (`openssl enc -pbkdf2`, 10000 iterations) instead of
        /// EVP_BytesToKey for aes256cbc.
        #[arg(long)]
        pbkdf2: bool,
        /// gzip the profile before encrypting it.
        #[arg(long)]
        gzip: bool,
        /// Encrypt even if the input is not a well-formed profile.
        #[arg(long)]
        no_check: bool,
        /// Plain profile to encrypt.
        input: PathBuf,
        /// Where to write the encrypted profile (written atomically).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Undo encryption and compression (detected automatically) and write
    /// the plain XML to stdout.
    Decode {
        #[command(flatten)]
        key: OptionalKeyArgs,
        /// Encrypted, compressed or plain profile.
        input: PathBuf,
    },
    /// With FILE: print one `Name=value` line per parameter, after
    /// decoding and (with `--alias-map`) remapping a foreign XML document.
    /// Without FILE: list the parameter schema (every parameter of the
    /// 6800/7800/8800 multiplatform phones; `--model` narrows it to one
    /// model's concrete names), or with `--stats` the counts.
    Params {
        #[command(flatten)]
        key: OptionalKeyArgs,
        /// Alias map in the GPP syntax, e.g.
        /// `/customer-account/SIP-number = /flat-profile/User_ID_1_ ;`
        #[arg(long)]
        alias_map: Option<String>,
        /// Schema listing: only this model's parameters, one line per
        /// concrete name (`Line_Enable_1_`, `Line_Enable_2_` on a CP-6821-3PCC).
        #[arg(long, conflicts_with = "input")]
        model: Option<String>,
        /// Schema listing as JSON.
        #[arg(long, conflicts_with = "input")]
        json: bool,
        /// Schema counts per section, per model and per family.
        #[arg(long, conflicts_with = "input")]
        stats: bool,
        /// Profile file (omit it to list the schema).
        input: Option<PathBuf>,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum SchemeArg {
    /// `openssl enc -aes-256-cbc` ("Salted__" header).
    Aes256cbc,
    /// RFC 8188 content encoding (HTTP `Content-Encoding: aes128gcm`).
    Aes128gcm,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum MdArg {
    Sha256,
    Md5,
}

/// A secret given on the command line, in a file or in the environment.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// Encryption secret (the `--key` of the phone's rule). Prefer
    /// `--key-file` or `PHONEPROV_KEY`: command lines are visible to others.
    #[arg(
        long,
        env = "PHONEPROV_KEY",
        hide_env_values = true,
        required_unless_present = "key_file"
    )]
    key: Option<String>,
    /// Read the secret from this file (trailing newline removed).
    #[arg(long, conflicts_with = "key")]
    key_file: Option<PathBuf>,
}

/// Like [`KeyArgs`] but optional (plain profiles need no key).
#[derive(Args, Debug)]
pub struct OptionalKeyArgs {
    /// Decryption secret, if the profile is encrypted.
    #[arg(long, env = "PHONEPROV_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Read the secret from this file (trailing newline removed).
    #[arg(long, conflicts_with = "key")]
    key_file: Option<PathBuf>,
}

fn resolve_key(key: Option<String>, key_file: Option<PathBuf>) -> anyhow::Result<Option<Vec<u8>>> {
    if let Some(k) = key {
        if k.is_empty() {
            bail!("--key is empty; give the secret the phone's rule uses");
        }
        return Ok(Some(k.into_bytes()));
    }
    if let Some(path) = key_file {
        let mut bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read key file {}", path.display()))?;
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        if bytes.is_empty() {
            bail!("key file {} is empty", path.display());
        }
        return Ok(Some(bytes));
    }
    Ok(None)
}

fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// failure never leaves a half-written profile behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().context("output path has no file name")?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

pub fn run(cmd: ProfileCommand) -> anyhow::Result<i32> {
    match cmd {
        ProfileCommand::Lint {
            format,
            model,
            plain_http,
            files,
        } => {
            let model = model.as_deref().map(model_arg).transpose()?;
            lint(format, &files, LintOptions { model, plain_http })
        }
        ProfileCommand::Encrypt {
            key,
            scheme,
            md,
            pbkdf2,
            gzip,
            no_check,
            input,
            output,
        } => {
            let key = resolve_key(key.key, key.key_file)?.context("--key is required")?;
            let plain = read_input(&input)?;
            if !no_check {
                FlatProfile::parse_bytes(&plain).map_err(|e| {
                    anyhow::anyhow!(
                        "{} is not a well-formed profile ({e}); fix it (see `phoneprov profile lint`) or pass --no-check",
                        input.display()
                    )
                })?;
            }
            let kdf = if pbkdf2 {
                Kdf::Pbkdf2 { iterations: 10_000 }
            } else {
                Kdf::EvpBytesToKey(match md {
                    MdArg::Sha256 => Md::Sha256,
                    MdArg::Md5 => Md::Md5,
                })
            };
            let scheme = match scheme {
                SchemeArg::Aes256cbc => Scheme::Aes256Cbc,
                SchemeArg::Aes128gcm => Scheme::Aes128Gcm,
            };
            let opts = EncodeOptions {
                scheme: Some(scheme),
                key: Some(key),
                kdf,
                gzip,
            };
            let out = phoneprov_crypto::encode(&plain, &opts)?;
            write_atomically(&output, &out)?;
            Ok(0)
        }
        ProfileCommand::Decode { key, input } => {
            let key = resolve_key(key.key, key.key_file)?;
            let plain = decode_file(&input, key.as_deref())?;
            std::io::stdout().write_all(&plain)?;
            Ok(0)
        }
        ProfileCommand::Params {
            model, json, stats, ..
        } if stats => {
            let _ = (model, json);
            print_stats(json)
        }
        ProfileCommand::Params {
            input: None,
            model,
            json,
            ..
        } => {
            let model = model.as_deref().map(model_arg).transpose()?;
            list_schema(model, json)
        }
        ProfileCommand::Params {
            key,
            alias_map,
            input: Some(input),
            ..
        } => {
            let key = resolve_key(key.key, key.key_file)?;
            let plain = decode_file(&input, key.as_deref())?;
            let profile = match alias_map {
                Some(map) => {
                    let map = AliasMap::parse(&map).context("bad --alias-map")?;
                    let text = std::str::from_utf8(&plain)
                        .with_context(|| format!("{} is not UTF-8", input.display()))?;
                    map.apply(text).with_context(|| {
                        format!("cannot apply the alias map to {}", input.display())
                    })?
                }
                None => FlatProfile::parse_bytes(&plain)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?,
            };
            let mut out = std::io::stdout().lock();
            for p in profile.params() {
                writeln!(out, "{}={}", p.name, p.value)?;
            }
            Ok(0)
        }
    }
}

fn decode_file(input: &Path, key: Option<&[u8]>) -> anyhow::Result<Vec<u8>> {
    let data = read_input(input)?;
    let opts = DecodeOptions {
        key,
        ..DecodeOptions::default()
    };
    let decoded = phoneprov_crypto::decode(&data, &opts)
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    Ok(decoded.plain)
}

/// The model a `--model` value names, or one error line listing the models.
fn model_arg(pn: &str) -> anyhow::Result<&'static schema::ModelInfo> {
    schema::model(pn).ok_or_else(|| {
        let known: Vec<&str> = schema::models().iter().map(|m| m.pn).collect();
        anyhow::anyhow!("unknown model {pn:?}; use one of {}", known.join(", "))
    })
}

#[derive(serde::Serialize)]
struct SchemaRow<'a> {
    name: String,
    section: &'a str,
    #[serde(rename = "type")]
    kind: String,
    values: Option<&'a [&'a str]>,
    /// Absent for secrets (never echoed).
    default: Option<&'a str>,
    ua: &'a str,
    secret: bool,
    models: Vec<&'a str>,
    since: Option<&'a str>,
    tr069: Option<String>,
    spec: Option<&'a str>,
}

fn list_schema(model: Option<&schema::ModelInfo>, json: bool) -> anyhow::Result<i32> {
    let mut rows = Vec::new();
    for s in schema::all() {
        let names = match model {
            Some(m) => s.instances_on(m),
            None => vec![s.name.to_string()],
        };
        for name in names {
            let tr069 = match model {
                Some(_) => schema::tr069_path(&name),
                None => s.tr069.map(str::to_string),
            };
            // `Extension_3_` defaults to 3: the concrete name's default.
            let default = (!s.secret).then(|| s.default_for(&name));
            rows.push(SchemaRow {
                name,
                section: s.section,
                kind: s.kind.describe(),
                values: match s.kind {
                    schema::ParamType::Enum(v) => Some(v),
                    _ => None,
                },
                default,
                ua: s.ua,
                secret: s.secret,
                models: schema::models()
                    .iter()
                    .filter(|m| s.models.contains(m))
                    .map(|m| m.pn)
                    .collect(),
                since: (!s.since.is_empty()).then_some(s.since),
                tr069,
                spec: (!s.spec.is_empty()).then_some(s.spec),
            });
        }
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(0);
    }
    for r in &rows {
        let default = match r.default {
            Some(d) => format!("default {d:?}"),
            None => "secret".to_string(),
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{default}\tua={}",
            r.name, r.section, r.kind, r.ua
        )?;
    }
    Ok(0)
}

fn print_stats(json: bool) -> anyhow::Result<i32> {
    let st = schema::stats();
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &st)?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(
        out,
        "entries: {} ({} with a type narrower than string, {} secrets)",
        st.entries, st.narrower_than_string, st.secrets
    )?;
    writeln!(out, "per family (entries):")?;
    for (f, n) in &st.per_family {
        writeln!(out, "  {f}\t{n}")?;
    }
    writeln!(out, "per section (entries):")?;
    for (s, n) in &st.per_section {
        writeln!(out, "  {s}\t{n}")?;
    }
    writeln!(out, "per model (concrete names):")?;
    for (m, n) in &st.per_model {
        writeln!(out, "  {m}\t{n}")?;
    }
    Ok(0)
}

fn lint(format: Format, files: &[PathBuf], opts: LintOptions<'_>) -> anyhow::Result<i32> {
    let mut all = Vec::new();
    for file in files {
        let bytes = read_input(file)?;
        all.extend(lint_bytes_with(&file.display().to_string(), &bytes, opts));
    }
    let errors = all.iter().filter(|d| d.severity == Severity::Error).count();
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&all)?),
        Format::Text => {
            for d in &all {
                println!("{d}");
            }
            let warnings = all.len() - errors;
            eprintln!(
                "phoneprov: {} file(s) checked: {errors} error(s), {warnings} warning(s)",
                files.len()
            );
        }
    }
    Ok(if errors > 0 { 1 } else { 0 })
}
