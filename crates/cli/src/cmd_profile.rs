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
use phoneprov_profile::lint::{lint_bytes, Severity};
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
    /// Print one `Name=value` line per parameter, after decoding and
    /// (with `--alias-map`) remapping a foreign XML document.
    Params {
        #[command(flatten)]
        key: OptionalKeyArgs,
        /// Alias map in the GPP syntax, e.g.
        /// `/customer-account/SIP-number = /flat-profile/User_ID_1_ ;`
        #[arg(long)]
        alias_map: Option<String>,
        /// Profile file.
        input: PathBuf,
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
        ProfileCommand::Lint { format, files } => lint(format, &files),
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
            key,
            alias_map,
            input,
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

fn lint(format: Format, files: &[PathBuf]) -> anyhow::Result<i32> {
    let mut all = Vec::new();
    for file in files {
        let bytes = read_input(file)?;
        all.extend(lint_bytes(&file.display().to_string(), &bytes));
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
