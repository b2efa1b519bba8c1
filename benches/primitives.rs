//! Criterion benches for angou's hot paths. Reports land in target/criterion/report/index.html.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Duration;

use angou::aead::{Algorithm, Cipher, Key};
use angou::format::header::PayloadCipher;
use angou::format::{Decryptor, Encryptor};
use angou::pk::{rsa, x25519};
use angou::recipient::{Identity, Recipient};
use angou::secret::FileKey;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const KIB: usize = 1024;

fn aead(c: &mut Criterion) {
    let key = Key::generate().unwrap();
    for alg in Algorithm::ALL {
        let mut g = c.benchmark_group(format!("aead/{alg}"));
        for size in [KIB, 16 * KIB, 64 * KIB, 1024 * KIB] {
            g.throughput(Throughput::Bytes(size as u64));
            let cipher = Cipher::new(alg, &key);
            let mut buf = vec![0x42u8; size];
            g.bench_with_input(BenchmarkId::new("seal", size), &size, |b, _| {
                b.iter(|| black_box(cipher.seal_in_place_detached(b"", &mut buf).unwrap()))
            });
            let mut plain = vec![0x42u8; size];
            let (nonce, tag) = cipher.seal_in_place_detached(b"", &mut plain).unwrap();
            let sealed = plain;
            let mut work = sealed.clone();
            g.bench_with_input(BenchmarkId::new("open", size), &size, |b, _| {
                b.iter(|| {
                    work.copy_from_slice(&sealed);
                    cipher
                        .open_in_place_detached(&nonce, b"", &mut work, &tag)
                        .unwrap();
                })
            });
        }
        g.finish();
    }
}

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

fn rsa_oaep(c: &mut Criterion) {
    let mut g = c.benchmark_group("rsa-oaep-sha256");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for bits in rsa::GENERATE_BITS {
        let key = rsa::PrivateKey::generate(bits).unwrap();
        let public = key.public_key();
        let file_key = [7u8; 16];
        let sealed = public.encrypt(b"label", &file_key).unwrap();
        g.bench_function(BenchmarkId::new("wrap", bits), |b| {
            b.iter(|| black_box(public.encrypt(b"label", &file_key).unwrap()))
        });
        g.bench_function(BenchmarkId::new("unwrap", bits), |b| {
            b.iter(|| black_box(key.decrypt(b"label", &sealed).unwrap()))
        });
    }
    g.bench_function(BenchmarkId::new("generate", 2048), |b| {
        b.iter(|| black_box(rsa::PrivateKey::generate(2048).unwrap()))
    });
    g.finish();
}

fn stream(c: &mut Criterion) {
    const LEN: usize = 64 * 1024 * KIB;
    let mut g = c.benchmark_group("stream-64MiB");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
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

criterion_group!(benches, aead, x25519, rsa_oaep, stream);
criterion_main!(benches);
