use std::path::Path;

use super::*;

/// Every seed reads back as the value it was written from (so `Encode` matches `arbitrary`),
/// and is in the committed corpus. `FUZZ_WRITE_SEEDS=1` (re)writes the corpus files.
#[test]
fn seeds_decode_as_written() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let write = std::env::var_os("FUZZ_WRITE_SEEDS").is_some();
    for (target, name, bytes) in seeds::all() {
        let path = corpus.join(target).join(name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        assert!(path.is_file(), "{} is missing", path.display());
    }
    for (name, setup, ops) in seeds::broker_seeds() {
        let bytes = broker_input(&setup, &ops);
        assert_eq!(read_broker_input(&bytes), Some((setup, ops)), "{name}");
    }
    for (name, frames) in seeds::frame_seeds() {
        assert_eq!(read_frames(&frames_input(&frames)), frames, "{name}");
    }
}

#[test]
fn variants_cover_every_value() {
    // Each variant index must come back from its u32, including the last one.
    for count in 1..=11u32 {
        for index in 0..count {
            let mut out = Vec::new();
            variant(index, count, &mut out);
            let value = u32::from_le_bytes(out.try_into().unwrap());
            assert_eq!(
                (u64::from(value) * u64::from(count)) >> 32,
                u64::from(index)
            );
        }
    }
}

/// Prints a `broker_core` input (and the frames a codec target would read):
/// `FUZZ_SHOW=path cargo test --lib show -- --ignored --nocapture`.
#[test]
#[ignore]
fn show() {
    let path = std::env::var_os("FUZZ_SHOW").expect("FUZZ_SHOW=path");
    let data = std::fs::read(path).unwrap();
    match read_broker_input(&data) {
        Some((setup, ops)) => {
            println!("as broker_core input:\n{setup:#?}");
            for op in ops {
                println!("{op:?}");
            }
        }
        None => println!("not a broker_core input"),
    }
    println!("as codec input: {:?}", read_frames(&data));
}
