"""The installation's master key as a KMS key: when the storage block names one (`master_key_kms_id`, or
LIFECYCLE_MASTER_KEY_KMS_ID), every data key of the backups is wrapped by KMS Encrypt and unwrapped by KMS
Decrypt, on the storage's own endpoint and credentials, instead of by the key file
(lifecycle_config/masterkey.py). The key never leaves KMS: its escrow is KMS's own (its key policy, its
deletion waiting period), so `lifecycle keys export` has nothing to write.

The wrapped key is bound to its key id and owner (KMS encryption context): a wrapped key copied onto another
key object does not unwrap. A KMS that cannot be reached is a condition of the world (one line, exit 1); a
key id KMS does not know, or may not be used, is the configuration's mistake (one line naming where it is
set).
"""

from __future__ import annotations

from lifecycle_config import Misconfigured
from lifecycle_config.conditions import Unavailable, is_world_condition

VARIABLE = "LIFECYCLE_MASTER_KEY_KMS_ID"
PREFIX = "kms:"  # a key object's `master` when a KMS key wrapped it: kms:<key id as configured>


class KmsMaster:
    """Wrap and unwrap data keys with one KMS key."""

    def __init__(self, client, key_id: str, endpoint: str | None):
        self.client, self.key_id, self.endpoint = client, key_id, endpoint or "AWS"

    @property
    def name(self) -> str:
        return PREFIX + self.key_id

    def wrap(self, data_key: bytes, context: dict[str, str]) -> bytes:
        return self._call("Encrypt", lambda: self.client.encrypt(KeyId=self.key_id, Plaintext=data_key,
                                                                  EncryptionContext=context)["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, context: dict[str, str], key_id: str) -> bytes:
        return self._call("Decrypt", lambda: self.client.decrypt(CiphertextBlob=wrapped, EncryptionContext=context,
                                                                  KeyId=key_id)["Plaintext"], key_id)

    def check(self) -> str:
        """The key's ARN, when KMS knows it and it is enabled; else the one-line error."""
        described = self._call("DescribeKey", lambda: self.client.describe_key(KeyId=self.key_id)["KeyMetadata"])
        if described.get("KeyState") not in (None, "Enabled"):
            raise Misconfigured(f"the master key's KMS key {self.key_id} is {described['KeyState']}, not Enabled: "
                                f"enable it, or name another ({VARIABLE} or the storage block's master_key_kms_id)")
        return described.get("Arn", self.key_id)

    def _call(self, operation: str, call, key_id: str | None = None):
        key_id = key_id or self.key_id
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - said in one line, as the world's or the configuration's
            code = getattr(error, "response", {}).get("Error", {}).get("Code") if hasattr(error, "response") else None
            if code in ("NotFoundException", "InvalidKeyUsageException", "DisabledException", "KMSInvalidStateException",
                        "AccessDeniedException", "ValidationException", "InvalidCiphertextException",
                        "IncorrectKeyException"):
                message = error.response["Error"].get("Message") or code
                raise Misconfigured(f"the master key's KMS key {key_id} refused {operation} ({code}: {message}): "
                                    f"check {VARIABLE} or the storage block's master_key_kms_id") from None
            if code is not None or is_world_condition(error):
                raise Unavailable(f"the master key's KMS at {self.endpoint} could not {operation} with key {key_id}: "
                                  f"{type(error).__name__}: {' '.join(str(error).split())}") from None
            raise
