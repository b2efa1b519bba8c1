//! Criterion benches for angou's hot paths. Reports land in target/criterion/report/index.html.
//!
//! Sample sizes and measurement times are kept small so that a full `cargo bench` finishes in
//! about three minutes on the 2-core CI machine; for steadier figures raise them on the command
//! line, e.g. `cargo bench -- --measurement-time 5 --warm-up-time 2`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Duration;

use angou::Backend;
use angou::aead::{Algorithm, Cipher, Key};
use angou::format::header::PayloadCipher;
use angou::format::{Decryptor, Encryptor};
use angou::pk::{mlkem768x25519, rsa, x25519};
use angou::recipient::{Identity, Recipient};
use angou::secret::FileKey;
use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

const KIB: usize = 1024;
/// AEAD message sizes, in bytes.
const AEAD_SIZES: [usize; 4] = [KIB, 16 * KIB, 64 * KIB, 1024 * KIB];
/// Ciphertexts held in memory per timed batch of opens: bounds memory at 16 MiB per size.
const OPEN_BATCH_BYTES: usize = 16 * 1024 * KIB;

/// Seal and open through `Cipher`'s detached in-place calls: the path the file format's
/// STREAM and every one-shot seal end up in. Each algorithm gets its own fresh key. Groups are
/// `aead/<algorithm>` on RustCrypto and `aead/<algorithm>/aws-lc` in builds with `--features
/// aws-lc`, so `cargo bench --features aws-lc` plots both implementations.
fn aead(c: &mut Criterion) {
    for (alg, backend) in Algorithm::ALL
        .into_iter()
        .flat_map(|a| Backend::available().iter().map(move |b| (a, *b)))
        .filter(|(a, b)| b.supports_aead(*a))
    {
        let key = Key::generate().unwrap();
        let cipher = Cipher::with_backend(alg, &key, backend).unwrap();
        let name = match backend {
            Backend::RustCrypto => format!("aead/{alg}"),
            other => format!("aead/{alg}/{other}"),
        };
        let mut g = c.benchmark_group(name);
        for size in AEAD_SIZES {
            g.throughput(Throughput::Bytes(size as u64));
            // Sealing over the previous ciphertext costs the same as sealing fresh plaintext,
            // so the buffer is not reset between iterations (no copy in the timing).
            let mut buf = vec![0x42u8; size];
            g.bench_with_input(BenchmarkId::new("seal", size), &size, |b, _| {
                b.iter(|| black_box(cipher.seal_in_place_detached(b"", &mut buf).unwrap()))
            });
            let mut sealed = vec![0x42u8; size];
            let (nonce, tag) = cipher.seal_in_place_detached(b"", &mut sealed).unwrap();
            // A successful open turns the buffer into plaintext, so every iteration needs a
            // fresh copy of the ciphertext; batching keeps that copy out of the timing.
            let batch = (OPEN_BATCH_BYTES / size).max(1) as u64;
            g.bench_with_input(BenchmarkId::new("open", size), &size, |b, _| {
                b.iter_batched_ref(
                    || sealed.clone(),
                    |work| {
                        cipher
                            .open_in_place_detached(&nonce, b"", work, &tag)
                            .unwrap()
                    },
                    BatchSize::NumIterations(batch),
                )
            });
        }
        g.finish();
    }
}

/// age-style X25519: a fresh identity (secret and public key), and wrap / unwrap of a
/// 16-byte file key (one ephemeral key, two scalar multiplications, HKDF and a seal).
fn x25519(c: &mut Criterion) {
    let mut g = c.benchmark_group("x25519");
    let id = x25519::SecretKey::generate().unwrap();
    let recipient = id.public_key();
    let file_key = FileKey::generate().unwrap();
    let wrapped = recipient.wrap(&file_key).unwrap();
    g.bench_function("generate", |b| {
        b.iter(|| black_box(x25519::SecretKey::generate().unwrap().public_key()))
    });
    g.bench_function("wrap", |b| {
        b.iter(|| black_box(recipient.wrap(&file_key).unwrap()))
    });
    g.bench_function("unwrap", |b| {
        b.iter(|| black_box(id.unwrap(&wrapped).unwrap()))
    });
    g.finish();
}

/// The post-quantum hybrid (ML-KEM-768 + X25519, age 1.3's `mlkem768x25519`): generating an
/// identity (seed expansion and both key pairs), wrapping (HPKE SealBase: ML-KEM-768
/// encapsulation, an X25519 exchange, SHA3-256, HKDF, ChaCha20-Poly1305) and unwrapping.
fn mlkem768x25519(c: &mut Criterion) {
    let mut g = c.benchmark_group("mlkem768x25519");
    let id = mlkem768x25519::SecretKey::generate().unwrap();
    let recipient = id.public_key();
    let file_key = FileKey::generate().unwrap();
    let wrapped = recipient.wrap(&file_key).unwrap();
    g.bench_function("generate", |b| {
        b.iter(|| black_box(mlkem768x25519::SecretKey::generate().unwrap().public_key()))
    });
    g.bench_function("wrap", |b| {
        b.iter(|| black_box(recipient.wrap(&file_key).unwrap()))
    });
    g.bench_function("unwrap", |b| {
        b.iter(|| black_box(id.unwrap(&wrapped).unwrap()))
    });
    g.finish();
}

/// RSA-OAEP-SHA-256 encryption and (blinded) decryption of a 16-byte file key. Each key is
/// generated once, outside the timing; key generation itself is not benched (a random prime
/// search: seconds at 4096 bits, and too variable for Criterion's sample counts).
fn rsa_oaep(c: &mut Criterion) {
    let mut g = c.benchmark_group("rsa-oaep-sha256");
    // Flat sampling: milliseconds per decryption would otherwise need ~55 iterations of
    // linearly growing samples.
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(2));
    for bits in rsa::GENERATE_BITS {
        let key = rsa::PrivateKey::generate(bits).unwrap();
        let public = key.public_key();
        let file_key = FileKey::generate().unwrap();
        for &backend in Backend::available() {
            let suffix = match backend {
                Backend::RustCrypto => String::new(),
                other => format!("-{other}"),
            };
            let fk = file_key.expose_secret();
            let sealed = public.encrypt_with(backend, b"label", fk).unwrap();
            g.bench_function(BenchmarkId::new(format!("wrap{suffix}"), bits), |b| {
                b.iter(|| black_box(public.encrypt_with(backend, b"label", fk).unwrap()))
            });
            g.bench_function(BenchmarkId::new(format!("unwrap{suffix}"), bits), |b| {
                b.iter(|| black_box(key.decrypt_with(backend, b"label", &sealed).unwrap()))
            });
        }
    }
    g.finish();
}

/// A whole age-format file in memory: header, X25519 stanza and the chunked payload.
fn stream(c: &mut Criterion) {
    const LEN: usize = 64 * 1024 * KIB;
    let mut g = c.benchmark_group("stream-64MiB");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Bytes(LEN as u64));
    let id = x25519::SecretKey::generate().unwrap();
    let recipient = id.public_key();
    let plain = vec![0x5au8; LEN];
    for cipher in [PayloadCipher::ChaCha20Poly1305, PayloadCipher::Aes256Gcm] {
        let encrypt = || {
            let mut out = Vec::with_capacity(LEN + LEN / 1000 + 4096);
            let mut w = Encryptor::with_recipients([&recipient as &dyn Recipient])
                .unwrap()
                .with_cipher(cipher)
                .wrap_output(&mut out)
                .unwrap();
            w.write_all(&plain).unwrap();
            w.finish().unwrap();
            out
        };
        let file = encrypt();
        g.bench_function(BenchmarkId::new("encrypt", cipher.name()), |b| {
            b.iter(|| black_box(encrypt()))
        });
        let mut out = Vec::with_capacity(LEN);
        g.bench_function(BenchmarkId::new("decrypt", cipher.name()), |b| {
            b.iter(|| {
                out.clear();
                let mut r = Decryptor::new(&file[..])
                    .unwrap()
                    .decrypt([&id as &dyn Identity])
                    .unwrap();
                r.read_to_end(&mut out).unwrap();
                black_box(out.len())
            })
        });
    }
    g.finish();
}

/// RSA-2048 key generation: a random prime search, so the spread is wide; 10 flat samples.
fn rsa_generate(c: &mut Criterion) {
    let mut g = c.benchmark_group("rsa-generate");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    g.bench_function(BenchmarkId::new("generate", 2048), |b| {
        b.iter(|| black_box(rsa::PrivateKey::generate(2048).unwrap()))
    });
    g.finish();
}

/// The local KMS end to end: each call locks the store, appends an audit entry and commits
/// atomically (fsync), which dominates the cost.
fn kms(c: &mut Criterion) {
    use angou::kms::{Clock, DataKeySize, EncryptionContext, KeySpec, Kms};
    let dir = tempfile::tempdir().unwrap();
    let k = Kms::open(dir.path(), Clock::System);
    let id = k
        .create_key("bench", KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    let mut ctx = EncryptionContext::new();
    ctx.insert("bench", "kms");
    let dk = k.generate_data_key(&id, DataKeySize::Aes256, &ctx).unwrap();
    let mut g = c.benchmark_group("kms");
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    g.bench_function("generate-data-key", |b| {
        b.iter(|| black_box(k.generate_data_key(&id, DataKeySize::Aes256, &ctx).unwrap()))
    });
    g.bench_function("decrypt", |b| {
        b.iter(|| black_box(k.decrypt(&dk.ciphertext_blob, &ctx, None).unwrap()))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .nresamples(20_000)
}

criterion_group! {
    name = benches;
    config = config();
    targets = aead, x25519, mlkem768x25519, rsa_oaep, rsa_generate, stream, kms
}
criterion_main!(benches);
