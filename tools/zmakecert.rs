//! `zmakecert`: makes a CURVE certificate, as CZMQ's tool of the same name.
//!
//! Writes the public certificate `FILE` and the secret certificate `FILE_secret` (owner-only
//! permissions) in CZMQ's format, and prints the public key (Z85) on standard output.
//!
//! ```text
//! zmakecert alice.cert --name Alice --email alice@example.com --meta team=ops
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use zmsg::ZCert;

/// Make a CURVE certificate: FILE (public, to hand out) and FILE_secret (keep private).
#[derive(Parser, Debug)]
#[command(name = "zmakecert", version)]
struct Args {
    /// Path of the public certificate; the secret one is this path + "_secret".
    #[arg(default_value = "mycert.txt")]
    file: PathBuf,
    /// Metadata "name" (the certificate owner's name).
    #[arg(short, long)]
    name: Option<String>,
    /// Metadata "email".
    #[arg(short, long)]
    email: Option<String>,
    /// Metadata "organization".
    #[arg(short, long)]
    organization: Option<String>,
    /// Any other metadata, as name=value (repeatable).
    #[arg(short, long = "meta", value_name = "NAME=VALUE")]
    meta: Vec<String>,
    /// Overwrite existing certificate files.
    #[arg(short, long)]
    force: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("zmakecert: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let secret = zmsg::cert::secret_path(&args.file);
    if !args.force {
        for path in [&args.file, &secret] {
            if path.exists() {
                bail!("{} exists (use --force to overwrite)", path.display());
            }
        }
    }
    let mut cert = ZCert::new()?;
    for (key, value) in [
        ("name", &args.name),
        ("email", &args.email),
        ("organization", &args.organization),
    ] {
        if let Some(value) = value {
            cert.set_meta(key, value);
        }
    }
    for pair in &args.meta {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--meta {pair:?}: expected name=value");
        };
        cert.set_meta(key.trim(), value.trim());
    }
    cert.save(&args.file)
        .with_context(|| format!("cannot save {}", args.file.display()))?;
    println!("{}", cert.public_txt());
    eprintln!(
        "zmakecert: wrote {} (public) and {} (secret, keep it private)",
        args.file.display(),
        secret.display()
    );
    Ok(())
}
