//! Build script for zmsg-sys.
//!
//! By default (feature `vendored`) it compiles libzmq 4.3.5 from the `zeromq-src` crate against the
//! libsodium that `libsodium-sys-stable` built, both statically, so CURVE is always available.
//!
//! Escape hatches, for targets where building from source is not wanted (iOS, corporate builds):
//! - `ZMQ_LIB_DIR=/path/to/lib` (optionally `ZMQ_INCLUDE_DIR`, `ZMQ_STATIC=1`, `ZMQ_LIB_NAME`) links a
//!   prebuilt libzmq from that directory;
//! - `ZMQ_USE_PKG_CONFIG=1` (or the `vendored` feature turned off) asks pkg-config for `libzmq`.
//!
//! With the `bindgen` feature the bindings are regenerated from the header in use and compared with
//! the shipped ones in `src/`; a drift fails the build (set `ZMSG_SYS_BLESS=1` to overwrite them).

use std::env;
use std::path::PathBuf;

fn main() {
    for var in [
        "ZMQ_LIB_DIR",
        "ZMQ_INCLUDE_DIR",
        "ZMQ_STATIC",
        "ZMQ_LIB_NAME",
        "ZMQ_USE_PKG_CONFIG",
        "ZMSG_SYS_BLESS",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let include_dir = if let Some(lib_dir) = env::var_os("ZMQ_LIB_DIR") {
        link_prebuilt(PathBuf::from(lib_dir))
    } else if env::var_os("ZMQ_USE_PKG_CONFIG").is_some() || !cfg!(feature = "vendored") {
        link_pkg_config()
    } else {
        build_vendored()
    };

    if cfg!(feature = "bindgen") {
        regenerate_bindings(include_dir);
    }
}

/// Links a prebuilt libzmq found in `lib_dir`.
fn link_prebuilt(lib_dir: PathBuf) -> Option<PathBuf> {
    if !lib_dir.is_dir() {
        fail(&format!(
            "ZMQ_LIB_DIR={} is not a directory. Point it at the folder that holds libzmq.a or \
             libzmq.so (or unset it to build libzmq from source).",
            lib_dir.display()
        ));
    }
    let name = env::var("ZMQ_LIB_NAME").unwrap_or_else(|_| "zmq".to_string());
    let kind = if env::var_os("ZMQ_STATIC").is_some() {
        "static"
    } else {
        "dylib"
    };
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib={kind}={name}");
    if kind == "static" {
        // A static libzmq needs its C++ runtime; libsodium is the user's to provide (SODIUM_LIB_DIR).
        link_cxx_runtime();
    }
    println!("cargo:lib={}", lib_dir.display());
    let include = env::var_os("ZMQ_INCLUDE_DIR").map(PathBuf::from);
    if let Some(dir) = &include {
        println!("cargo:include={}", dir.display());
    }
    include
}

/// Links libzmq as pkg-config describes it.
fn link_pkg_config() -> Option<PathBuf> {
    match pkg_config::Config::new()
        .atleast_version("4.3.0")
        .probe("libzmq")
    {
        Ok(lib) => {
            let include = lib.include_paths.first().cloned();
            if let Some(dir) = &include {
                println!("cargo:include={}", dir.display());
            }
            include
        }
        Err(err) => fail(&format!(
            "pkg-config could not find libzmq >= 4.3.0 ({err}). Install libzmq's development \
             package, set ZMQ_LIB_DIR to a prebuilt libzmq, or enable the `vendored` feature to \
             build it from source."
        )),
    }
}

/// Builds libzmq from `zeromq-src` against libsodium from `libsodium-sys-stable`.
#[cfg(feature = "vendored")]
fn build_vendored() -> Option<PathBuf> {
    let sodium_include = env::var_os("DEP_SODIUM_INCLUDE").map(PathBuf::from);
    let sodium_lib = env::var_os("DEP_SODIUM_LIB").map(PathBuf::from);
    let (Some(sodium_include), Some(sodium_lib)) = (sodium_include, sodium_lib) else {
        fail(
            "libsodium's location is unknown: libsodium-sys-stable did not report DEP_SODIUM_INCLUDE \
             and DEP_SODIUM_LIB. This happens when SODIUM_LIB_DIR or SODIUM_USE_PKG_CONFIG points it \
             at a libsodium without headers. Unset those variables to build libsodium from source, \
             or link a prebuilt libzmq with ZMQ_LIB_DIR.",
        )
    };
    if !sodium_include.join("sodium.h").is_file() {
        fail(&format!(
            "libsodium's headers are not in {} (sodium.h is missing). Unset SODIUM_LIB_DIR / \
             SODIUM_USE_PKG_CONFIG to build libsodium from source.",
            sodium_include.display()
        ));
    }
    // libzmq's sources print a few dozen harmless compiler warnings, which cargo replays on every
    // build of a path dependency; silence them unless the user set their own flags.
    if env::var_os("CXXFLAGS").is_none() {
        env::set_var("CXXFLAGS", "-w");
    }
    // Always compiled with the draft API: the stable API is the same, and the draft socket option
    // ZMQ_ZAP_ENFORCE_DOMAIN (a ZAP server that fails closed when its handler is gone) works.
    // The Rust bindings expose the rest of the draft API only with the `draft` feature.
    zeromq_src::Build::new()
        .enable_draft(true)
        .with_libsodium(Some(zeromq_src::LibLocation::new(
            sodium_lib,
            sodium_include,
        )))
        .build();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    Some(out.join("source").join("include"))
}

#[cfg(not(feature = "vendored"))]
fn build_vendored() -> Option<PathBuf> {
    link_pkg_config()
}

/// A prebuilt static libzmq needs its C++ runtime (the vendored build gets it from `cc`).
/// `CXXSTDLIB` / `CXXSTDLIB_STATIC` behave as in the `cc` crate.
fn link_cxx_runtime() {
    println!("cargo:rerun-if-env-changed=CXXSTDLIB");
    let target = env::var("TARGET").unwrap_or_default();
    let lib = env::var("CXXSTDLIB").ok().unwrap_or_else(|| {
        if target.contains("apple") || target.contains("freebsd") {
            "c++".into()
        } else if target.contains("android") {
            "c++_shared".into()
        } else if target.contains("msvc") {
            String::new()
        } else {
            "stdc++".into()
        }
    });
    // CXXSTDLIB_STATIC (or CXXSTDLIB_STATIC_<target>) links it statically, as `cc` does for the vendored build.
    let static_var = format!("CXXSTDLIB_STATIC_{}", target.replace('-', "_"));
    println!("cargo:rerun-if-env-changed=CXXSTDLIB_STATIC");
    println!("cargo:rerun-if-env-changed={static_var}");
    let is_static = env::var(&static_var)
        .or_else(|_| env::var("CXXSTDLIB_STATIC"))
        .is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "no" | "false"));
    if !lib.is_empty() {
        if is_static {
            println!("cargo:rustc-link-lib=static:-bundle={lib}");
        } else {
            println!("cargo:rustc-link-lib={lib}");
        }
    }
}

#[cfg(feature = "bindgen")]
fn regenerate_bindings(include_dir: Option<PathBuf>) {
    let Some(include_dir) = include_dir else {
        fail("the `bindgen` feature needs libzmq's headers: set ZMQ_INCLUDE_DIR");
    };
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut drifted = Vec::new();
    for (file, draft) in [("bindings.rs", false), ("bindings_draft.rs", true)] {
        let mut builder = bindgen::Builder::default()
            .header(include_dir.join("zmq.h").to_string_lossy())
            .clang_arg(format!("-I{}", include_dir.display()))
            .allowlist_function("zmq_.*")
            .allowlist_type("zmq_.*")
            .allowlist_var("ZMQ_.*")
            .allowlist_var("EFSM|ENOCOMPATPROTO|ETERM|EMTHREAD")
            .use_core()
            .blocklist_function("zmq_ppoll")
            .blocklist_type("zmq_fd_t")
            .blocklist_type("sigset_t|__sigset_t")
            .layout_tests(false)
            .derive_default(true)
            .default_macro_constant_type(bindgen::MacroTypeVariation::Signed);
        if draft {
            builder = builder.clang_arg("-DZMQ_BUILD_DRAFT_API=1");
        }
        let generated = builder
            .generate()
            .unwrap_or_else(|err| fail(&format!("bindgen failed: {err}")))
            .to_string();
        let fresh = out.join(file);
        std::fs::write(&fresh, &generated).expect("write generated bindings");
        let shipped = manifest.join("src").join(file);
        let current = std::fs::read_to_string(&shipped).unwrap_or_default();
        if current != generated {
            if env::var_os("ZMSG_SYS_BLESS").is_some() {
                std::fs::write(&shipped, &generated).expect("write shipped bindings");
            } else {
                drifted.push(format!(
                    "{} (fresh copy: {})",
                    shipped.display(),
                    fresh.display()
                ));
            }
        }
    }
    if !drifted.is_empty() {
        fail(&format!(
            "the shipped bindings drifted from the header: {}. Review the fresh copies and rerun \
             with ZMSG_SYS_BLESS=1 to update them.",
            drifted.join(", ")
        ));
    }
}

#[cfg(not(feature = "bindgen"))]
fn regenerate_bindings(_include_dir: Option<PathBuf>) {}

/// Stops the build with a readable message instead of a compiler error further down.
fn fail(message: &str) -> ! {
    eprintln!("\nzmsg-sys: {message}\n");
    println!("cargo:warning=zmsg-sys: {message}");
    std::process::exit(1);
}
