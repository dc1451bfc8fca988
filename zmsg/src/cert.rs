//! `ZCert`: a CURVE certificate — a key pair plus metadata — stored in CZMQ's file format.
//!
//! On disk a certificate is two ZPL (ZeroMQ RFC 4) text files, exactly as CZMQ's `zcert_save`
//! writes them: a public file `NAME` holding the public key, and a secret file `NAME_secret`
//! (owner-only permissions) holding both keys. Both have a `metadata` section of `name = "value"`
//! lines and a `curve` section with `public-key = "..."` (and `secret-key = "..."`), keys in Z85.
//! Certificates written by CZMQ and by pyzmq's `zmq.auth.create_certificates` load here, and
//! ours load there.
//!
//! ```
//! use zmsg::ZCert;
//! let dir = std::env::temp_dir().join(format!("zcert-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let mut cert = ZCert::new()?;
//! cert.set_meta("name", "Alice");
//! cert.save(dir.join("alice.cert"))?;             // alice.cert + alice.cert_secret
//!
//! let loaded = ZCert::load(dir.join("alice.cert"))?; // prefers the secret file
//! assert_eq!(loaded, cert);
//! assert_eq!(loaded.meta("name"), Some("Alice"));
//! let public = ZCert::load_file(dir.join("alice.cert"))?; // exactly that file
//! assert_eq!(public.public_key(), cert.public_key());
//! assert!(public.is_public_only());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::socket::ZSocket;
use crate::z85;

/// A CURVE certificate: a public + secret key pair and ordered `name = value` metadata.
///
/// Two certificates are equal when their keys are equal (as CZMQ's `zcert_eq`); metadata is not
/// compared. `Display` prints the public certificate (metadata and public key, as in the public
/// file); `Debug` never shows the secret key.
#[derive(Clone)]
pub struct ZCert {
    public: [u8; 32],
    secret: [u8; 32],
    metadata: Vec<(String, String)>,
}

impl ZCert {
    /// A certificate with a fresh CURVE key pair (`zmq_curve_keypair`).
    pub fn new() -> Result<ZCert> {
        let (public, secret) = z85::curve_keypair()?;
        Ok(ZCert::from_keys(
            z85::decode_key(&public)?,
            z85::decode_key(&secret)?,
        ))
    }

    /// A certificate from a raw key pair.
    pub fn from_keys(public: [u8; 32], secret: [u8; 32]) -> ZCert {
        ZCert {
            public,
            secret,
            metadata: Vec::new(),
        }
    }

    /// A public-only certificate (the secret key is all zeros, as CZMQ's).
    pub fn from_public(public: [u8; 32]) -> ZCert {
        ZCert::from_keys(public, [0; 32])
    }

    /// A certificate from Z85 keys (40 characters each); `secret` may be `None` for a public one.
    pub fn from_z85(public: &str, secret: Option<&str>) -> Result<ZCert> {
        let public = z85::decode_key(public)?;
        let secret = secret.map(z85::decode_key).transpose()?.unwrap_or([0; 32]);
        Ok(ZCert::from_keys(public, secret))
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// The 32-byte secret key (all zeros for a public-only certificate).
    pub fn secret_key(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The public key in Z85 (40 characters).
    pub fn public_txt(&self) -> String {
        encode_key(&self.public)
    }

    /// The secret key in Z85 (40 characters; forty `'0'` for a public-only certificate).
    pub fn secret_txt(&self) -> String {
        encode_key(&self.secret)
    }

    /// True when the certificate has no secret key (it was loaded from a public file).
    pub fn is_public_only(&self) -> bool {
        self.secret == [0; 32]
    }

    /// Sets a metadata value, replacing the value of an existing `name` in place (new names are
    /// appended, so the order of first insertion is kept). Names must be ZPL names (letters,
    /// digits and `$-_@.&+/`) and values single lines; [`ZCert::save`] rejects others.
    pub fn set_meta(&mut self, name: &str, value: &str) {
        match self.metadata.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value.to_string(),
            None => self.metadata.push((name.to_string(), value.to_string())),
        }
    }

    /// A metadata value.
    pub fn meta(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Removes a metadata value, returning it.
    pub fn remove_meta(&mut self, name: &str) -> Option<String> {
        let index = self.metadata.iter().position(|(n, _)| n == name)?;
        Some(self.metadata.remove(index).1)
    }

    /// The metadata names, in order.
    pub fn meta_keys(&self) -> impl Iterator<Item = &str> {
        self.metadata.iter().map(|(n, _)| n.as_str())
    }

    /// The metadata `(name, value)` pairs, in order.
    pub fn metadata(&self) -> &[(String, String)] {
        &self.metadata
    }

    /// Uses this certificate for CURVE on `socket`: sets its public and secret keys. A server
    /// also needs `set_curve_server(true)`; a client also needs the server's public key
    /// (`set_curve_serverkey`).
    pub fn apply(&self, socket: &ZSocket) -> Result<()> {
        if self.is_public_only() {
            return Err(Error::InvalidArgument(
                "a public-only certificate cannot be applied to a socket: it has no secret key"
                    .into(),
            ));
        }
        socket.set_curve_secretkey(&self.secret)?;
        socket.set_curve_publickey(&self.public)
    }

    /// Saves the public file `path` and the secret file `path` + `"_secret"`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.save_public(path)?;
        self.save_secret(secret_path(path))
    }

    /// Saves only the public certificate to `path`.
    pub fn save_public(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = self.to_zpl(false)?;
        std::fs::write(path.as_ref(), text)?;
        Ok(())
    }

    /// Saves the secret certificate (both keys) to `path`, readable and writable by the owner
    /// only (mode 0600 on Unix, also when the file already existed).
    pub fn save_secret(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = self.to_zpl(true)?;
        let path = path.as_ref();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(0o600);
            if path.exists() {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
        }
        let mut file = options.open(path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        Ok(())
    }

    /// Loads a certificate as CZMQ's `zcert_load`: the secret file `path` + `"_secret"` when it
    /// exists (both keys), else the public file `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<ZCert> {
        let path = path.as_ref();
        let secret = secret_path(path);
        if secret.is_file() {
            ZCert::load_file(secret)
        } else {
            ZCert::load_file(path)
        }
    }

    /// Loads exactly the file `path` (public or secret). Errors are [`Error::Cert`], naming the
    /// file and line.
    pub fn load_file(path: impl AsRef<Path>) -> Result<ZCert> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|err| cert_error(path, 0, err.to_string()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| cert_error(path, 0, "the file is not UTF-8 text".into()))?;
        ZCert::from_zpl(&text, path)
    }

    /// Parses certificate text in ZPL; `origin` names the source in errors.
    pub fn from_zpl(text: &str, origin: impl AsRef<Path>) -> Result<ZCert> {
        let origin = origin.as_ref();
        let nodes = parse_zpl(text).map_err(|(line, reason)| cert_error(origin, line, reason))?;
        let mut public = None;
        let mut secret = None;
        let mut metadata = Vec::new();
        for node in &nodes {
            match node.name.as_str() {
                "curve" => {
                    for item in &node.children {
                        let key = match item.name.as_str() {
                            "public-key" => &mut public,
                            "secret-key" => &mut secret,
                            _ => continue,
                        };
                        let decoded = z85::decode_key(item.value.trim()).map_err(|err| {
                            cert_error(origin, item.line, format!("{}: {err}", item.name))
                        })?;
                        *key = Some((decoded, item.line));
                    }
                }
                "metadata" => {
                    for item in &node.children {
                        metadata.push((item.name.clone(), item.value.clone()));
                    }
                }
                _ => {}
            }
        }
        let Some((public, _)) = public else {
            return Err(cert_error(
                origin,
                0,
                "no public-key in a curve section".into(),
            ));
        };
        let secret = match secret {
            Some((secret, line)) if secret != [0; 32] => {
                let derived = z85::curve_public(secret)?;
                if derived != encode_key(&public) {
                    return Err(cert_error(
                        origin,
                        line,
                        "secret-key does not belong to public-key".into(),
                    ));
                }
                secret
            }
            _ => [0; 32],
        };
        let mut cert = ZCert::from_keys(public, secret);
        for (name, value) in metadata {
            cert.set_meta(&name, &value);
        }
        Ok(cert)
    }

    /// The certificate as ZPL text, as the public (`secret == false`) or secret file holds it.
    pub fn to_zpl(&self, secret: bool) -> Result<String> {
        let mut text = format!("#   ****  Generated on {} by zmsg  ****\n", timestamp());
        if secret {
            text.push_str("#   ZeroMQ CURVE **Secret** Certificate\n");
            text.push_str(
                "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n",
            );
        } else {
            text.push_str("#   ZeroMQ CURVE Public Certificate\n");
            text.push_str(
                "#   Exchange securely, or use a secure mechanism to verify the contents\n",
            );
            text.push_str(
                "#   of this file after exchange. Store public certificates in your home\n",
            );
            text.push_str("#   directory, in the .curve subdirectory.\n");
        }
        text.push_str("\nmetadata\n");
        for (name, value) in &self.metadata {
            text.push_str(&format!("    {name} = {}\n", quote_value(name, value)?));
        }
        text.push_str("curve\n");
        text.push_str(&format!("    public-key = \"{}\"\n", self.public_txt()));
        if secret {
            text.push_str(&format!("    secret-key = \"{}\"\n", self.secret_txt()));
        }
        Ok(text)
    }
}

impl PartialEq for ZCert {
    fn eq(&self, other: &ZCert) -> bool {
        self.public == other.public && self.secret == other.secret
    }
}

impl Eq for ZCert {}

impl fmt::Display for ZCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "metadata")?;
        for (name, value) in &self.metadata {
            writeln!(f, "    {name} = \"{value}\"")?;
        }
        writeln!(f, "curve")?;
        writeln!(f, "    public-key = \"{}\"", self.public_txt())
    }
}

impl fmt::Debug for ZCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZCert")
            .field("public", &self.public_txt())
            .field("has_secret", &!self.is_public_only())
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// `path` + `"_secret"`, the secret file CZMQ pairs with a public certificate file.
pub fn secret_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("_secret");
    PathBuf::from(name)
}

fn encode_key(key: &[u8; 32]) -> String {
    // 32 is a multiple of 4, so encoding cannot fail.
    z85::encode(key).unwrap_or_default()
}

fn cert_error(path: &Path, line: usize, reason: String) -> Error {
    Error::Cert {
        path: path.to_path_buf(),
        line,
        reason,
    }
}

/// A ZPL name character (CZMQ's `s_is_namechar`).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "$-_@.&+/".contains(c)
}

/// Whether `name` can be written as a ZPL name.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(is_name_char)
        && !name.starts_with('/')
        && !name.ends_with('/')
}

/// A metadata value in quotes, as CZMQ writes it (apostrophes when the value holds a `"`).
fn quote_value(name: &str, value: &str) -> Result<String> {
    if !valid_name(name) {
        return Err(Error::InvalidArgument(format!(
            "metadata name {name:?} is not a ZPL name (letters, digits, $-_@.&+/)"
        )));
    }
    if value.contains('\n') {
        return Err(Error::InvalidArgument(format!(
            "metadata value of {name:?} must be one line"
        )));
    }
    // A bare value runs to a `#` or the end of the line, trimmed, and must not start with a quote.
    let bare = !value.contains('#')
        && value.trim() == value
        && !value.starts_with(['"', '\''])
        && !value.is_empty();
    if !value.contains('"') {
        Ok(format!("\"{value}\""))
    } else if !value.contains('\'') {
        Ok(format!("'{value}'"))
    } else if bare {
        // Both kinds of quote: only a bare value can hold them (as `from_zpl` read it).
        Ok(value.to_string())
    } else {
        Err(Error::InvalidArgument(format!(
            "metadata value of {name:?} holds both kinds of quote and a `#` or surrounding \
             white space: ZPL cannot write it"
        )))
    }
}

/// One `name [= value]` line of a ZPL file and the lines indented under it.
#[derive(Debug)]
struct ZplNode {
    name: String,
    value: String,
    line: usize,
    children: Vec<ZplNode>,
}

/// Parses ZPL as CZMQ's `zconfig` does: 4-space indentation per level, `#` comments,
/// `name = value` with optional single or double quotes. Errors are (line, reason).
fn parse_zpl(text: &str) -> std::result::Result<Vec<ZplNode>, (usize, String)> {
    let mut roots: Vec<ZplNode> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim_end();
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        if body.starts_with('\t') {
            return Err((line_no, "indent with spaces, not tabs".into()));
        }
        let indent = line.len() - body.len();
        if indent % 4 != 0 {
            return Err((line_no, "indent 4 spaces per level".into()));
        }
        let level = indent / 4;
        let name_len = body
            .char_indices()
            .find(|&(_, c)| !is_name_char(c))
            .map_or(body.len(), |(i, _)| i);
        let name = &body[..name_len];
        if name.is_empty() {
            // The line is not echoed: it may hold (part of) a secret key.
            return Err((line_no, "expected a name".into()));
        }
        if name.starts_with('/') || name.ends_with('/') {
            return Err((line_no, "'/' is not valid at name start or end".into()));
        }
        let value = parse_value(&body[name_len..]).map_err(|reason| (line_no, reason))?;
        let node = ZplNode {
            name: name.to_string(),
            value,
            line: line_no,
            children: Vec::new(),
        };
        // Find the parent: the last node at depth level - 1.
        let mut siblings = &mut roots;
        for _ in 0..level {
            siblings = match siblings.last_mut() {
                Some(parent) => &mut parent.children,
                None => return Err((line_no, "indentation error: no parent line".into())),
            };
        }
        siblings.push(node);
    }
    Ok(roots)
}

/// The value after a name: `= "quoted"`, `= 'quoted'`, `= bare text  # comment`, or nothing.
fn parse_value(rest: &str) -> std::result::Result<String, String> {
    let rest = rest.trim_start();
    let Some(after_eq) = rest.strip_prefix('=') else {
        return if rest.is_empty() || rest.starts_with('#') {
            Ok(String::new())
        } else {
            // The text is not echoed: it may hold (part of) a secret key.
            Err("invalid syntax after the name (expected `= value`)".into())
        };
    };
    let value = after_eq.trim_start();
    match value.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let inner = &value[1..];
            let end = inner
                .find(quote)
                .ok_or_else(|| format!("missing closing {quote}"))?;
            let tail = inner[end + 1..].trim_start();
            if !tail.is_empty() && !tail.starts_with('#') {
                return Err(format!("invalid syntax after the value: {tail:?}"));
            }
            Ok(inner[..end].to_string())
        }
        _ => {
            let bare = value.split('#').next().unwrap_or("");
            Ok(bare.trim_end().to_string())
        }
    }
}

/// UTC time as `YYYY-MM-DD HH:MM:SS` (CZMQ's `zclock_timestr` layout).
fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_errors_never_echo_the_text() {
        let secret = ZCert::new().unwrap().secret_txt();
        for text in [
            format!("curve\n    {secret}\n"),
            format!("curve\n    secret-key {secret}\n"),
            format!("curve\n    secret-key = \"{secret}\"\n  bad\n"),
        ] {
            let err = ZCert::from_zpl(&text, "x").unwrap_err().to_string();
            assert!(!err.contains(&secret[..10]), "{err}");
        }
    }

    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "zmsg-cert-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn new_cert_has_matching_keys() {
        let cert = ZCert::new().unwrap();
        assert_eq!(
            z85::curve_public(cert.secret_key()).unwrap(),
            cert.public_txt()
        );
        assert_ne!(cert, ZCert::new().unwrap());
        assert!(!cert.is_public_only());
        assert!(!format!("{cert:?}").contains(&cert.secret_txt()));
        assert!(!cert.to_string().contains(&cert.secret_txt()));
    }

    #[test]
    fn metadata_is_ordered_and_replaced_in_place() {
        let mut cert = ZCert::new().unwrap();
        cert.set_meta("name", "Alice");
        cert.set_meta("email", "a@example.com");
        cert.set_meta("name", "Alicia");
        assert_eq!(cert.meta_keys().collect::<Vec<_>>(), ["name", "email"]);
        assert_eq!(cert.meta("name"), Some("Alicia"));
        assert_eq!(cert.remove_meta("email").as_deref(), Some("a@example.com"));
        assert_eq!(cert.meta("email"), None);
    }

    #[test]
    fn save_writes_czmq_layout_and_loads_back() {
        let dir = temp_dir("layout");
        let mut cert = ZCert::new().unwrap();
        cert.set_meta("name", "Pieter Hintjens");
        cert.set_meta("quote", "say \"hi\"");
        let path = dir.join("mycert.txt");
        cert.save(&path).unwrap();

        let public = std::fs::read_to_string(&path).unwrap();
        assert!(public.starts_with("#   ****  Generated on "), "{public}");
        assert!(public.contains("#   ZeroMQ CURVE Public Certificate\n"));
        assert!(public.contains(&format!(
            "\nmetadata\n    name = \"Pieter Hintjens\"\n    quote = 'say \"hi\"'\ncurve\n    public-key = \"{}\"\n",
            cert.public_txt()
        )));
        assert!(!public.contains("secret-key"));
        let secret = std::fs::read_to_string(dir.join("mycert.txt_secret")).unwrap();
        assert!(secret.contains("**Secret** Certificate"));
        assert!(secret.contains(&format!("    secret-key = \"{}\"\n", cert.secret_txt())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("mycert.txt_secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let loaded = ZCert::load(&path).unwrap();
        assert_eq!(loaded, cert);
        assert_eq!(loaded.meta("quote"), Some("say \"hi\""));
        std::fs::remove_file(dir.join("mycert.txt_secret")).unwrap();
        let public_only = ZCert::load(&path).unwrap();
        assert_eq!(public_only.public_key(), cert.public_key());
        assert_eq!(public_only.secret_txt(), "0".repeat(40));
        assert_eq!(public_only.meta("name"), Some("Pieter Hintjens"));
        assert!(public_only
            .apply(&ZSocket::new(crate::SocketType::Req).unwrap())
            .is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_pyzmq_style_files() {
        let cert = ZCert::new().unwrap();
        let text = format!(
            "#   ****  Generated on 2024-01-01 00:00:00.000000 by pyzmq  ****\n\
             #   ZeroMQ CURVE **Secret** Certificate\n\nmetadata\n    name = bob\n    \
             team = core   # trailing comment\ncurve\n    public-key = \"{}\"\n    secret-key = \"{}\"\n",
            cert.public_txt(),
            cert.secret_txt()
        );
        let loaded = ZCert::from_zpl(&text, "bob.key_secret").unwrap();
        assert_eq!(loaded, cert);
        assert_eq!(loaded.meta("name"), Some("bob"));
        assert_eq!(loaded.meta("team"), Some("core"));
    }

    #[test]
    fn bad_files_name_file_and_line() {
        let cert = ZCert::new().unwrap();
        let cases = [
            (format!("curve\n    public-key = \"{}\"\n", "abc"), 2),
            (
                format!("curve\n    public-key = \"{}~\"\n", &cert.public_txt()[1..]),
                2,
            ),
            (
                format!("curve\n   public-key = \"{}\"\n", cert.public_txt()),
                2,
            ),
            (
                format!("curve\n    public-key = \"{}\n", cert.public_txt()),
                2,
            ),
            ("metadata\n\tname = x\n".to_string(), 2),
            ("        deep\n".to_string(), 1),
            ("metadata\n    name = \"x\" junk\n".to_string(), 2),
            ("metadata\n    name = x\n".to_string(), 0),
            (
                format!(
                    "curve\n    public-key = \"{}\"\n    secret-key = \"{}\"\n",
                    cert.public_txt(),
                    ZCert::new().unwrap().secret_txt()
                ),
                3,
            ),
        ];
        for (text, line) in cases {
            match ZCert::from_zpl(&text, "/certs/x") {
                Err(Error::Cert {
                    path,
                    line: got,
                    reason,
                }) => {
                    assert_eq!(path, Path::new("/certs/x"));
                    assert_eq!(got, line, "{text:?}: {reason}");
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
        let missing = ZCert::load("/no/such/cert").unwrap_err();
        assert!(matches!(missing, Error::Cert { line: 0, .. }));
        assert!(
            missing.to_string().starts_with("/no/such/cert: "),
            "{missing}"
        );
    }

    #[test]
    fn bad_metadata_cannot_be_saved() {
        let dir = temp_dir("badmeta");
        let mut cert = ZCert::new().unwrap();
        cert.set_meta("bad name", "x");
        assert!(matches!(
            cert.save(dir.join("c")),
            Err(Error::InvalidArgument(_))
        ));
        let mut cert = ZCert::new().unwrap();
        cert.set_meta("name", "two\nlines");
        assert!(cert.save(dir.join("c")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// What `from_zpl` accepts, `to_zpl` writes back: bare values with both kinds of quote and
    /// values with a carriage return inside (both were refused on writing before).
    #[test]
    fn every_value_read_from_zpl_is_written_back() {
        let cert = ZCert::new().unwrap();
        let text = format!(
            "metadata\n    both = it's \"quoted\"  # a comment\n    cr = \"a\rb\"\n\
             curve\n    public-key = \"{}\"\n",
            cert.public_txt()
        );
        let read = ZCert::from_zpl(&text, "test").unwrap();
        assert_eq!(read.meta("both"), Some("it's \"quoted\""));
        assert_eq!(read.meta("cr"), Some("a\rb"));
        let written = read.to_zpl(false).unwrap();
        let again = ZCert::from_zpl(&written, "written").unwrap();
        assert_eq!(again.metadata(), read.metadata(), "{written}");
        // What no ZPL line can hold is still refused, with a reason.
        let mut odd = ZCert::new().unwrap();
        odd.set_meta("odd", " 'both' \"kinds\" ");
        assert!(matches!(odd.to_zpl(false), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn timestamp_layout() {
        let stamp = timestamp();
        assert_eq!(stamp.len(), 19, "{stamp}");
        assert_eq!(&stamp[4..5], "-");
        assert_eq!(&stamp[13..14], ":");
    }
}
